"""The core's import types: ``customers``, ``contacts`` and ``interactions`` (``trellis import``).

Each row is checked by the same schema (``core.schemas``) and the same service rules as the API's create
(``customers.prepare_new``, ``interactions.prepare_new``, the contact's customer and primary rule), then:

- a row whose ``external_id`` names no live record is **created** through the bulk recorder: the record,
  its audit entry and ``<record>.created`` event (and a customer's stage and level history rows), as the
  single-record create writes them, in one INSERT per table and batch;
- a row whose record exists and whose values (the columns the file has; blank cells mean "no value
  given") all equal the record's is **unchanged**: nothing is written, not even an audit entry;
- a row that differs is an **update** through the service's own ``update`` (its rules, its audit entry
  and event, its in-process subscribers), with the record's current version.

References name other records by their external id (``customer_external_id``) or their Trellis id
(``customer_id``). A done purchase imported moves its customer along the lifecycle (first purchase,
then repeat) and re-grades its level, as ``core.core_plugin._on_interaction_event`` does for one, but in
bulk: the in-process subscribers are not called for imported rows (webhooks still get every event).
"""
from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import timedelta
from types import SimpleNamespace
from typing import Any, Iterable

from sqlalchemy import bindparam, case, func, select, update

from core import db, levels, lifecycle, runtime
from core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from core.imports import ImportBatch, ImportColumn, ImportRow, ImportType, schema_for, split_list, utc_datetime_text
from core.models import Contact, Customer, CustomerSize, CustomerSource, CustomerTag, Interaction, InteractionStatus, WorkflowTransitionEntry
from core.schemas import ContactCreate, CustomerCreate, InteractionCreate
from core.services.bulk import BulkRow
from core.services import audit, common, contacts, customers, interactions
from core.workflow import AUTOMATIC

EXTERNAL_ID = ImportColumn("external_id", "The record's id in the system it comes from (at most 100 characters): "
                                          "a re-import finds the record by it.", required=True)
CUSTOMER_REF = (
    ImportColumn("customer_external_id", "The customer's external_id (or give customer_id)."),
    ImportColumn("customer_id", "The customer's Trellis id (instead of customer_external_id)."),
)


def _external_id(batch: ImportBatch, row: ImportRow) -> str | None:
    value = row.values.pop("external_id", None)
    text = None if value is None else str(value).strip()
    if not text:
        batch.fail(row, "external_id", "Missing data for required field.")
        return None
    if len(text) > 100:
        batch.fail(row, "external_id", "Longer than maximum length 100.")
        return None
    return text


def keyed_rows(batch: ImportBatch) -> list[tuple[ImportRow, str]]:
    """``[(row, external id)]`` of the batch's rows with a usable ``external_id`` (taken out of the row's
    values); a row without one, or repeating one within the batch, fails (an external id names one record)."""
    seen: dict[str, int] = {}
    out = []
    for row in batch.live():
        ext = _external_id(batch, row)
        if ext is None:
            continue
        if ext in seen:
            batch.fail(row, "external_id", f"Also on row {seen[ext]}: an external id names one record.")
            continue
        seen[ext] = row.number
        out.append((row, ext))
    return out


def existing_by_external_id(model: type, externals: Iterable[str]) -> dict[str, Any]:
    """The live records of ``model`` (a model with an ``external_id`` column) with these external ids, by
    external id, in one query."""
    externals = list(externals)
    if not externals:
        return {}
    rows = db.session().scalars(select(model).where(db.in_values(model.external_id, externals),
                                                    model.deleted_at.is_(None)))
    return {r.external_id: r for r in rows}


def resolve_customers(batch: ImportBatch, rows: list[tuple[ImportRow, str]]) -> None:
    """Turn each row's ``customer_external_id`` into ``customer_id`` (one query per batch); a row naming no
    live customer, or none at all, fails on the column it used. Use it for any record that belongs to a
    customer (declare the columns ``CUSTOMER_REF``)."""
    externals = {str(r.values["customer_external_id"]) for r, _ in rows if "customer_external_id" in r.values}
    found = dict(db.session().execute(select(Customer.external_id, Customer.id).where(
        db.in_values(Customer.external_id, externals), Customer.deleted_at.is_(None))).all()) if externals else {}
    given = set()
    for row, _ in rows:
        if "customer_external_id" in row.values:
            ext = str(row.values.pop("customer_external_id"))
            if ext not in found:
                batch.fail(row, "customer_external_id", "No customer has this external id.")
                continue
            if "customer_id" in row.values:
                batch.fail(row, "customer_id", "Give customer_id or customer_external_id, not both.")
                continue
            row.values["customer_id"] = str(found[ext])
        elif "customer_id" in row.values:
            try:
                given.add(common.parse_uuid(row.values["customer_id"], "customer_id"))
            except ValidationFailed:
                pass  # the schema says why
        else:
            batch.fail(row, "customer_external_id", "Give the customer: customer_external_id or customer_id.")
    if given:  # ids given directly must name live customers too
        live = set(db.session().scalars(select(Customer.id).where(Customer.id.in_(given), Customer.deleted_at.is_(None))))
        for row, _ in rows:
            if not row.failed and "customer_id" in row.values:
                try:
                    cid = common.parse_uuid(row.values["customer_id"], "customer_id")
                except ValidationFailed:
                    continue
                if cid not in live:
                    batch.fail(row, "customer_id", "No customer with this id.")


def customer_refs(customer_ids: Iterable[Any]) -> dict[Any, dict[str, Any]]:
    """For an export: the reference columns (``CUSTOMER_REF``) naming each of these customers, in one query:
    ``{"customer_external_id": …, "customer_id": None}`` for a customer with an external id, else its
    Trellis id in ``customer_id`` (which re-imports into the same database). Use it in an
    :class:`core.exports.Export`'s ``rows`` for any record that belongs to a customer."""
    ids = set(customer_ids)
    found = dict(db.session().execute(select(Customer.id, Customer.external_id).where(Customer.id.in_(ids))).all()) \
        if ids else {}
    return {cid: {"customer_external_id": ext, "customer_id": None} if ext else
            {"customer_external_id": None, "customer_id": str(cid)} for cid, ext in found.items()}


def _text_id(value: Any) -> str | None:
    return None if value is None else str(value)


def _differs(record: Any, values: dict, keys: Iterable[str]) -> list[str]:
    return [k for k in keys if getattr(record, k) != values[k]]


def update_row(batch: ImportBatch, row: ImportRow, service_update: Any, record: Any, raw: dict, changed: list[str]) -> None:
    """Finish a row whose record exists: ``changed`` (the fields whose validated value differs from the
    record's) empty → ``unchanged``, nothing written; else ``service_update(actor, id, {field: raw value,
    "version": record.version})`` — the record's own update service, its rules, audit entry and event — in
    a savepoint, so a refused update fails only this row."""
    if not changed:
        row.outcome = "unchanged"
        return
    try:
        with db.session().begin_nested():
            service_update(batch.actor, record.id, {**{k: raw[k] for k in changed}, "version": record.version})
    except (ValidationFailed, Conflict, NotFound, Forbidden) as exc:
        batch.fail_validation(row, exc if isinstance(exc, ValidationFailed) else ValidationFailed(exc.message))
        return
    row.outcome = "updated"


# --- customers -------------------------------------------------------------------------------------------

CUSTOMER_COLUMNS = (
    EXTERNAL_ID,
    ImportColumn("name", "The company's or person's name (1–200 characters).", required=True),
    ImportColumn("kind", "company (default) or person."),
    ImportColumn("industry", "Free text, at most 80 characters."),
    ImportColumn("region", "Free text, at most 80 characters."),
    ImportColumn("size", f"One of: {', '.join(s.value for s in CustomerSize)}."),
    ImportColumn("source", f"How the customer came, one of: {', '.join(s.value for s in CustomerSource)}."),
    ImportColumn("stage", "The lifecycle stage it starts in (potential by default); used when the customer is "
                          "created, later moves go through the lifecycle."),
    ImportColumn("notes", "Free text."),
    ImportColumn("tags", "Tags separated by ';' (or ',')."),
    ImportColumn("owner_id", "The owning user's id (default: the admin importing)."),
    ImportColumn("owner_email", "The owning user's email (instead of owner_id)."),
)


def _resolve_owners(batch: ImportBatch, rows: list[tuple[ImportRow, str]]) -> None:
    from core.models import User

    emails = {str(r.values["owner_email"]).strip().lower() for r, _ in rows if "owner_email" in r.values}
    found = {e.lower(): i for e, i in db.session().execute(
        select(User.email, User.id).where(func.lower(User.email).in_(emails), User.deleted_at.is_(None)))} if emails else {}
    for row, _ in rows:
        if "owner_email" in row.values:
            email = str(row.values.pop("owner_email")).strip().lower()
            if email not in found:
                batch.fail(row, "owner_email", "No user has this email.")
            elif "owner_id" in row.values:
                batch.fail(row, "owner_id", "Give owner_id or owner_email, not both.")
            else:
                row.values["owner_id"] = str(found[email])


def export_customers(records: list[Customer]) -> list[dict]:
    """Customers as import rows: the owner by email (one query per batch; the tags come with the records)."""
    from core.models import User

    owner_ids = {c.owner_id for c in records if c.owner_id is not None}
    emails = dict(db.session().execute(select(User.id, User.email).where(User.id.in_(owner_ids))).all()) \
        if owner_ids else {}
    return [{"external_id": c.external_id, "name": c.name, "kind": c.kind, "industry": c.industry,
             "region": c.region, "size": c.size, "source": c.source, "stage": c.stage, "notes": c.notes or None,
             "tags": c.tags or None, "owner_email": emails.get(c.owner_id)} for c in records]


def write_customers(batch: ImportBatch) -> None:
    rec, now, user = batch.recorder, batch.now, batch.actor
    keyed = keyed_rows(batch)
    _resolve_owners(batch, keyed)
    existing = existing_by_external_id(Customer, (ext for _, ext in keyed))
    rules = levels.parse_rules(runtime.current().settings.level_rules)
    level = levels.default_level(rules)
    for row, ext in keyed:
        if row.failed:
            continue
        raw = dict(row.values)
        if "tags" in raw:
            raw["tags"] = split_list(raw["tags"])
        try:
            values = common.validate(schema_for(CustomerCreate, raw), raw)
        except ValidationFailed as exc:
            batch.fail_validation(row, exc)
            continue
        record = existing.get(ext)
        if record is not None:
            keys = [k for k in values if k in raw and k not in ("stage", "tags")]
            changed = _differs(record, values, keys)
            if "tags" in values and sorted(customers.clean_tags(values["tags"])) != record.tags:
                changed.append("tags")
            update_row(batch, row, customers.update, record, raw, changed)
            continue
        try:
            values, tags, trigger, _approved = customers.prepare_new(user, values)
        except (ValidationFailed, Forbidden) as exc:
            batch.fail_validation(row, exc if isinstance(exc, ValidationFailed) else ValidationFailed(exc.message))
            continue
        tags = customers.clean_tags(tags)
        columns = {"kind": "company", "industry": None, "region": None, "size": None, "source": None,
                   "stage": "potential", "notes": "", **values, "level": level, "level_pinned": False,
                   "external_id": ext, "created_at": now, "updated_at": now, "version": 1, "deleted_at": None}
        customer = rec.add(Customer, **columns)
        for tag in tags:
            rec.add(CustomerTag, customer_id=customer.id, tag=tag)
        rec.change("created", customer, audit.created_fields(SimpleNamespace(**columns), customers.AUDITED) | (
            {"tags": ([], sorted(tags))} if tags else {}), at=now)
        rec.start(lifecycle.WORKFLOW, customer, columns["stage"], at=now, trigger=trigger,
                  reason="created in this stage")
        rec.start(levels.WORKFLOW, customer, level, at=now, trigger=AUTOMATIC, reason="the default level")
        row.outcome = "created"


# --- contacts --------------------------------------------------------------------------------------------

CONTACT_COLUMNS = (
    EXTERNAL_ID, *CUSTOMER_REF,
    ImportColumn("name", "The person's name (1–120 characters).", required=True),
    ImportColumn("title", "Job title."),
    ImportColumn("phone", "Phone number."),
    ImportColumn("mobile", "Mobile number."),
    ImportColumn("email", "Email address."),
    ImportColumn("wechat", "WeChat id."),
    ImportColumn("birthday", "YYYY-MM-DD."),
    ImportColumn("notes", "Free text."),
    ImportColumn("is_primary", "true to make this the customer's primary contact (a customer's first contact "
                               "is its primary one)."),
)


def export_contacts(records: list[Contact]) -> list[dict]:
    refs = customer_refs(c.customer_id for c in records)
    return [{"external_id": c.external_id, **refs[c.customer_id], "name": c.name, "title": c.title or None,
             "phone": c.phone or None, "mobile": c.mobile or None, "email": c.email or None,
             "wechat": c.wechat or None, "birthday": c.birthday, "notes": c.notes or None,
             "is_primary": c.is_primary} for c in records]


def write_contacts(batch: ImportBatch) -> None:
    rec, now = batch.recorder, batch.now
    keyed = keyed_rows(batch)
    resolve_customers(batch, keyed)
    existing = existing_by_external_id(Contact, (ext for _, ext in keyed))
    fresh: list[tuple[ImportRow, dict, str]] = []
    for row, ext in keyed:
        if row.failed:
            continue
        raw = dict(row.values)
        try:
            values = common.validate(schema_for(ContactCreate, raw), raw)
        except ValidationFailed as exc:
            batch.fail_validation(row, exc)
            continue
        record = existing.get(ext)
        if record is not None:
            if values["customer_id"] != record.customer_id:
                batch.fail(row, "customer_external_id" if "customer_id" not in batch._columns else "customer_id",
                           "A contact cannot move to another customer.")
                continue
            keys = [k for k in values if k in raw and k != "customer_id" and not (k == "is_primary" and not values[k])]
            update_row(batch, row, contacts.update, record, raw, _differs(record, values, keys))
            continue
        fresh.append((row, values, ext))
    if not fresh:
        return
    customer_ids = {values["customer_id"] for _, values, _ in fresh}
    with_primary = set(db.session().scalars(select(Contact.customer_id).where(
        Contact.customer_id.in_(customer_ids), Contact.is_primary.is_(True), Contact.deleted_at.is_(None))))
    demote, in_batch = set(), {}
    for row, values, ext in fresh:
        wants = values.pop("is_primary", False)
        cid = values["customer_id"]
        primary = contacts.becomes_primary(wants, cid in with_primary)
        if primary:
            if cid in with_primary:
                demote.add(cid)
            with_primary.add(cid)
        columns = {"title": "", "phone": "", "mobile": "", "email": "", "wechat": "", "birthday": None, "notes": "",
                   **values, "is_primary": primary, "external_id": ext, "created_at": now, "updated_at": now,
                   "version": 2 if primary else 1, "deleted_at": None}
        contact = rec.add(Contact, **columns)
        if primary:  # as the single path does, the customer's earlier primary contact (of this batch) is demoted
            if cid in in_batch:
                in_batch[cid].values["is_primary"] = False
                in_batch[cid].values["version"] += 1
            in_batch[cid] = contact
        rec.change("created", contact, audit.created_fields(SimpleNamespace(**columns), contacts.AUDITED), at=now)
        row.outcome = "created"
    if demote:
        t = Contact.__table__
        db.session().execute(update(t).where(t.c.customer_id.in_(demote), t.c.is_primary.is_(True),
                                             t.c.deleted_at.is_(None))
                             .values(is_primary=False, version=t.c.version + 1, updated_at=now))


# --- interactions ----------------------------------------------------------------------------------------

INTERACTION_COLUMNS = (
    EXTERNAL_ID, *CUSTOMER_REF,
    ImportColumn("kind", "A registered interaction kind: call, visit, email, meeting, purchase … "
                         "(GET /api/v1/labels).", required=True),
    ImportColumn("occurred_at", "When it happened: ISO 8601 (a date alone is midnight UTC, a time without an "
                                "offset is UTC; 19970101 works too)."),
    ImportColumn("amount", "An amount of money (a purchase's), 2 decimals."),
    ImportColumn("direction", "inbound or outbound (default)."),
    ImportColumn("status", "done (default when it happened), planned (a task: give due_at) or cancelled."),
    ImportColumn("subject", "At most 200 characters."),
    ImportColumn("notes", "Free text."),
    ImportColumn("due_at", "A task's due time (as occurred_at)."),
    ImportColumn("reminder_at", "When to remind the assignee (as occurred_at)."),
    ImportColumn("outcome", "What came of it."),
    ImportColumn("score", "A survey score: CSAT 1–5 or NPS 0–10 (with score_scale)."),
    ImportColumn("score_scale", "csat or nps."),
    ImportColumn("contact_id", "The contact's Trellis id (a contact of the customer)."),
    ImportColumn("assignee_id", "The assigned user's id."),
)

_TIMES = ("occurred_at", "due_at", "reminder_at")


def export_interactions(records: list[Interaction]) -> list[dict]:
    refs = customer_refs(i.customer_id for i in records)
    return [{"external_id": i.external_id, **refs[i.customer_id], "kind": i.kind, "occurred_at": i.occurred_at,
             "amount": i.amount, "direction": i.direction, "status": i.status, "subject": i.subject or None,
             "notes": i.notes or None, "due_at": i.due_at, "reminder_at": i.reminder_at,
             "outcome": i.outcome or None, "score": i.score, "score_scale": i.score_scale,
             "contact_id": _text_id(i.contact_id), "assignee_id": _text_id(i.assignee_id)} for i in records]


def write_interactions(batch: ImportBatch) -> None:
    rec, now, user = batch.recorder, batch.now, batch.actor
    keyed = keyed_rows(batch)
    resolve_customers(batch, keyed)
    existing = existing_by_external_id(Interaction, (ext for _, ext in keyed))
    purchases: dict[uuid.UUID, list] = defaultdict(list)
    payload_source = "core"
    validate = common.validate
    for row, ext in keyed:
        if row.failed:
            continue
        raw = row.values
        for key in _TIMES:
            if key in raw:
                raw[key] = utc_datetime_text(raw[key])
        try:
            values = validate(schema_for(InteractionCreate, raw), raw)
        except ValidationFailed as exc:
            batch.fail_validation(row, exc)
            continue
        record = existing.get(ext)
        if record is not None:
            if values["customer_id"] != record.customer_id:
                batch.fail(row, "customer_external_id" if "customer_id" not in batch._columns else "customer_id",
                           "An interaction cannot move to another customer.")
                continue
            keys = [k for k in values if k in raw and k != "customer_id"]
            update_row(batch, row, interactions.update, record, raw, _differs(record, values, keys))
            continue
        customer_id = values["customer_id"]
        try:
            values = interactions.prepare_new(user, values, customer_id)
        except ValidationFailed as exc:
            batch.fail_validation(row, exc)
            continue
        columns = {"contact_id": None, "direction": "outbound", "subject": "", "notes": "", "occurred_at": None,
                   "due_at": None, "amount": None, "score": None, "score_scale": None, "assignee_id": None,
                   "reminder_at": None, "outcome": "", "completed_at": None, "escalated_at": None, **values,
                   "escalation_count": 0, "created_by_id": getattr(user, "id", None), "source": payload_source,
                   "external_id": ext, "created_at": now, "updated_at": now, "version": 1, "deleted_at": None}
        interaction = rec.add(Interaction, **columns)
        rec.change("created", interaction, audit.created_fields(SimpleNamespace(**columns), interactions.AUDITED),
                   payload={"customer_id": customer_id, "kind": columns["kind"], "source": payload_source}, at=now)
        if columns["kind"] == lifecycle.PURCHASE_KIND and columns["status"] == InteractionStatus.DONE.value:
            purchases[customer_id].append(columns["occurred_at"])
        row.outcome = "created"
    if purchases:
        _purchases_move_customers(batch, purchases)


def _purchases_move_customers(batch: ImportBatch, purchases: dict[uuid.UUID, list]) -> None:
    """What ``core.lifecycle.on_interaction_changed`` and ``customers.regrade`` do for each purchase, in bulk:
    a customer's done purchases (those stored and the batch's, in time order) move it to first purchase,
    then repeat (at the purchase's time, trigger automatic), and its level is graded again.

    The batch's purchases are written first; one query then gives each customer's done purchases (all of
    them: those stored before are that less the batch's) and the level's measures; the workflow history
    is read only for the customers that move."""
    rec, now, sess = batch.recorder, batch.now, db.session()
    ids = list(purchases)
    t = Customer.__table__
    state = {r.id: r for r in sess.execute(select(t.c.id, t.c.stage, t.c.level, t.c.level_pinned, t.c.version,
                                                  t.c.created_at).where(db.in_values(t.c.id, ids)))}
    rec.flush([Interaction])  # the purchases first: the level is graded on what is stored
    totals, values = _purchase_counts(ids, now)
    moved: dict[uuid.UUID, dict] = {}
    moves: list[tuple] = []
    for cid, times in purchases.items():
        customer = state[cid]
        stage, version = customer.stage, customer.version
        count = totals.get(cid, 0) - len(times)   # those stored before the batch
        for at in sorted(times):
            count += 1
            target = "repeat" if count >= 2 else "first_purchase"
            if stage == target or stage == "repeat":
                continue
            version += 1
            moves.append((cid, stage, target, at, version, count))
            stage = target
        if version != customer.version:
            moved[cid] = {"b_id": cid, "b_stage": stage, "b_version": version}
    entered = _entered(lifecycle.WORKFLOW, list(moved)) if moved else {}
    since: dict[uuid.UUID, Any] = {}
    for cid, stage, target, at, version, count in moves:
        record = BulkRow(Customer, {"id": cid, "version": state[cid].version})
        rec.transition(lifecycle.WORKFLOW, record, stage, target, at=at,
                       entered_at=since.get(cid) or entered.get(cid) or state[cid].created_at, trigger=AUTOMATIC,
                       event="interaction.created", version=version,
                       reason=f"{count} purchase{'s' if count > 1 else ''} recorded")
        since[cid] = at
    rules = levels.parse_rules(runtime.current().settings.level_rules)
    regraded = [(c, target) for c in state.values() if not c.level_pinned
                for target in (levels.grade(rules, values[c.id]),) if target != c.level]
    level_since = _entered(levels.WORKFLOW, [c.id for c, _ in regraded]) if regraded else {}
    levels_changed = []
    for customer, target in regraded:
        version = moved.get(customer.id, {}).get("b_version", customer.version) + 1
        rec.transition(levels.WORKFLOW, BulkRow(Customer, {"id": customer.id, "version": customer.version}),
                       customer.level, target, at=now,
                       entered_at=level_since.get(customer.id) or customer.created_at, trigger=AUTOMATIC,
                       event="interaction.created",
                       reason=", ".join(f"{k}={v:g}" for k, v in values[customer.id].items()), version=version)
        moved.setdefault(customer.id, {"b_id": customer.id, "b_stage": customer.stage})["b_version"] = version
        levels_changed.append({"b_id": customer.id, "b_level": target})
    if moved:
        sess.execute(update(t).where(t.c.id == bindparam("b_id")).values(
            stage=bindparam("b_stage"), version=bindparam("b_version"), updated_at=now), list(moved.values()))
    if levels_changed:
        sess.execute(update(t).where(t.c.id == bindparam("b_id")).values(level=bindparam("b_level")), levels_changed)
    sess.expire_all()


def _purchase_counts(ids: list, now: Any) -> tuple[dict, dict]:
    """For these customers, in one query: their done purchases stored (``{id: count}``, absent: none), and
    the level's measures (``levels.measures``: revenue and count over the 365 days before ``now``)."""
    i = Interaction
    recent = i.occurred_at >= now - timedelta(days=365)
    rows = db.session().execute(
        select(i.customer_id, func.count(), func.coalesce(func.sum(case((recent, i.amount))), 0),
               func.count(case((recent, 1))))
        .where(db.in_values(i.customer_id, ids), i.kind == lifecycle.PURCHASE_KIND, i.status == InteractionStatus.DONE.value,
               i.deleted_at.is_(None))
        .group_by(i.customer_id)).all()
    values = {cid: {"revenue_12m": 0.0, "purchases_12m": 0.0} for cid in ids}
    for cid, _, revenue, count in rows:
        values[cid] = {"revenue_12m": float(revenue), "purchases_12m": float(count)}
    return {cid: total for cid, total, _, _ in rows}, values


def _entered(workflow: str, ids: list) -> dict:
    """When each record entered its current state of ``workflow`` (its last move; absent: never moved), in one
    query: ``core.services.workflow.entered_at`` for many records."""
    from datetime import timezone

    rows = db.session().execute(select(WorkflowTransitionEntry.record_id, func.max(WorkflowTransitionEntry.at)).where(
        WorkflowTransitionEntry.workflow == workflow, db.in_values(WorkflowTransitionEntry.record_id, ids))
        .group_by(WorkflowTransitionEntry.record_id)).all()
    return {rid: at.replace(tzinfo=timezone.utc) if at is not None and at.tzinfo is None else at for rid, at in rows}


def core_import_types() -> list[ImportType]:
    from core.exports import Export
    from core.schemas import ContactFilter, CustomerFilter, InteractionFilter

    # customers are exported with owner_email (it names the owner in another database too), not owner_id
    customer_columns = tuple(c.name for c in CUSTOMER_COLUMNS if c.name != "owner_id")
    return [
        ImportType("customers", "Companies and people the business sells to.", CUSTOMER_COLUMNS, write_customers,
                   models=(Customer, CustomerTag),
                   export=Export(customers.filtered, export_customers, customer_columns, CustomerFilter,
                                 route="/customers")),
        ImportType("contacts", "People at customers.", CONTACT_COLUMNS, write_contacts, models=(Contact,),
                   export=Export(contacts.filtered, export_contacts, filters=ContactFilter, route="/contacts")),
        ImportType("interactions", "The timeline (calls, visits, purchases …) and tasks.", INTERACTION_COLUMNS,
                   write_interactions, models=(Interaction,),
                   export=Export(interactions.filtered, export_interactions, filters=InteractionFilter,
                                 route="/interactions")),
    ]
