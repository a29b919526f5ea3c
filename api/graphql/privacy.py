"""GraphQL for privacy requests (admins only; the service checks): ``privacyExport`` returns the whole
document, ``queuePersonErasure`` queues an erasure for the worker (followed with ``node(id:)`` as a
``PrivacyErasureJob``), ``erasePerson`` erases within the request and reports, ``privacyErasures`` lists the
erasures recorded."""

import datetime as dt
from typing import Annotated, Optional

import strawberry
from strawberry.scalars import JSON

from api.graphql.inputs import field_names, input_to_dict
from api.graphql.nodes import NodeSource
from api.graphql.ordering import order_by_argument, order_to_service
from api.graphql.pagination import After, Before, First, Last, Slice, page_request
from core import models
from core.services import privacy


def types(registry) -> None:
    @registry.type("PrivacyErasure", node=NodeSource(
        models.AuditEntry, get=lambda actor, rid: _erasure(registry, privacy.erasure(actor, rid))))
    class PrivacyErasure:
        """That an erasure happened: who, when and why (it holds no personal data)."""

        id: strawberry.ID = strawberry.field(description="The audit entry recording it.")
        at: Optional[str] = strawberry.field(description="When (ISO 8601, UTC).")
        by: Optional[strawberry.ID] = strawberry.field(description="The admin who erased.")
        reason: str = strawberry.field(description="Why (names found in it are erased too).")

    @registry.type("PrivacyErasureReport")
    class PrivacyErasureReport:
        """What an erasure changed. Amounts, counts and ids are kept, so aggregates do not move."""

        person: JSON = strawberry.field(description="{kind: customer|contact, id}.")
        erased: JSON = strawberry.field(description="{component: {table: number of fields erased}}.")
        trail: JSON = strawberry.field(description="{audit_entry|outbox_event|notification: rows scrubbed}.")
        already_erased: bool = strawberry.field(description="Nothing was left to erase: the earlier erasure is shown.")
        erasure: registry.ref("PrivacyErasure") = strawberry.field(description="The erasure record.")

    @registry.type("PrivacyErasureJob", node=NodeSource(models.ErasureJob, get=privacy.erasure_job))
    class PrivacyErasureJob:
        """An erasure queued for the worker (`queuePersonErasure`; admins), read by `node(id:)` until it is
        DONE or FAILED. The person is kept by id only, the reason only while it waits."""

        id: strawberry.ID
        status: registry.vocabulary_enum("privacy_erasure_job_status") = strawberry.field(description=(
            "QUEUED (waiting for the worker; after a failed attempt `message` says what failed), RUNNING, "
            "DONE, or FAILED (`message` says why) once every attempt failed."))
        reason: str = strawberry.field(description=(
            "Why, while the erasure waits; empty once done or failed (the erasure keeps its reason)."))
        message: str = strawberry.field(description="What failed; empty when nothing did.")
        request_id: Optional[str] = strawberry.field(description=(
            "The id (X-Request-Id) of the request that queued it: the erasure's audit entry and event carry it."))
        erasure_id: Optional[strawberry.ID] = strawberry.field(description=(
            "Once done: the erasure recorded (a `PrivacyErasure`, read by `node(id:)`)."))
        created_at: dt.datetime = strawberry.field(description="When it was asked for (UTC, ISO 8601).")
        started_at: Optional[dt.datetime] = strawberry.field(description="When the worker started it (UTC).")
        finished_at: Optional[dt.datetime] = strawberry.field(description="When it ended (UTC).")

        @strawberry.field(description="{kind: customer|contact, id}.")
        def person(self) -> JSON:
            return {"kind": self.person_kind, "id": str(self.person_id)}

        @strawberry.field(description="Once done: {component: {table: number of fields erased}}; null before.")
        def erased(self) -> Optional[JSON]:
            return (self.result or {}).get("erased")

        @strawberry.field(description="Once done: {audit_entry|outbox_event|notification: rows scrubbed}; null before.")
        def trail(self) -> Optional[JSON]:
            return (self.result or {}).get("trail")

        @strawberry.field(description="Once done: whether nothing was left to erase; null before.")
        def already_erased(self) -> Optional[bool]:
            return (self.result or {}).get("already_erased")

    @registry.input("PrivacyErasureFilter")
    class PrivacyErasureFilter:
        """Whose erasures to list."""

        person: str = strawberry.field(description="The erased customer or contact id.")


def _erasure(registry, values: dict):
    return registry.module.PrivacyErasure(**values)


def query_fields(registry) -> dict:
    def privacy_export(info: strawberry.Info, person: Annotated[str, strawberry.argument(description="A customer or contact: its id, or an email address.")]) -> JSON:
        return privacy.export(info.context.user, person)

    erasure_order = order_by_argument(registry, "PrivacyErasure", list(privacy.ERASURE_SORTABLE), "at")

    def privacy_erasures(info: strawberry.Info, filter: registry.ref("PrivacyErasureFilter"),
                         first: First = None, after: After = None, last: Last = None, before: Before = None,
                         order_by: erasure_order = None) -> registry.connection("PrivacyErasure"):
        given = input_to_dict(filter)
        with field_names(prefix="filter."):
            page = privacy.erasure_page(info.context.user, given["person"], page_request(first, after, last, before),
                                        sort=order_to_service(order_by))
        page.items = [_erasure(registry, e) for e in page.items]
        return Slice.from_page(page)

    return {
        "privacy_export": strawberry.field(
            resolver=privacy_export,
            description="Everything held about one customer or contact (an id or an email address), across "
                        "the core and every enabled plugin, as one JSON document (admins)."),
        "privacy_erasures": strawberry.field(
            resolver=privacy_erasures, description="The erasures recorded for a person, by id, oldest first (admins)."),
    }


def mutation_fields(registry) -> dict:
    def erase_person(info: strawberry.Info, person: Annotated[str, strawberry.argument(description="A customer or contact: its id, or an email address.")],
                     reason: Annotated[str, strawberry.argument(description="Why (the request you act on); names found in it are erased too.")]) -> registry.ref("PrivacyErasureReport"):
        report = privacy.erase_request(info.context.user, {"person": person, "reason": reason})
        return registry.module.PrivacyErasureReport(
            person=report["person"], erased=report["erased"], trail=report["trail"],
            already_erased=report["already_erased"], erasure=_erasure(registry, report["erasure"]))

    def queue_person_erasure(info: strawberry.Info, person: Annotated[str, strawberry.argument(description="A customer or contact: its id, or an email address.")],
                             reason: Annotated[str, strawberry.argument(description="Why (the request you act on); names found in it are erased too.")]) -> registry.ref("PrivacyErasureJob"):
        return privacy.queue_erasure(info.context.user, {"person": person, "reason": reason})

    return {
        "erase_person": strawberry.mutation(
            resolver=erase_person,
            description="Erase a person's personal data everywhere (GDPR/PIPL erasure; admins), within the "
                        "request, and report what was erased. Idempotent. `queuePersonErasure` leaves it to "
                        "the worker instead."),
        "queue_person_erasure": strawberry.mutation(
            resolver=queue_person_erasure,
            description="Queue the erasure of a person's personal data for the worker (admins), as `POST "
                        "/privacy/erase` does: the person and reason are checked now, the job is returned QUEUED "
                        "and followed with `node(id:)` to DONE (with what was erased) or FAILED."),
    }
