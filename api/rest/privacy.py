"""REST for privacy requests under ``/api/v1/privacy`` (admins only): export everything held about one
person, erase it, list the erasures recorded. Thin: ``core.services.privacy`` finds the person, checks
the role, gathers, erases and records."""
from __future__ import annotations

from flask_login import current_user
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from api.rest.crud import body_doc, json_body
from core.services import privacy


class PersonQuery(Schema):
    person = fields.String(required=True, metadata={"description": "A customer id, a contact id or an email address."})


class ErasureOut(Schema):
    id = fields.String()
    at = fields.String()
    by = fields.String(allow_none=True, metadata={"description": "The admin's user id."})
    reason = fields.String()


class ErasureReportOut(Schema):
    person = fields.Dict(metadata={"description": "{kind: customer|contact, id}"})
    erased = fields.Dict(metadata={"description": "{component: {table: fields erased}}"})
    trail = fields.Dict(metadata={"description": "{audit_entry|outbox_event|notification: rows scrubbed}"})
    already_erased = fields.Boolean(metadata={"description": "Nothing was left to erase; the earlier erasure is shown."})
    erasure = fields.Nested(ErasureOut)


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
    @blp.doc(**body_doc(privacy.ErasureRequest))
    @blp.response(200, ErasureReportOut)
    def erase():
        """Replace the person's personal data with a tombstone everywhere; amounts and counts are kept"""
        return privacy.erase_request(current_user, json_body())

    @blp.route("/erasures")
    @blp.arguments(PersonQuery, location="query", as_kwargs=True)
    @blp.response(200, ErasureOut(many=True))
    def erasures(person):
        """The erasures recorded for a person (by id): who, when and why"""
        return privacy.erasures(current_user, person)

    return [blp]
