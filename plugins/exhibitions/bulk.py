"""Exhibitions (会展): fast paths for large batches (registration imports, scan uploads, invitations).

A batch collects its rows in the core's :class:`core.services.bulk.BulkRecorder` and writes them with
one multi-row INSERT per table (per :data:`core.services.bulk.CHUNK` rows) instead of one ORM flush
per row. It stays audited: one audit entry per record created (customers, registrations, invitations,
timeline entries; check-ins are not audited one by one), collected with ``BulkRecorder.audit`` so the
core builds the audit rows (this module never touches the audit or outbox tables), and stamped with
the time of the batch. It emits no per-record event: the service writes one summary event per batch
on the edition (``exhibitions_edition.<verb>``, through ``core.services.audit.record_change``), so
webhooks see a batch, not thousands of events. Timeline entries are core ``interaction`` rows written
with ``source="exhibitions"``. The recorder checks no permission: every service that uses it requires
organiser staff first.
"""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Iterable

from core.db import utcnow
from core.models import Interaction
from core.services.bulk import BulkRecorder, BulkRow

#: the fields of a timeline entry recorded in its audit entry
TIMELINE_FIELDS = ("customer_id", "kind", "subject")


def add_created(rec: BulkRecorder, model: type, rows: Iterable[dict[str, Any]], fields: Iterable[str], *,
                at: datetime | None = None) -> list[BulkRow]:
    """Collect ``rows`` of ``model`` (dicts with every column value, an ``id`` each) and, for each, the
    audit entry ``<table>.created`` whose changes are ``{field: (None, value)}`` for ``fields``. Every
    entry is stamped ``at`` (default: now). No event."""
    at = at or utcnow()
    fields = tuple(fields)
    added = []
    for row in rows:
        record = rec.add(model, **row)
        rec.audit("created", record, {f: (None, row[f]) for f in fields}, at=at)
        added.append(record)
    return added


def timeline_row(actor: Any, customer_id: uuid.UUID, kind: str, subject: str, occurred_at: datetime,
                 notes: str = "") -> dict[str, Any]:
    now = utcnow()
    return {"id": uuid.uuid4(), "customer_id": customer_id, "kind": kind, "direction": "inbound",
            "status": "done", "subject": subject[:200], "notes": notes, "occurred_at": occurred_at,
            "created_by_id": getattr(actor, "id", None), "source": "exhibitions", "version": 1,
            "created_at": now, "updated_at": now, "escalation_count": 0, "outcome": ""}


def add_timeline(rec: BulkRecorder, rows: list[dict[str, Any]]) -> list[BulkRow]:
    """Collect timeline entries (from :func:`timeline_row`) and their audit entries; flush with
    ``Interaction`` among the models."""
    return add_created(rec, Interaction, rows, TIMELINE_FIELDS)
