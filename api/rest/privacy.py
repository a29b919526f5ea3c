"""REST for privacy requests under ``/api/v1/privacy`` (admins only): export everything held about one
person, erase it, list the erasures recorded. Thin: ``core.services.privacy`` finds the person, checks
the role, gathers, erases and records."""
from __future__ import annotations

from flask import jsonify
from flask_login import current_user
from marshmallow import Schema, fields

from api.rest.crud import Blueprint, KnownArgs, body_doc, json_body
from core.services import privacy
from core.services.privacy import ErasureOut


class PersonQuery(KnownArgs):
    passes = ()

    person = fields.String(required=True, metadata={"description": "A customer id, a contact id or an email address."})


class ErasureReportOut(Schema):
    person = fields.Dict(metadata={"description": "{kind: customer|contact, id}"})
    erased = fields.Dict(metadata={"description": "{component: {table: fields erased}}"})
    trail = fields.Dict(metadata={"description": "{audit_entry|outbox_event|notification: rows scrubbed}"})
    already_erased = fields.Boolean(metadata={"description": "Nothing was left to erase; the earlier erasure is shown."})
    erasure = fields.Nested(ErasureOut)


class ErasureJobOut(Schema):
    class Meta:
        ordered = True

    id = fields.UUID()
    status = fields.String(metadata={"description": (
        "queued (waiting for the worker; after a failed attempt, message says what failed), running, done, or "
        "failed (message says why) once every attempt failed.")})
    person = fields.Function(lambda job: {"kind": job.person_kind, "id": str(job.person_id)},
                             metadata={"description": "{kind: customer|contact, id}"})
    reason = fields.String(metadata={"description": (
        "Why, while the erasure waits; empty once done or failed (the erasure keeps its reason: "
        "GET /privacy/erasures, erasure_id).")})
    message = fields.String()
    request_id = fields.String(allow_none=True, metadata={"description": (
        "The request's id (X-Request-Id): the erasure's audit entry and event carry it.")})
    erasure_id = fields.UUID(allow_none=True, metadata={"description": (
        "Once done: the erasure recorded (GET /privacy/erasures).")})
    erased = fields.Function(lambda job: (job.result or {}).get("erased"), metadata={
        "description": "Once done: {component: {table: fields erased}}."})
    trail = fields.Function(lambda job: (job.result or {}).get("trail"), metadata={
        "description": "Once done: {audit_entry|outbox_event|notification: rows scrubbed}."})
    already_erased = fields.Function(lambda job: (job.result or {}).get("already_erased"), metadata={
        "description": "Once done: nothing was left to erase."})
    created_at = fields.DateTime()
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)


class EraseArgs(Schema):
    wait = fields.Boolean(load_default=False, metadata={"description": (
        "true: erase within the request and answer 200 with the report; default: queue the erasure for "
        "the worker and answer 202.")})


class ExportOut(Schema):
    person = fields.Dict()
    exported_at = fields.String()
    exported_by = fields.String()
    components = fields.Dict(metadata={"description": "{component: {table: [rows]}} of every enabled component."})
    audit_trail = fields.List(fields.Dict())
    events = fields.List(fields.Dict())
    notifications = fields.List(fields.Dict())


def privacy_blueprints() -> list[Blueprint]:
    blp = Blueprint("privacy", "privacy", url_prefix="/privacy",
                    description="Privacy requests (GDPR, PIPL): export or erase one person's data (admins). "
                                "See docs/privacy.md.")

    @blp.route("/export")
    @blp.arguments(PersonQuery, location="query", as_kwargs=True)
    @blp.response(200, ExportOut)
    def export(person):
        """Everything the core and every enabled plugin hold about a customer or contact, as one document"""
        return privacy.export(current_user, person)

    @blp.route("/erase", methods=["POST"])
    @blp.arguments(EraseArgs, location="query", as_kwargs=True)
    @blp.doc(**body_doc(privacy.ErasureRequest))
    @blp.response(202, ErasureJobOut)
    @blp.alt_response(200, schema=ErasureReportOut, description="`wait=true`: erased within the request.")
    def erase(wait):
        """Replace the person's personal data with a tombstone everywhere; amounts and counts are kept.
        Queued for the worker (202; follow `GET /privacy/erase/{id}`), or within the request with
        `wait=true` (200)"""
        if wait:
            return jsonify(ErasureReportOut().dump(privacy.erase_request(current_user, json_body())))
        return privacy.queue_erasure(current_user, json_body())

    @blp.route("/erase/<uuid:job_id>")
    @blp.response(200, ErasureJobOut)
    def erase_status(job_id):
        """A queued erasure: queued, running, done (with what was erased) or failed with the error"""
        return privacy.erasure_job(current_user, job_id)

    @blp.route("/erasures")
    @blp.arguments(PersonQuery, location="query", as_kwargs=True)
    @blp.response(200, ErasureOut(many=True))
    def erasures(person):
        """The erasures recorded for a person (by id): who, when and why"""
        return privacy.erasures(current_user, person)

    return [blp]
