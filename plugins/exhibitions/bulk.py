"""Exhibitions (会展): fast paths for large batches (registration imports, scan uploads, invitations).

A batch is written with one multi-row INSERT per table instead of one ORM flush per row. It stays
audited: one audit row per record created (inserted in bulk too) and one summary event per batch
(``exhibitions_edition.<verb>``), so webhooks see a batch, not thousands of events. Timeline entries
are core ``interaction`` rows written with ``source="exhibitions"``.
"""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Iterable

from sqlalchemy import insert

from core import db
from core.db import utcnow
from core.models import AuditEntry, Interaction
from core.services.audit import jsonable

CHUNK = 1000


def insert_rows(model: type, rows: list[dict[str, Any]]) -> None:
    """INSERT ``rows`` (dicts with an ``id`` each) into ``model``'s table in chunks."""
    sess = db.session()
    for start in range(0, len(rows), CHUNK):
        sess.execute(insert(model), rows[start:start + CHUNK])


def audit_rows(actor: Any, record_type: str, verb: str, records: Iterable[tuple[uuid.UUID, dict]]) -> None:
    """One audit entry per record: ``(record_id, {field: (old, new)})``."""
    actor_id = getattr(actor, "id", None)
    now = utcnow()
    rows = [{"id": uuid.uuid4(), "at": now, "actor_id": actor_id, "action": f"{record_type}.{verb}",
             "record_type": record_type, "record_id": rid,
             "changes": {k: [jsonable(o), jsonable(n)] for k, (o, n) in changes.items()}}
            for rid, changes in records]
    insert_rows(AuditEntry, rows)


def timeline_row(actor: Any, customer_id: uuid.UUID, kind: str, subject: str, occurred_at: datetime,
                 notes: str = "") -> dict[str, Any]:
    now = utcnow()
    return {"id": uuid.uuid4(), "customer_id": customer_id, "kind": kind, "direction": "inbound",
            "status": "done", "subject": subject[:200], "notes": notes, "occurred_at": occurred_at,
            "created_by_id": getattr(actor, "id", None), "source": "exhibitions", "version": 1,
            "created_at": now, "updated_at": now, "escalation_count": 0, "outcome": ""}


def add_timeline(actor: Any, rows: list[dict[str, Any]]) -> None:
    """Write timeline entries (from :func:`timeline_row`) and their audit rows."""
    if not rows:
        return
    insert_rows(Interaction, rows)
    audit_rows(actor, "interaction", "created",
               ((r["id"], {"customer_id": (None, r["customer_id"]), "kind": (None, r["kind"]),
                           "subject": (None, r["subject"])}) for r in rows))
