"""Materialised metric results: what ``GET /api/v1/metrics/<name>`` and GraphQL ``metric(name:)`` answer.

Every metric of the registry — the core's and every plugin's — is answered by :func:`answer`:

- a computation that took at least ``TRELLIS_METRIC_MATERIALISE_AFTER_MS`` (500 by default; 0: every one)
  is stored in ``metric_result`` under a key made of the metric's name, ``from``, ``to``, ``group_by`` and
  the caller's **scope** (:func:`scope_key`); a quicker one is answered live and nothing is stored (and a
  stored result for that key is deleted: it is cheap now, and a live answer was just given);
- a stored result younger than ``TRELLIS_METRIC_RESULT_MAX_AGE`` seconds (300) is served as it is
  (``materialised: true``, ``computed_at`` its computation's start); an older one is computed again in
  the request, and stored again if it still qualifies;
- ``refresh`` computes live whatever is stored (and updates the stored result when it qualifies);
- the scheduled job ``metrics.refresh`` (:func:`refresh_job`) recomputes, as their scope's user, the
  results asked for within a day once they are half the max age old, and deletes those not asked for
  within a day, or whose user can no longer be served them.

A scope is who may be served a result: every active admin shares ``admin`` (an admin sees every customer
and plugin scopes add nothing to that); anyone else has their own, which names their role and team too,
so a role or team change never serves the old numbers. docs/metrics.md, "Materialised results".
"""
from __future__ import annotations

import hashlib
import json
import math
import time
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select

from core import db, runtime
from core.db import utcnow
from core.errors import TrellisError
from core.metrics import MetricQuery, MetricRow
from core.models import MetricResult, Role, User
from core.services.permissions import require_actor

#: The shared scope of every active admin.
ADMIN_SCOPE = "admin"
#: ``last_requested_at`` is written at most this often, not on every request.
REQUESTED_RESOLUTION = timedelta(minutes=1)
#: A stored result not asked for within this long is deleted by the job (and no longer refreshed).
KEEP_UNREQUESTED = timedelta(days=1)


@dataclass(frozen=True)
class MetricAnswer:
    """A metric's rows and how fresh they are: ``computed_at`` (when their computation started; now for
    a live answer) and ``materialised`` (served from ``metric_result`` rather than computed now)."""

    name: str
    rows: list[MetricRow]
    computed_at: datetime
    materialised: bool


def scope_key(user: User) -> str:
    """Who may be served the same stored result as ``user``: ``admin`` for an admin, otherwise
    ``user:<id>:<role>:<team id or empty>``."""
    if user.role == Role.ADMIN.value:
        return ADMIN_SCOPE
    return f"user:{user.id}:{user.role}:{user.team_id or ''}"


def _params(query: MetricQuery) -> dict[str, Any]:
    return {"from": query.date_from.isoformat() if query.date_from else None,
            "to": query.date_to.isoformat() if query.date_to else None,
            "group_by": query.group_by or None}


def result_key(name: str, query: MetricQuery, scope: str) -> str:
    params = _params(query)
    raw = json.dumps([name, params["from"], params["to"], params["group_by"], scope], separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()


# --- rows as JSON and back ---------------------------------------------------------------------------

def _encode(value: Any) -> Any:
    """``value`` as JSON holds it; what JSON cannot hold exactly is tagged (``{"$decimal": "1.50"}``).
    TypeError for anything else (then the answer is not stored)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"$float": repr(value)}
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, uuid.UUID):
        return {"$uuid": str(value)}
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError("a dict with keys that are not strings")
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    raise TypeError(f"{type(value).__name__} is not stored")


_DECODERS = {"$float": float, "$decimal": Decimal, "$datetime": datetime.fromisoformat,
             "$date": date.fromisoformat, "$uuid": uuid.UUID}


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1:
            (tag, raw), = value.items()
            if tag in _DECODERS:
                return _DECODERS[tag](raw)
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def encode_rows(rows: list[MetricRow]) -> list[dict[str, Any]]:
    return [_encode(row.as_dict()) for row in rows]


def decode_rows(stored: list[dict[str, Any]]) -> list[MetricRow]:
    out = []
    for item in stored:
        item = _decode(item)
        out.append(MetricRow(value=item.get("value"), group=item.get("group") or {}, extra=item.get("extra") or {}))
    return out


# --- answering a request -----------------------------------------------------------------------------

def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


def answer(actor: Any, name: str, *, date_from: date | None = None, date_to: date | None = None,
           group_by: str | None = None, refresh: bool = False, now: datetime | None = None) -> MetricAnswer:
    """The metric ``name`` over what ``actor`` may see: the stored result of their scope while it is younger
    than ``TRELLIS_METRIC_RESULT_MAX_AGE``, else (or with ``refresh``) computed now, and stored when the
    computation took at least ``TRELLIS_METRIC_MATERIALISE_AFTER_MS``. NotFound for an unknown metric,
    ValidationFailed for a query it does not take (before anything is read)."""
    user = require_actor(actor)
    rt = runtime.current()
    query = MetricQuery(actor=user, date_from=date_from, date_to=date_to, group_by=group_by or None)
    rt.metrics.check(name, query)
    now = now or utcnow()
    scope = scope_key(user)
    key = result_key(name, query, scope)
    session = db.session()
    stored = None
    if not refresh:
        stored = session.scalars(select(MetricResult).where(MetricResult.key == key)).first()
        if stored is not None and now - _aware(stored.computed_at) < timedelta(seconds=rt.settings.metric_result_max_age):
            if now - _aware(stored.last_requested_at) >= REQUESTED_RESOLUTION:
                stored.last_requested_at = now
                stored.actor_id = user.id
            return MetricAnswer(name, decode_rows(stored.rows), _aware(stored.computed_at), True)
    rows, compute_ms = _compute(rt, name, query)
    _keep(rt, name, query, key, scope, user, rows, compute_ms, computed_at=now, requested_at=now,
          none_stored=not refresh and stored is None)
    return MetricAnswer(name, rows, now, False)


def _compute(rt, name: str, query: MetricQuery) -> tuple[list[MetricRow], int]:
    started = time.perf_counter()
    rows = rt.metrics.evaluate(name, query)
    return rows, int(round((time.perf_counter() - started) * 1000))


def _keep(rt, name: str, query: MetricQuery, key: str, scope: str, actor: User, rows: list[MetricRow],
          compute_ms: int, *, computed_at: datetime, requested_at: datetime | None, none_stored: bool = False) -> bool:
    """Store the rows under ``key`` when their computation qualifies (one statement: an insert, or an
    update of the row another request stored meanwhile); otherwise delete any stored result of the key
    (no statement when ``none_stored``: the caller just found none). ``requested_at`` None keeps the
    stored ``last_requested_at`` (the job). Whether it was stored."""
    session = db.session()
    encoded = None
    if compute_ms >= rt.settings.metric_materialise_after_ms:
        try:
            encoded = encode_rows(rows)
        except TypeError:   # a plugin metric's value JSON cannot hold: answered live, never stored
            encoded = None
    if encoded is None:
        if not none_stored:
            session.execute(delete(MetricResult).where(MetricResult.key == key))
        return False
    values = {"metric": name, "scope": scope, "actor_id": actor.id, "params": _params(query), "rows": encoded,
              "computed_at": computed_at, "compute_ms": compute_ms}
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(MetricResult).values(id=uuid.uuid4(), key=key, **values,
                                       last_requested_at=requested_at or computed_at)
    updated = dict(values, **({"last_requested_at": requested_at} if requested_at else {}))
    session.execute(stmt.on_conflict_do_update(index_elements=[MetricResult.key], set_=updated))
    for obj in [o for o in session.identity_map.values() if isinstance(o, MetricResult) and o.key == key]:
        session.expire(obj)   # loaded before the statement: it holds the old values
    return True


# --- the scheduled job -------------------------------------------------------------------------------

def _actor_for(row: MetricResult) -> User | None:
    """The user to compute a stored result as, or None when nobody may be served it any more: the scope's
    own user while active with the same role and team; for ``admin``, the admin who last asked, or
    another active admin."""
    session = db.session()
    user = session.get(User, row.actor_id) if row.actor_id is not None else None
    if user is not None and user.is_active and user.deleted_at is None and scope_key(user) == row.scope:
        return user
    if row.scope != ADMIN_SCOPE:
        return None
    return session.scalars(select(User).where(User.role == Role.ADMIN.value, User.is_active.is_(True),
                                              User.deleted_at.is_(None)).order_by(User.created_at, User.id)).first()


def refresh_stored(now: datetime) -> dict[str, int]:
    """Delete the stored results not asked for within :data:`KEEP_UNREQUESTED` and recompute the others
    that are at least half ``TRELLIS_METRIC_RESULT_MAX_AGE`` old, each as its scope's user (a result whose
    user is gone, deactivated, or has another role or team now is deleted; so is one of a metric no longer
    registered). A result that computes quicker than ``TRELLIS_METRIC_MATERIALISE_AFTER_MS`` now is
    deleted too, as a request would. Counts: ``refreshed``, ``dropped``, ``pruned``, ``failed``."""
    rt = runtime.current()
    session = db.session()
    counts = {"refreshed": 0, "dropped": 0, "pruned": 0, "failed": 0}
    counts["pruned"] = session.execute(
        delete(MetricResult).where(MetricResult.last_requested_at < now - KEEP_UNREQUESTED),
        execution_options={"synchronize_session": False}).rowcount or 0
    due = now - timedelta(seconds=rt.settings.metric_result_max_age / 2)
    rows = list(session.scalars(select(MetricResult).where(MetricResult.computed_at <= due)
                                .order_by(MetricResult.computed_at, MetricResult.id)))
    computed = []
    for row in rows:
        actor = _actor_for(row)
        params = row.params or {}
        query = MetricQuery(actor=actor, group_by=params.get("group_by"),
                            date_from=date.fromisoformat(params["from"]) if params.get("from") else None,
                            date_to=date.fromisoformat(params["to"]) if params.get("to") else None)
        try:
            if actor is None:
                raise LookupError
            rt.metrics.check(row.metric, query)
        except (LookupError, TrellisError):
            session.delete(row)
            counts["dropped"] += 1
            continue
        try:   # computed first, written last: the rows stay unlocked while the slow part runs
            with session.begin_nested():
                result = _compute(rt, row.metric, query)
        except Exception:   # one metric's failure does not keep the others cold; tried again next run
            counts["failed"] += 1
            continue
        computed.append((row, actor, query, result))
    for row, actor, query, (result, compute_ms) in computed:
        kept = _keep(rt, row.metric, query, row.key, row.scope, actor, result, compute_ms, computed_at=now,
                     requested_at=None)
        counts["refreshed" if kept else "dropped"] += 1
    return counts


def refresh_job(now: datetime) -> str:
    """``trellis tick`` / the worker: :func:`refresh_stored`, summed up in one line."""
    counts = refresh_stored(now)
    return ", ".join(f"{n} {what}" for what, n in counts.items())
