"""Duplicate customers (重复客户): find the candidates, merge one into another.

**Candidates.** Two customers the actor may see are candidates when they share a match key
(``core.normalize``, stored on the rows and kept up on every write):

- ``email``: a live contact of each has the same e-mail address, trimmed and lower-cased;
- ``phone``: a live contact of each has the same phone or mobile number, digits only with the country code
  (``+86 138-0013-8000``, ``0086 13800138000`` and ``13800138000`` are one number);
- ``name``: the same name, NFKC-normalised (full-width → half-width), case-folded, whitespace collapsed.

They are found by grouping in SQL (a self-join of the keys on ``(reason, key)``, one row per pair with
every reason it shares), paged, most reasons first. A pair is listed once (``customer`` is the one with the
smaller id) and only when the actor sees both customers, so a rep is never shown someone else's customer.

**Merge.** :func:`merge_customers` moves everything of the duplicate (``merged``) to the customer that
stays (``survivor``) in one transaction: contacts (a second primary contact stops being primary),
interactions, tags, the survivor's blank fields (industry, region, size, source, owner) filled from the
duplicate; then every plugin's ``trellis_merge_customers`` hook moves the plugin's records. The duplicate's
analytics row is deleted (the survivor's figures include its purchases from the next analytics refresh)
and the survivor's level is graded again. The duplicate is then marked ``merged_into_id``/``merged_at`` and
deleted (``deleted_at`` = ``merged_at``): it is left out of every list, metric and job, but reading it by
id still answers with ``merged_into_id`` to follow, and it cannot be restored or merged again. Both
customers get an audit entry (``customer.merged`` on the duplicate, ``customer.updated`` on the survivor)
and the event ``customer.merged`` carries what was moved. Anything failing (a plugin's hook included)
rolls the whole merge back.
"""
from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from marshmallow import Schema, fields, pre_dump

from sqlalchemy import String, and_, case, delete, func, literal_column, or_, select, union_all, update

from core import db, runtime
from core.db import utcnow
from core.errors import Conflict, NotFound, PluginError, TrellisError, ValidationFailed
from core.models import Contact, Customer, CustomerAnalytics, Interaction, Role
from core.plugins import naming_the_plugin
from core.schemas import CustomerMerge, CustomerOut, DuplicateFilter, preload_analytics
from core.services import audit, common, customers
from core.services.bulk import BulkRecorder, BulkRow
from core.services.permissions import customer_visibility, require_role

#: the reasons two customers are candidates, in the order they are reported
REASONS = ("email", "phone", "name")
#: the survivor's fields a merge fills from the duplicate when the survivor has none
FILLED = ("industry", "region", "size", "source", "owner_id")
#: the roles that may merge (each only customers they may edit: in their scope)
MERGERS = (Role.ADMIN.value, Role.MANAGER.value, Role.REP.value)
HOOK = "trellis_merge_customers"


# --- candidates ----------------------------------------------------------------------------------------

@dataclass
class DuplicatePair:
    """Two customers that look like one: ``customer`` (the smaller id) and ``duplicate``, the ``reasons``
    they share (``email``, ``phone``, ``name``) and the shared key of each (``matches``)."""

    customer: Customer
    duplicate: Customer
    reasons: list[str]
    matches: dict[str, str] = field(default_factory=dict)

    @property
    def email(self) -> str | None:
        return self.matches.get("email")

    @property
    def phone(self) -> str | None:
        return self.matches.get("phone")

    @property
    def name(self) -> str | None:
        return self.matches.get("name")


def _keys(actor: Any, reason: str | None):
    """The match keys of the live customers ``actor`` sees: ``(cid, reason, key)`` rows, as a CTE."""
    live = and_(customer_visibility(actor), Customer.deleted_at.is_(None))
    parts = []

    def tag(name: str):
        return literal_column(f"'{name}'", String).label("reason")

    if reason in (None, "name"):
        parts.append(select(Customer.id.label("cid"), tag("name"), Customer.name_key.label("key"))
                     .where(live, Customer.name_key != ""))
    contact_keys = {"email": [Contact.email_key], "phone": [Contact.phone_key, Contact.mobile_key]}
    for name, columns in contact_keys.items():
        if reason not in (None, name):
            continue
        for column in columns:
            parts.append(select(Contact.customer_id.label("cid"), tag(name), column.label("key"))
                         .join(Customer, Customer.id == Contact.customer_id)
                         .where(live, Contact.deleted_at.is_(None), column != ""))
    return union_all(*parts).cte("match_keys")


#: the orderings of :func:`find_duplicate_candidates` (``sort``): by how many reasons a pair shares
SORTABLE = ("reasons",)


def _order(sort: str | None, reasons: Any) -> list:
    clauses = []
    for part in (sort or "-reasons").split(","):
        part = part.strip()
        if not part:
            continue
        key = part.lstrip("-+")
        if key not in SORTABLE:
            raise ValidationFailed(fields={"sort": [f"Cannot sort by '{key}'. Allowed: {', '.join(SORTABLE)}."]})
        clauses.append(reasons.desc() if part.startswith("-") else reasons.asc())
    return clauses


def _pairs(actor: Any, f: Mapping[str, Any]) -> tuple[Any, Any, Any]:
    """The pairs' SELECT (``first``, ``second`` and the shared key of each reason, one row per pair), how
    many reasons a pair shares, and the CTE alias of the first customer's keys, for validated filters ``f``."""
    keys = _keys(actor, f.get("reason"))
    a, b = keys.alias("a"), keys.alias("b")
    shared = [func.max(case((a.c.reason == r, a.c.key), else_=None)).label(r) for r in REASONS]
    reasons = func.count(func.distinct(a.c.reason))
    stmt = (select(a.c.cid.label("first"), b.c.cid.label("second"), *shared)
            .join(b, and_(a.c.reason == b.c.reason, a.c.key == b.c.key, a.c.cid < b.c.cid))
            .group_by(a.c.cid, b.c.cid))
    if cid := f.get("customer_id"):
        stmt = stmt.where(or_(a.c.cid == cid, b.c.cid == cid))
    return stmt, reasons, (a, b)


def _pair_items(rows: Sequence[Any]) -> list[DuplicatePair]:
    """The pairs of rows of :func:`_pairs`, their customers read in one statement."""
    ids = {row.first for row in rows} | {row.second for row in rows}
    found = {c.id: c for c in db.session().scalars(select(Customer).where(Customer.id.in_(ids)))} if ids else {}
    return [DuplicatePair(found[row.first], found[row.second],
                          [r for r in REASONS if getattr(row, r) is not None],
                          {r: getattr(row, r) for r in REASONS if getattr(row, r) is not None})
            for row in rows]


def find_duplicate_candidates(actor: Any, filters: Mapping[str, Any] | None = None, *,
                              page: common.PageRequest | None = common.PageRequest(),
                              sort: str | None = None) -> common.Page[DuplicatePair]:
    """Pairs of customers ``actor`` sees that share an e-mail, a phone number or a name (the module's
    docstring says how each is normalised), most shared reasons first (``sort``: ``reasons``, ``-reasons``),
    then by id. ``filters``: ``reason`` (only pairs sharing it), ``customer_id`` (only pairs with this
    customer). ``page`` None: the empty page before the first (:func:`page_at`). Two statements and a
    COUNT, however many customers there are."""
    require_role(actor, *MERGERS)
    f = common.validate(DuplicateFilter, dict(filters or {}))
    stmt, reasons, (a, b) = _pairs(actor, f)
    order = _order(sort, reasons)
    sess = db.session()
    total = sess.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    if page is None:
        return common.Page(items=[], total=total, offset=0, limit=1, cursors=[], has_next=total > 0,
                           has_previous=False)
    rows = sess.execute(stmt.order_by(*order, a.c.cid, b.c.cid).offset(page.offset).limit(page.limit)).all()
    items = _pair_items(rows)
    return common.Page(items=items, total=total, offset=page.offset, limit=page.limit,
                       cursors=[_cursor(page.offset + i) for i in range(len(items))])


def filtered_pairs(actor: Any, filters: Mapping[str, Any] | None = None) -> Any:
    """The SELECT of the pairs :func:`find_duplicate_candidates` lists with ``filters`` (``DuplicateFilter``;
    a bad one is a ValidationFailed naming it), in the list's default order (most shared reasons first,
    then by ids): one row per pair, for :func:`pair_views`. Admins, managers and reps; only pairs whose
    both customers the actor sees. What ``trellis export duplicates`` reads, as one streamed statement
    (the pairs have no id of their own to read them by)."""
    require_role(actor, *MERGERS)
    f = common.validate(DuplicateFilter, dict(filters or {}))
    stmt, reasons, (a, b) = _pairs(actor, f)
    return stmt.order_by(*_order(None, reasons), a.c.cid, b.c.cid)


def pair_views(actor: Any, rows: Sequence[Any]) -> list[DuplicatePair]:
    """A batch of :func:`filtered_pairs`' rows as the list's items: one statement for the customers."""
    return _pair_items(rows)


class CustomerDuplicateOut(Schema):
    """Two customers that look like one, and why."""

    customer = fields.Nested(CustomerOut, metadata={"description": "One of the pair (the smaller id)."})
    duplicate = fields.Nested(CustomerOut, metadata={"description": "The other one."})
    reasons = fields.List(fields.String(), metadata={
        "description": "What they share: email (a contact's e-mail), phone (a contact's phone or mobile "
                       "number), name; the pairs sharing most come first."})
    email = fields.String(allow_none=True, metadata={"description": "The shared e-mail address, normalised."})
    phone = fields.String(allow_none=True, metadata={"description": "The shared phone number, normalised (+86…)."})
    name = fields.String(allow_none=True, metadata={"description": "The shared name, normalised."})

    @pre_dump(pass_collection=True)
    def _preload_analytics(self, data, many, **kwargs):
        if not many:
            return data
        data = list(data)
        preload_analytics([c for pair in data for c in (pair.customer, pair.duplicate)])
        return data


def _cursor(position: int) -> str:
    return base64.urlsafe_b64encode(f"duplicates:{position}".encode()).decode()


def _position(cursor: str, field_name: str) -> int:
    try:
        kind, _, position = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        if kind == "duplicates" and int(position) >= 0:
            return int(position)
    except (ValueError, UnicodeDecodeError):
        pass
    raise ValidationFailed(fields={field_name: ["Not a cursor of this list."]})


def offset_after(cursor: str, field_name: str = "after") -> int:
    """The offset of the page after ``cursor`` (a cursor of this list, as its pages hand them out: a
    position, since the pairs have no key of their own); another string is a 422 naming ``field_name``."""
    return _position(cursor, field_name) + 1


def page_at(*, after: str | None, before: str | None, size: int) -> common.PageRequest | None:
    """The page of ``size`` pairs after the cursor ``after`` or before ``before`` (REST's ``?after=`` and
    ``?before=``); None for the empty page before the first pair. Both at once is a 422 on ``before``."""
    if after and before:
        raise ValidationFailed(fields={"before": ["Not with after: page one way at a time."]})
    if after:
        return common.PageRequest(offset=offset_after(after), limit=size)
    position = _position(before or "", "before")
    if position == 0:
        return None
    start = max(position - size, 0)
    return common.PageRequest(offset=start, limit=position - start)


# --- merging ---------------------------------------------------------------------------------------------

def _stale(record: Customer, sent: int, field_name: str) -> None:
    if record.version != sent:
        raise Conflict(f"This customer is at version {record.version}; you sent version {sent}. Reload it and retry.",
                       fields={field_name: [f"Stale: current version is {record.version}."]})


def _move_contacts(actor: Any, survivor: Customer, merged: Customer) -> list[uuid.UUID]:
    """Every contact of the duplicate onto the survivor (:func:`_move_rows`); its primary contact stops
    being primary first (an audited change of its own) when the survivor has one."""
    sess = db.session()
    has_primary = sess.scalar(select(func.count()).select_from(Contact).where(
        Contact.customer_id == survivor.id, Contact.deleted_at.is_(None), Contact.is_primary.is_(True))) > 0
    if has_primary:
        for contact in sess.scalars(select(Contact).where(Contact.customer_id == merged.id,
                                                          Contact.is_primary.is_(True))):
            contact.is_primary = False
            sess.flush()
            audit.record_change(actor, "updated", contact, {"is_primary": (True, False)},
                                payload={"merged_into": survivor.id})
    return _move_rows(actor, Contact, "customer_id", survivor, merged)


def _move_interactions(survivor: Customer, merged: Customer) -> list[uuid.UUID]:
    """Every interaction of the duplicate (live or deleted) onto the survivor: one UPDATE; their ids go
    into the merge's audit entry, which stands for the change of each."""
    sess = db.session()
    ids = list(sess.scalars(select(Interaction.id).where(Interaction.customer_id == merged.id)
                            .order_by(Interaction.id)))
    if ids:
        sess.execute(update(Interaction).where(Interaction.customer_id == merged.id)
                     .values(customer_id=survivor.id, version=Interaction.version + 1, updated_at=utcnow())
                     .execution_options(synchronize_session="fetch"))
    return ids


def _call_plugins(actor: Any, survivor: Customer, merged: Customer) -> dict[str, Any]:
    """Each enabled plugin's ``trellis_merge_customers``, core first; ``{plugin: what it reported}``. A typed
    error (a 409 naming the clash) passes through as it is; any other names the plugin."""
    plugins = runtime.current().plugins
    caller = getattr(plugins.pm.hook, HOOK)
    order = {name: i for i, name in enumerate(plugins.enabled_names)}
    reported: dict[str, Any] = {}
    args = {"survivor": survivor, "merged": merged, "actor": actor, "session": db.session()}
    for impl in sorted(caller.get_hookimpls(), key=lambda i: order.get(i.plugin_name, len(order))):
        try:
            with naming_the_plugin(impl.plugin_name, HOOK):
                try:
                    result = impl.function(**{name: args[name] for name in impl.argnames})
                except TrellisError as exc:
                    raise _PassThrough(exc) from exc
        except _PassThrough as wrapped:
            raise wrapped.error from None
        if result:
            reported[impl.plugin_name] = result
    return reported


class _PassThrough(PluginError):
    """Carries a plugin's typed error past :func:`naming_the_plugin`, which lets a ``PluginError`` through."""

    def __init__(self, error: TrellisError):
        super().__init__(str(error))
        self.error = error


def move_customer_rows(actor: Any, model: type, column: str, survivor: Customer, merged: Customer, *,
                       unique_with: tuple[str, ...] = (), what: str | None = None) -> int:
    """For a plugin's ``trellis_merge_customers``: point every row of ``model`` whose ``column`` holds
    ``merged.id`` (deleted rows too, so a restore brings them back on the survivor) at ``survivor.id``, with
    an audit entry ``<table>.updated`` and its event each (``{column: [merged, survivor]}``, the event's
    ``merged_from`` naming the duplicate); a versioned row's ``version`` rises. Returns how many rows moved.
    A fixed number of statements however many rows move (one UPDATE and one INSERT per 500), so the
    event goes to webhooks but not to in-process subscribers, as with ``BulkRecorder``.

    ``unique_with``: the other columns of a unique constraint ``column`` is part of (a registration is
    unique per edition and visitor: ``("edition_id",)``). A row of the duplicate whose twin (same values
    there) already belongs to the survivor cannot move: a deleted one stays with the duplicate, a live one
    is a :class:`Conflict` naming ``what`` (default: the table) and the clashing values, so the user settles
    it (deletes one of the two) before merging; nothing of the merge is then written."""
    return len(_move_rows(actor, model, column, survivor, merged, unique_with=unique_with, what=what))


def _move_rows(actor: Any, model: type, column: str, survivor: Customer, merged: Customer, *,
               unique_with: tuple[str, ...] = (), what: str | None = None) -> list[uuid.UUID]:
    sess = db.session()
    sess.flush()
    col = getattr(model, column)
    table = model.__table__
    versioned, stamped, soft = ("version" in table.c), ("updated_at" in table.c), ("deleted_at" in table.c)
    others = [getattr(model, name) for name in unique_with]
    rows = sess.execute(select(model.id, *others, *([model.version] if versioned else []),
                               *([model.deleted_at] if soft else [])).where(col == merged.id).order_by(model.id)).all()
    if not rows:
        return []
    taken = {tuple(r) for r in sess.execute(select(*others).where(col == survivor.id))} if unique_with else set()
    moving: list[tuple[uuid.UUID, int | None]] = []
    for row in rows:
        key = tuple(row[1:1 + len(unique_with)])
        if unique_with and key in taken:
            if soft and row.deleted_at is not None:
                continue
            values = ", ".join(f"{name} {value}" for name, value in zip(unique_with, key))
            noun = what or table.name
            raise Conflict(f"Both customers have a {noun} for {values}: only one may. "
                           "Delete or cancel one of the two, then merge.",
                           fields={"merged_id": [f"Both have a {noun} for {values}."]})
        moving.append((row.id, row.version + 1 if versioned else None))
    bump: dict[str, Any] = {column: survivor.id}
    if versioned:
        bump["version"] = model.version + 1
    if stamped:
        bump["updated_at"] = utcnow()
    ids = [rid for rid, _ in moving]
    for start in range(0, len(ids), 500):
        sess.execute(update(model).where(model.id.in_(ids[start:start + 500])).values(bump)
                     .execution_options(synchronize_session="fetch"))
    recorder = BulkRecorder(actor)
    for rid, version in moving:
        recorder.change("updated", BulkRow(model, {"id": rid, "version": version}),
                        {column: (merged.id, survivor.id)}, payload={"merged_from": merged.id})
    recorder.flush([])
    return ids


def merge_customers(actor: Any, survivor_id: Any, data: Mapping[str, Any]) -> Customer:
    """Merge the customer ``data["merged_id"]`` into ``survivor_id`` (the module's docstring says what
    moves) and return the survivor. ``data``: ``merged_id``, and optionally ``version`` (the survivor's)
    and ``merged_version`` (the duplicate's) as last read — either stale is a 409.

    Who: an admin, a manager or a rep, each for two customers in their scope (the ones they may edit);
    plugin roles may not. A survivor out of scope is a 404; a duplicate out of scope, or the survivor
    itself, a 422 on ``merged_id``; either already merged a 409. Writes nothing unless it all succeeds."""
    user = require_role(actor, *MERGERS)
    values = common.validate(CustomerMerge, data)
    sid = common.parse_uuid(survivor_id, "survivor_id")
    # both rows locked in one statement, in id order (PostgreSQL), so two merges of the same pair, either way
    # round, wait for each other instead of deadlocking; the second then finds one of them merged (409)
    db.session().execute(select(Customer.id).where(Customer.id.in_([sid, values["merged_id"]]))
                         .order_by(Customer.id).with_for_update())
    survivor = customers.live_or_merged(user, sid)
    if survivor is None:
        raise NotFound("No customer with this id.")
    if values["merged_id"] == survivor.id:
        raise ValidationFailed(fields={"merged_id": ["A customer cannot be merged into itself."]})
    merged = customers.live_or_merged(user, values["merged_id"])
    if merged is None:
        raise ValidationFailed(fields={"merged_id": ["No customer with this id."]})
    if survivor.merged_into_id is not None:
        raise Conflict("This customer was itself merged into another; merge into that one.",
                       fields={"survivor_id": [f"Already merged into {survivor.merged_into_id}."]})
    if merged.merged_into_id is not None:
        raise Conflict("That customer was already merged.",
                       fields={"merged_id": [f"Already merged into {merged.merged_into_id}."]})
    if "version" in values:
        _stale(survivor, values["version"], "version")
    if "merged_version" in values:
        _stale(merged, values["merged_version"], "merged_version")

    sess = db.session()
    contact_ids = _move_contacts(user, survivor, merged)
    interaction_ids = _move_interactions(survivor, merged)

    changes: dict[str, tuple[Any, Any]] = {}
    before_tags = survivor.tags
    wanted = customers.clean_tags(before_tags + merged.tags)
    if wanted != before_tags:
        customers._set_tags(survivor, wanted)
        changes["tags"] = (before_tags, survivor.tags)
    for name in FILLED:
        if getattr(survivor, name) in (None, "") and getattr(merged, name) not in (None, ""):
            changes[name] = (getattr(survivor, name), getattr(merged, name))
            setattr(survivor, name, getattr(merged, name))
    survivor.updated_at = utcnow()  # a merge is a change of the survivor: its version rises
    sess.flush()

    reported = _call_plugins(user, survivor, merged)

    sess.execute(delete(CustomerAnalytics).where(CustomerAnalytics.customer_id == merged.id))
    now = utcnow()
    merged.merged_into_id, merged.merged_at, merged.deleted_at = survivor.id, now, now
    sess.flush()
    if survivor.external_id is None and merged.external_id is not None:
        # a re-import of the old system's file finds the survivor by the duplicate's id (unique among live
        # customers: taken once the duplicate is no longer live)
        changes["external_id"] = (None, merged.external_id)
        survivor.external_id = merged.external_id
        sess.flush()
    moved = {"contacts": len(contact_ids), "interactions": len(interaction_ids), **reported}
    # the ids moved stand in the entry (an interaction's move has no entry of its own): what undoing needs
    audit.record_change(user, "merged", merged, {"merged_into_id": (None, survivor.id), "merged_at": (None, now),
                                                 "deleted_at": (None, now), "contact_ids": (None, contact_ids),
                                                 "interaction_ids": (None, interaction_ids)},
                        payload={"survivor_id": survivor.id, "merged_id": merged.id, "moved": moved})
    audit.record_change(user, "updated", survivor, changes | {"merged_from": (None, merged.id)},
                        payload={"merged_id": merged.id, "moved": moved})
    customers.regrade([survivor], actor=user)
    return survivor


__all__ = ["CustomerDuplicateOut", "DuplicatePair", "filtered_pairs", "pair_views", "REASONS", "SORTABLE", "find_duplicate_candidates", "merge_customers",
           "move_customer_rows", "offset_after", "page_at"]
