"""Export and erase one person's data (GDPR articles 15 and 17, PIPL articles 45 and 47). Admins only.

A person is a customer (with all its contacts) or a single contact, named by id or by email address.
Every enabled component declares where it keeps personal data (``trellis_personal_data``); export
gathers the declared rows of all of them plus the audit entries, outbox events and notifications of those
rows into one JSON-ready document. Erasure replaces the declared columns with a tombstone, scrubs the same
trail rows, keeps every amount, count and id, and records that it happened — who, when, why — in an audit
entry and a ``<customer|contact>.erased`` event that hold no personal data. A second erasure of the same
person changes nothing and records nothing new. docs/privacy.md says what is and is not erased.
"""
from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Iterable, Mapping

from marshmallow import Schema, fields, validate
from sqlalchemy import Text, func, inspect as sa_inspect, select

from core import db, queue, runtime
from core.db import utcnow
from core.errors import NotFound, ValidationFailed
from core.models import AuditEntry, Contact, Customer, CustomerKind, ErasureJob, Notification, OutboxEvent, Role, User
from core.privacy import TOMBSTONE, Person, PersonalData, erased_value, scrub
from core.request_context import current_request_id, request_id_var
from core.schemas import StrictSchema
from core.services import audit, common
from core.services.permissions import require_role

MAX_REASON = 500
CHUNK = 500


class ErasureRequest(StrictSchema):
    person = fields.String(required=True, validate=validate.Length(min=1, max=254),
                           metadata={"description": "A customer id, a contact id or an email address."})
    reason = fields.String(required=True, validate=validate.Length(min=1, max=MAX_REASON),
                           metadata={"description": "Why: the request and its date. Names found in it are erased."})


def erase_request(actor: Any, data: Any) -> dict[str, Any]:
    """:func:`erase` with a transport's body ``{"person", "reason"}`` validated first."""
    require_role(actor, Role.ADMIN.value)
    values = common.validate(ErasureRequest, data)
    return erase(actor, values["person"], reason=values["reason"])


# --- finding the person ------------------------------------------------------------------------------

def find(actor: Any, query: str) -> Person:
    """The person ``query`` names: a customer id, a contact id, or an email address found on a contact or
    on any declared email column. A contact of a ``person`` customer stands for that customer."""
    require_role(actor, Role.ADMIN.value)
    text = (query or "").strip()
    if not text:
        raise ValidationFailed(fields={"person": ["Give a customer id, a contact id or an email address."]})
    sess = db.session()
    try:
        pid = uuid.UUID(text)
    except ValueError:
        pid = None
    if pid is not None:
        if (customer := sess.get(Customer, pid)) is not None:
            return _customer_person(customer)
        if (contact := sess.get(Contact, pid)) is not None:
            return _contact_person(contact)
        raise NotFound("No customer or contact with this id.")
    if "@" not in text:
        raise ValidationFailed(fields={"person": ["Neither an id nor an email address."]})
    email = text.lower()
    found: dict[tuple[str, uuid.UUID], Person] = {}
    for contact in sess.scalars(select(Contact).where(func.lower(Contact.email) == email)):
        person = _contact_person(contact)
        found[(person.kind, person.id)] = person
    for _owner, item in runtime.current().personal_data:
        if item.email is None or item.model is Contact:
            continue
        columns = item.model.__table__.c
        for customer_id in sess.scalars(select(columns[item.customer]).where(func.lower(columns[item.email]) == email)
                                        .distinct()):
            customer = sess.get(Customer, customer_id)
            if customer is not None:
                found.setdefault(("customer", customer.id), _customer_person(customer))
    if not found:
        raise NotFound("Nobody has this email address (or it was erased).")
    if len(found) > 1:
        ids = ", ".join(f"{kind} {pid}" for kind, pid in sorted(found, key=str))
        raise ValidationFailed(fields={"person": [f"{len(found)} people have this email address; name one by id: {ids}."]})
    return next(iter(found.values()))


def _customer_person(customer: Customer) -> Person:
    contact_ids = db.session().scalars(select(Contact.id).where(Contact.customer_id == customer.id)).all()
    return Person("customer", customer.id, frozenset([customer.id]), frozenset(contact_ids))


def _contact_person(contact: Contact) -> Person:
    customer = db.session().get(Customer, contact.customer_id)
    if customer is not None and customer.kind == CustomerKind.PERSON.value:
        return _customer_person(customer)
    return Person("contact", contact.id, frozenset(), frozenset([contact.id]))


# --- gathering ---------------------------------------------------------------------------------------

def _gather(person: Person) -> list[tuple[str, PersonalData, list[Any]]]:
    sess = db.session()
    out = []
    for owner, item in runtime.current().personal_data:
        pk = list(item.model.__table__.primary_key.columns)
        rows = sess.scalars(select(item.model).where(item.rows(person)).order_by(*pk)).all()
        out.append((owner, item, list(rows)))
    return out


def _record_ids(found: Iterable[tuple[str, PersonalData, list[Any]]], person: Person) -> set[uuid.UUID]:
    ids = {person.id, *person.customer_ids, *person.contact_ids}
    for _owner, _item, rows in found:
        ids.update(row.id for row in rows if isinstance(getattr(row, "id", None), uuid.UUID))
    return ids


def _trail(model: Any, ids: set[uuid.UUID]) -> list[Any]:
    """Audit entries, events or notifications about any of ``ids``, oldest first."""
    sess = db.session()
    order = model.created_at if model is Notification else model.at
    rows: list[Any] = []
    id_list = sorted(ids, key=str)
    for start in range(0, len(id_list), CHUNK):
        rows += sess.scalars(select(model).where(model.record_id.in_(id_list[start:start + CHUNK]))).all()
    return sorted(rows, key=lambda r: (getattr(r, order.key), str(r.id)))


def as_dict(row: Any) -> dict[str, Any]:
    """A row's columns as JSON values."""
    return {attr.key: audit.jsonable(getattr(row, attr.key)) for attr in sa_inspect(type(row)).column_attrs}


# --- export ------------------------------------------------------------------------------------------

def export(actor: Any, query: str) -> dict[str, Any]:
    """Everything the enabled components hold about a person, as one JSON-ready document. The export
    itself is recorded in the audit trail (``<kind>.exported``, no event)."""
    person = find(actor, query)
    found = _gather(person)
    ids = _record_ids(found, person)
    components: dict[str, dict[str, list]] = {}
    for owner, item, rows in found:
        components.setdefault(owner, {})[item.table] = [as_dict(row) for row in rows]
    document = {
        "person": {"kind": person.kind, "id": str(person.id),
                   "customer_ids": sorted(map(str, person.customer_ids)),
                   "contact_ids": sorted(map(str, person.contact_ids))},
        "exported_at": utcnow().isoformat(),
        "exported_by": str(actor.id),
        "components": components,
        "audit_trail": [as_dict(row) for row in _trail(AuditEntry, ids)],
        "events": [as_dict(row) for row in _trail(OutboxEvent, ids)],
        "notifications": [as_dict(row) for row in _trail(Notification, ids)],
    }
    db.session().add(AuditEntry(actor_id=actor.id, action=f"{_record_type(person)}.exported",
                                record_type=_record_type(person), record_id=person.id, changes={},
                                request_id=current_request_id()))
    db.session().flush()
    return document


def _record_type(person: Person) -> str:
    return Customer.__table__.name if person.kind == "customer" else Contact.__table__.name


# --- erasure -----------------------------------------------------------------------------------------

def erase(actor: Any, query: str, *, reason: str) -> dict[str, Any]:
    """Replace the person's personal data with a tombstone everywhere and record the erasure.

    Returns ``{"person", "erased": {component: {table: fields changed}}, "trail": {table: rows scrubbed},
    "erasure": {"at", "by", "reason"}, "already_erased": bool}``."""
    require_role(actor, Role.ADMIN.value)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(fields={"reason": ["Say why the data is erased (the request, its date)."]})
    if len(reason) > MAX_REASON:
        raise ValidationFailed(fields={"reason": [f"At most {MAX_REASON} characters."]})
    person = find(actor, query)
    sess = db.session()
    found = _gather(person)
    ids = _record_ids(found, person)
    keys: dict[str, set[str]] = {}
    for _owner, item, _rows in found:
        keys.setdefault(item.table, set()).update(item.fields)
    needles = _needles(found)

    erased: dict[str, dict[str, int]] = {}
    for owner, item, rows in found:
        columns = item.model.__table__.c
        changed = 0
        for row in rows:
            for name in item.fields:
                attr = sa_inspect(item.model).get_property_by_column(columns[name]).key
                old = getattr(row, attr)
                new = erased_value(columns[name], old, row_id=getattr(row, "id", None) or "")
                if new != old:
                    setattr(row, attr, new)
                    changed += 1
            if item.retire and row.deleted_at is None:
                row.deleted_at = utcnow()
                changed += 1
        if changed:
            erased.setdefault(owner, {})[item.table] = changed
    sess.flush()

    trail: dict[str, int] = {}
    for model, columns in ((AuditEntry, ("changes",)), (OutboxEvent, ("payload",)),
                           (Notification, ("title", "body", "data"))):
        count = 0
        for row in _trail(model, ids):
            row_keys = frozenset(keys.get(row.record_type or "", ()))
            dirty = False
            for name in columns:
                old = getattr(row, name)
                new = scrub(old, keys=row_keys, needles=needles)
                if new != old:
                    setattr(row, name, new)
                    dirty = True
            count += dirty
        if count:
            trail[model.__table__.name] = count
    sess.flush()

    record = sess.get(Customer if person.kind == "customer" else Contact, person.id)
    previous = _last_erasure(person)
    already = not erased and not trail and previous is not None
    if already:
        entry = previous
    else:
        safe_reason = scrub(reason, needles=needles)
        event = audit.record_change(actor, "erased", record, {"reason": (None, safe_reason)},
                                    payload={"erased": erased, "trail": trail})
        entry = _last_erasure(person)
        assert entry is not None and event is not None
    return {
        "person": {"kind": person.kind, "id": str(person.id)},
        "erased": erased,
        "trail": trail,
        "already_erased": already,
        "erasure": erasure_dict(entry),
    }


def _needles(found: Iterable[tuple[str, PersonalData, list[Any]]]) -> tuple[str, ...]:
    """The person's identifying values as they appear in JSON: the short texts (names, emails, phones,
    numbers; long free text is found by its field name instead) and dates."""
    values: set[str] = set()
    for _owner, item, rows in found:
        columns = item.model.__table__.c
        for row in rows:
            for name in item.fields:
                if isinstance(columns[name].type, Text):
                    continue
                value = getattr(row, sa_inspect(item.model).get_property_by_column(columns[name]).key)
                if isinstance(value, (date, datetime)):
                    value = value.isoformat()
                if isinstance(value, str) and len(value.strip()) >= 2 and not value.startswith(TOMBSTONE):
                    values.add(value.strip())
    return tuple(sorted(values, key=len, reverse=True))


def _last_erasure(person: Person) -> AuditEntry | None:
    return db.session().scalars(
        select(AuditEntry).where(AuditEntry.record_id == person.id,
                                 AuditEntry.action == f"{_record_type(person)}.erased")
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())).first()


def erasure_dict(entry: AuditEntry) -> dict[str, Any]:
    reason = (entry.changes or {}).get("reason", [None, ""])
    return {"id": str(entry.id), "at": entry.at.isoformat() if entry.at else None,
            "by": str(entry.actor_id) if entry.actor_id else None, "reason": reason[1] if len(reason) > 1 else ""}


def erasure(actor: Any, entry_id: Any) -> dict[str, Any]:
    """One recorded erasure by its audit entry's id (admins); NotFound for any other id."""
    require_role(actor, Role.ADMIN.value)
    row = db.session().get(AuditEntry, common.parse_uuid(entry_id))
    if row is None or row.action not in (f"{Customer.__table__.name}.erased", f"{Contact.__table__.name}.erased"):
        raise NotFound("No erasure with this id.")
    return erasure_dict(row)


def erasures(actor: Any, query: str) -> list[dict[str, Any]]:
    """Every erasure recorded for a person (found by id: an erased email no longer finds anyone)."""
    person = find(actor, query)
    rows = db.session().scalars(
        select(AuditEntry).where(AuditEntry.record_id == person.id,
                                 AuditEntry.action == f"{_record_type(person)}.erased")
        .order_by(AuditEntry.at, AuditEntry.id)).all()
    return [erasure_dict(row) for row in rows]


class ErasureOut(Schema):
    """One erasure recorded (``GET /privacy/erasures``, ``trellis export privacy_erasures``)."""

    id = fields.String()
    at = fields.String()
    by = fields.String(allow_none=True, metadata={"description": "The admin's user id."})
    reason = fields.String()


class ErasureFilter(StrictSchema):
    """The erasures' list's filter (``GET /privacy/erasures``, ``trellis export privacy_erasures``)."""

    person = fields.String(required=True, metadata={
        "description": "A customer id, a contact id or an email address."})


def filtered_erasures(actor: Any, filters: Mapping[str, Any] | None = None) -> Any:
    """The SELECT of the erasures :func:`erasures` lists (their audit entries; :func:`erasure_views` makes
    the list's items of them), the person a filter (``ErasureFilter``: ``person`` required; a bad one is a
    ValidationFailed naming it, and so is a person not found, which the list answers 404), unordered.
    Admins only. What ``trellis export privacy_erasures`` reads."""
    require_role(actor, Role.ADMIN.value)
    f = common.validate(ErasureFilter, dict(filters or {}))
    try:
        person = find(actor, f["person"])
    except NotFound as exc:
        raise ValidationFailed(fields={"person": [exc.message]}) from None
    return select(AuditEntry).where(AuditEntry.record_id == person.id,
                                    AuditEntry.action == f"{_record_type(person)}.erased")


def erasure_views(actor: Any, entries: Iterable[AuditEntry]) -> list[dict[str, Any]]:
    """Erasures' audit entries as :func:`erasures` lists them."""
    return [erasure_dict(row) for row in entries]


#: the orderings of :func:`erasure_page` (``sort``)
ERASURE_SORTABLE = {"at": AuditEntry.at}


def erasure_page(actor: Any, query: str, page: Any, sort: str | None = None) -> common.Page:
    """One page (keyset or offset) of the erasures recorded for a person, oldest first (``sort="-at"``:
    newest first), as :func:`erasures` gives them."""
    person = find(actor, query)
    stmt = select(AuditEntry).where(AuditEntry.record_id == person.id,
                                    AuditEntry.action == f"{_record_type(person)}.erased")
    found = common.paginate(stmt, page, common.parse_sort(sort, ERASURE_SORTABLE, "at"), AuditEntry.id)
    found.items = [erasure_dict(row) for row in found.items]
    return found


# --- erasure as a background job (issue #18) ------------------------------------------------------------

#: the statuses of a queued erasure the worker has still to finish
WAITING = ("queued", "running")


def queue_erasure(actor: Any, data: Any) -> ErasureJob:
    """Check an erasure request as :func:`erase_request` does (admins; the body; the person must exist)
    and record it ``queued`` for the worker, its job queued in this unit of work. The person is stored by
    id — an email address in the request is not kept — and the reason only until the job ends (``done``:
    the erasure's record keeps it, scrubbed; ``failed``: it is dropped, and the person's values are erased
    from the error ``message``). The worker (:data:`ERASE_TASK`) erases in one
    transaction that also marks the job ``done`` (so a retry after it changes nothing), or records
    ``failed`` with the error once every attempt failed."""
    require_role(actor, Role.ADMIN.value)
    values = common.validate(ErasureRequest, data)
    reason = values["reason"].strip()
    if not reason:
        raise ValidationFailed(fields={"reason": ["Say why the data is erased (the request, its date)."]})
    person = find(actor, values["person"])
    job = ErasureJob(person_kind=person.kind, person_id=person.id, reason=reason, status="queued", message="",
                     result={}, actor_id=actor.id, request_id=current_request_id())
    db.session().add(job)
    db.session().flush()
    queue.enqueue(ERASE_TASK, job.id)
    return job


def erasure_job(actor: Any, job_id: Any) -> ErasureJob:
    """A queued erasure by id (admins): its status, and once done what was erased and the erasure."""
    require_role(actor, Role.ADMIN.value)
    job = db.session().get(ErasureJob, common.parse_uuid(job_id))
    if job is None:
        raise NotFound("No erasure request with this id.")
    return job


def _run_erasure(rt: Any, job_id: str, *, final: bool) -> str:
    """The worker's body of :data:`ERASE_TASK`: mark the job ``running`` (committed), then erase and mark
    it ``done`` in one transaction, as the admin who asked and under their request's id."""
    database = rt.database
    with database.unit_of_work():
        job = db.session().get(ErasureJob, common.parse_uuid(job_id))
        if job is None or job.status not in WAITING:
            return "nothing to do"
        job.status, job.started_at, job.finished_at = "running", utcnow(), None
        the_id, request_id = job.id, job.request_id
    queued_by = request_id_var.set(request_id) if request_id else None
    try:
        with database.unit_of_work() as sess:
            job = sess.get(ErasureJob, the_id)
            actor = sess.get(User, job.actor_id) if job.actor_id else None
            report = erase(actor, str(job.person_id), reason=job.reason)
            job.status, job.finished_at, job.message = "done", utcnow(), ""
            job.reason = ""   # the erasure's own record keeps it, the person's names erased (erasure_id)
            job.erasure_id = uuid.UUID(report["erasure"]["id"])
            job.result = {"erased": report["erased"], "trail": report["trail"],
                          "already_erased": report["already_erased"]}
            summary = "already erased" if report["already_erased"] else "erased"
    except Exception as exc:
        with database.unit_of_work() as sess:
            failed = sess.get(ErasureJob, the_id)
            if failed is not None:
                failed.status = "failed" if final else "queued"
                failed.finished_at = utcnow() if final else None
                failed.message = (queue.describe_error(exc, None) + ("" if final else " (it will be tried again)"))[:2000]
                if final:   # nothing of the person waits in a request that will never run
                    failed.reason = ""
                    failed.message = _without_person(sess, failed, failed.message)
        raise
    finally:
        if queued_by is not None:
            request_id_var.reset(queued_by)
    return summary


def _without_person(sess: Any, job: ErasureJob, message: str) -> str:
    """``message`` (an error's text) with the person's identifying values erased, as the erasure scrubs
    its reason; when they cannot be read, only the error's kind is kept."""
    try:
        with sess.begin_nested():
            actor = sess.get(User, job.actor_id) if job.actor_id else None
            needles = _needles(_gather(find(actor, str(job.person_id))))
    except Exception:
        return message.split(":", 1)[0]
    return message if scrub(message, needles=needles) == message else f"{message.split(':', 1)[0]}: {TOMBSTONE}"


def _waiting(rt: Any) -> list[str]:
    with rt.database.unit_of_work():
        return [str(i) for i in db.session().scalars(
            select(ErasureJob.id).where(ErasureJob.status.in_(WAITING)).order_by(ErasureJob.created_at))]


#: A requested erasure, run by the worker.
ERASE_TASK = queue.Task("trellis.privacy.erase", _run_erasure, _waiting)


__all__ = ["ERASE_TASK", "ERASURE_SORTABLE", "ErasureFilter", "ErasureOut", "ErasureRequest", "erasure_views", "filtered_erasures", "erase", "erase_request", "erasure_job", "erasure_page",
           "erasures", "export", "find", "queue_erasure"]
