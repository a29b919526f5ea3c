"""Recording changes: one call writes the audit row and the domain event of a change, in the caller's
transaction, so a rolled-back change leaves neither behind."""
from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Mapping

from marshmallow import fields, validate
from sqlalchemy import false, select

from core import db
from core.models import Role
from core.models.audit import AuditEntry, OutboxEvent
from core.request_context import current_request_id
from core.schemas import StrictSchema
from core.services import common
from core.services.permissions import require_actor, require_role


_PLAIN = frozenset({str, int, float, bool, type(None)})


def jsonable(value: Any) -> Any:
    """A JSON-safe copy of a field value (UUIDs, datetimes and decimals as strings)."""
    if type(value) in _PLAIN:  # most values: the bulk path converts hundreds of thousands of them
        return value
    if isinstance(value, (uuid.UUID, Decimal)):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return value


def record_type_of(record: Any) -> str:
    return record.__table__.name


def diff_of(changes: Mapping[str, tuple[Any, Any]] | None) -> dict[str, list]:
    """``{field: (old, new)}`` as the audit entry and the event store it: ``{field: [old, new]}``, JSON-ready."""
    plain = _PLAIN  # most values are plain: skipping the call for them halves a bulk import's conversions
    return {field: [old if type(old) in plain else jsonable(old), new if type(new) in plain else jsonable(new)]
            for field, (old, new) in (changes or {}).items()}


def event_payload(record_id: Any, version: int | None, diff: dict[str, list],
                  payload: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The body of a change's event: the record's id and version, the diff, and what the caller adds."""
    plain = _PLAIN
    extra = {str(k): v if type(v) in plain else jsonable(v) for k, v in payload.items()} if payload else {}
    return {"id": str(record_id), "version": version, "changes": diff, **extra}


def record_change(actor: Any, verb: str, record: Any, changes: Mapping[str, tuple[Any, Any]] | None = None,
                  *, payload: Mapping[str, Any] | None = None) -> OutboxEvent:
    """Write the audit entry and the outbox event ``<record type>.<verb>`` for a change to ``record``.

    ``changes`` maps each changed field to ``(old, new)``; ``payload`` adds to the event's body."""
    rtype = record_type_of(record)
    action = f"{rtype}.{verb}"
    actor_id = getattr(actor, "id", None)
    diff = diff_of(changes)
    sess = db.session()
    request_id = current_request_id()
    sess.add(AuditEntry(actor_id=actor_id, action=action, record_type=rtype, record_id=record.id, changes=diff,
                        request_id=request_id))
    event = OutboxEvent(name=action, record_type=rtype, record_id=record.id, actor_id=actor_id, request_id=request_id,
                        payload=event_payload(record.id, getattr(record, "version", None), diff, payload))
    sess.add(event)
    from core import events

    events.publish(event, actor)
    return event


def created_fields(record: Any, fields: list[str]) -> dict[str, tuple[Any, Any]]:
    """The ``changes`` of a ``created`` audit entry: each of ``fields`` that has a value, as
    ``(None, value)`` — pass it to :func:`record_change` right after creating ``record``."""
    return {f: (None, getattr(record, f)) for f in fields if getattr(record, f, None) not in (None, "", [])}


def visible_entries(actor: Any):
    """The audit entries ``actor`` may read, as a SELECT: every one for an admin, none for anyone else."""
    user = require_actor(actor)
    stmt = select(AuditEntry)
    return stmt if user.role == Role.ADMIN.value else stmt.where(false())


#: the orderings of :func:`entries` (``sort``)
SORTABLE = {"at": AuditEntry.at, "action": AuditEntry.action, "record_type": AuditEntry.record_type}


class AuditFilter(StrictSchema):
    """The filters of the audit trail (``GET /audit``, ``trellis export audit``)."""

    record_type = fields.String()
    record_id = fields.UUID()
    request_id = fields.String(validate=validate.Length(min=1, max=128), metadata={
        "description": "Only the changes made by this request (its X-Request-Id) or job run."})


def _trail(actor: Any, record_type: str | None, record_id: Any, request_id: str | None):
    require_role(actor, Role.ADMIN.value)
    stmt = select(AuditEntry)
    if request_id:
        stmt = stmt.where(AuditEntry.request_id == request_id)
    if record_type:
        stmt = stmt.where(AuditEntry.record_type == record_type)
    if record_id is not None:
        stmt = stmt.where(AuditEntry.record_id == common.parse_uuid(record_id, "record_id"))
    return stmt


def filtered_entries(actor: Any, filters: Mapping[str, Any] | None = None):
    """The SELECT of the audit entries :func:`entries` lists with ``filters`` (``AuditFilter``, checked: a
    bad one is a ValidationFailed naming it), unordered; admins only (anyone else: Forbidden)."""
    require_role(actor, Role.ADMIN.value)
    f = common.validate(AuditFilter, dict(filters or {}))
    return _trail(actor, f.get("record_type"), f.get("record_id"), f.get("request_id"))


def entries(actor: Any, *, record_type: str | None = None, record_id: Any = None, request_id: str | None = None,
            page: common.PageRequest = common.PageRequest(), sort: str | None = None) -> common.Page[AuditEntry]:
    """The audit trail, newest first (``sort``: keys of ``SORTABLE``, "-" for descending); admins only.
    ``request_id``: only the changes made by that request (its ``X-Request-Id``) or job run."""
    return common.paginate(_trail(actor, record_type, record_id, request_id), page,
                           common.parse_sort(sort, SORTABLE, "-at"), AuditEntry.id)


__all__ = ["AuditFilter", "SORTABLE", "created_fields", "entries", "filtered_entries", "jsonable", "record_change", "visible_entries"]
