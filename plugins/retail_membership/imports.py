"""Retail membership (零售会员): the plugin's import types (``trellis import retail_membership.members``) and
their exports (``trellis export retail_membership.members``); docs/import-export.md.

A member row names an existing customer (``customer_external_id`` or ``customer_id``: import the
customers first) and a store (``store_external_id``, the store imported with ``retail_membership.stores``;
``home_store_code``; or ``home_store_id``), each resolved in one query per batch. Each row is checked by the
REST create's schema (``MembershipCreate``) and its rules — the home store live (and, for store staff,
theirs), the phone a phone number no other live member has, the card number and the customer not
enrolled yet, the referrer a live member — looked up once per batch, not once per row. A new member is
collected in the batch's recorder with its audit entry and ``retail_membership_membership.created``
event, as ``create_membership`` writes them.

A member found again by ``external_id`` whose values differ is updated through the plugin's own
services: ``update_membership`` (home store, phone, birthday, preferences), ``set_tier`` (the tier, set by
hand: it then holds) and ``adjust`` (the points balance, by the difference, with a reason), in one
savepoint, so a refused change fails only its row. The customer, the card number, the day joined and the
referrer are fixed once enrolled: a file changing them fails the row.

``tier`` and ``points_balance`` on a new member are how an old system's members arrive with their
standing: a tier other than the lowest is placed as a manager's ``set_tier`` places it (it holds until
released; the history says ``import``), and a balance is one ``adjust`` entry, an opening lot that
expires like earned points.

The export names the home store by its external id where it has one (else by its code), so a members
file moves between databases. Stores are their declared record's ``RecordSpec.import_type``
(``core.record_imports``): ``retail_membership.stores``. Campaigns are exported, not imported: see
:func:`export_types`.
"""
from __future__ import annotations

import uuid
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from sqlalchemy import or_, select

from core import db
from core.errors import Conflict, Forbidden, NotFound, TrellisError, ValidationFailed
from core.exports import Export
from core.imports import ImportBatch, ImportColumn, ImportRow, ImportType, schema_for, split_list
from core.record_imports import Reference, resolve_reference
from core.services import audit, common
from core.services.import_types import (CUSTOMER_REF, EXTERNAL_ID, customer_refs, existing_by_external_id,
                                        keyed_rows, resolve_customers)
from core.workflow import IMPORT

from plugins.retail_membership import program as programme
from plugins.retail_membership import schemas as S
from plugins.retail_membership import services
from plugins.retail_membership.models import RetailMembership, RetailPointsEntry, RetailStore

#: the reason written on what an import changes through ``set_tier`` and ``adjust``
REASON = "trellis import"

MEMBER_COLUMNS = (
    EXTERNAL_ID, *CUSTOMER_REF,
    ImportColumn("card_number", "The member card's number: 4–40 letters, digits or dashes, unique; fixed once "
                                "enrolled.", required=True),
    ImportColumn("store_external_id", "The home store's external_id (the store imported with "
                                      "retail_membership.stores; or give home_store_code or home_store_id)."),
    ImportColumn("home_store_code", "The home store's code (instead of store_external_id)."),
    ImportColumn("home_store_id", "The home store's Trellis id (instead of store_external_id)."),
    ImportColumn("phone", "The member's phone number, in any usual form; unique among live members."),
    ImportColumn("joined_on", "The day the customer became a member, YYYY-MM-DD (default: the import's day); "
                              "fixed once enrolled."),
    ImportColumn("birthday", "YYYY-MM-DD."),
    ImportColumn("preferences", "What the member likes, separated by ';' (at most 30, each 1–60 characters)."),
    ImportColumn("referred_by_card", "The card number of the live member who referred them; fixed once "
                                     "enrolled."),
    ImportColumn("tier", "The member's tier code (default: the lowest). Any other tier is placed as a manager "
                         "sets one by hand: it holds until released."),
    ImportColumn("points_balance", "The member's points (a whole number, 0 or more): a new member's opening "
                                   "balance; a different one corrects the balance by an adjustment."),
)

#: the fixed values and the column a difference is reported on
_FIXED = {"customer_id": ("customer_external_id", "A membership cannot move to another customer."),
          "card_number": ("card_number", "A member's card number cannot change."),
          "joined_on": ("joined_on", "The day a member joined cannot change."),
          "referred_by_card": ("referred_by_card", "A member's referrer cannot change.")}
_UPDATABLE = ("home_store_id", "phone", "birthday", "preferences")


#: a member's home store, given by its external id (``store_external_id``) instead of its code or Trellis id
STORE_REF = Reference("home_store_id", "store_external_id", RetailStore, "store")


# --- references, one query each per batch -----------------------------------------------------------------

def _resolve_stores(batch: ImportBatch, rows: list[tuple[ImportRow, str]]) -> dict[uuid.UUID, RetailStore]:
    """Turn ``store_external_id`` (among the stores the importer may see, one query) and ``home_store_code``
    into ``home_store_id``; load every store the batch names (in one query), so the create rule's
    ``session.get`` of the store reads the identity map."""
    used: dict[int, dict[str, str]] = {}
    resolve_reference(batch, rows, STORE_REF, batch.actor, used)
    for row, _ in rows:
        if "home_store_id" in used.get(row.number, {}):
            row.values["_store_by"] = "store_external_id"
    codes = {str(r.values["home_store_code"]) for r, _ in rows if "home_store_code" in r.values}
    ids = set()
    for row, _ in rows:
        if "home_store_id" in row.values:
            try:
                ids.add(common.parse_uuid(row.values["home_store_id"], "home_store_id"))
            except ValidationFailed:
                pass  # the schema says why
    stores = list(db.session().scalars(select(RetailStore).where(or_(
        RetailStore.code.in_(codes), RetailStore.id.in_(ids))))) if codes or ids else []
    by_code = {s.code: s for s in stores if s.deleted_at is None}
    for row, _ in rows:
        if row.failed:
            continue
        if "home_store_code" in row.values:
            code = str(row.values.pop("home_store_code"))
            if code not in by_code:
                batch.fail(row, "home_store_code", "No store has this code.")
            elif "home_store_id" in row.values:
                other = row.values.get("_store_by", "home_store_id")
                batch.fail(row, other, f"Give {other} or home_store_code, not both.")
            else:
                row.values["home_store_id"] = str(by_code[code].id)
                row.values["_store_by"] = "home_store_code"
        elif "home_store_id" not in row.values:
            batch.fail(row, "store_external_id", "Give the home store: store_external_id, home_store_code or "
                                                 "home_store_id.")
    return {s.id: s for s in stores}


def _store_field(row: ImportRow) -> str:
    """The column the row gave its home store in."""
    return row.values.get("_store_by", "home_store_id")


def _named(row: ImportRow, exc: TrellisError) -> ValidationFailed:
    """A service's refusal as a ValidationFailed naming the file's columns (a Conflict on ``phone``, the
    ledger's ``points`` as ``points_balance``, the store by the column the row gave it in)."""
    fields = dict(exc.fields)
    if "points" in fields:
        fields["points_balance"] = fields.pop("points")
    if "home_store_id" in fields:
        fields[_store_field(row)] = fields.pop("home_store_id")
    return ValidationFailed(exc.message, fields=fields)


def _taken(column: Any, values: set, *, live: bool = True) -> set:
    """Which of ``values`` a membership already has in ``column`` (``live``: among live members only)."""
    if not values:
        return set()
    stmt = select(column).where(column.in_(values))
    if live:
        stmt = stmt.where(RetailMembership.deleted_at.is_(None))
    return set(db.session().scalars(stmt))


# --- writing ----------------------------------------------------------------------------------------------

def _checked(batch: ImportBatch, row: ImportRow) -> tuple[dict, dict] | None:
    """The row's raw values and its values validated by ``MembershipCreate`` (plus the tier and the points
    balance, checked here); None when the row failed."""
    raw = {k: v for k, v in row.values.items() if not k.startswith("_")}
    extra = {k: raw.pop(k) for k in ("tier", "points_balance") if k in raw}
    if "preferences" in raw:
        raw["preferences"] = split_list(raw["preferences"])
    try:
        values = common.validate(schema_for(S.MembershipCreate, raw), raw)
    except ValidationFailed as exc:
        batch.fail_validation(row, _named(row, exc))
        return None
    # the full schema's defaults (schema_for leaves out the fields the row does not have)
    values.setdefault("phone", "")
    values.setdefault("preferences", [])
    if "tier" in extra:
        codes = programme.current().codes
        if str(extra["tier"]) not in codes:
            batch.fail(row, "tier", f"One of: {', '.join(codes)}.")
            return None
        values["tier"] = str(extra["tier"])
    if "points_balance" in extra:
        text = str(extra["points_balance"]).strip()
        if not text.isdigit():
            batch.fail(row, "points_balance", "A whole number of points, 0 or more.")
            return None
        values["points_balance"] = int(text)
        try:
            services.check_balance_limit(0, values["points_balance"], field="points_balance")
        except ValidationFailed as exc:
            batch.fail_validation(row, exc)
            return None
    return raw, values


def write_members(batch: ImportBatch) -> None:
    """``trellis import retail_membership.members``: see the module's docstring."""
    keyed = keyed_rows(batch)
    resolve_customers(batch, keyed)
    # held until the batch is written: the identity map keeps records only while someone does, and the
    # create rule's session.get of each row's store must find it there rather than query once per row
    stores = _resolve_stores(batch, keyed)
    existing = existing_by_external_id(RetailMembership, (ext for _, ext in keyed))
    checked = []
    for row, ext in keyed:
        if row.failed:
            continue
        found = _checked(batch, row)
        if found is not None:
            checked.append((row, ext, *found))
    _update_existing(batch, [c for c in checked if c[1] in existing], existing)
    _create_new(batch, [c for c in checked if c[1] not in existing])
    del stores


def _update_existing(batch: ImportBatch, rows: list, existing: dict[str, RetailMembership]) -> None:
    if not rows:
        return
    records = [existing[ext] for _, ext, _, _ in rows]
    referrers = {r.referred_by_id for r in records if r.referred_by_id is not None}
    cards = dict(db.session().execute(select(RetailMembership.id, RetailMembership.card_number).where(
        RetailMembership.id.in_(referrers))).all()) if referrers else {}
    balances = services.balances([r.id for r in records]) if any("points_balance" in v for *_, v in rows) else {}
    for row, ext, raw, values in rows:
        record = existing[ext]
        current = {"customer_id": record.customer_id, "card_number": record.card_number,
                   "joined_on": record.joined_on, "referred_by_card": cards.get(record.referred_by_id)}
        fixed = [k for k in _FIXED if k in values and values[k] != current[k]]
        if fixed:
            column, reason = _FIXED[fixed[0]]
            batch.fail(row, "customer_id" if column == "customer_external_id" and "customer_id" in batch._columns
                       else column, reason)
            continue
        if "phone" in values:
            values["phone"] = values["phone"].strip()
        changed = [k for k in _UPDATABLE if k in raw and getattr(record, k) != values[k]]
        tier = values.get("tier") if values.get("tier", record.tier) != record.tier else None
        points = values["points_balance"] - balances[record.id] if "points_balance" in values else 0
        if not changed and tier is None and not points:
            row.outcome = "unchanged"
            continue
        try:
            with db.session().begin_nested():
                if changed:
                    services.update_membership(batch.actor, record.id, {
                        **{k: raw[k] for k in changed}, "version": record.version})
                if tier is not None:
                    services.set_tier(batch.actor, record.id, {"tier": tier, "reason": REASON})
                if points:
                    services.adjust(batch.actor, record.id, {"points": points, "reason": REASON})
        except (ValidationFailed, Conflict, NotFound, Forbidden) as exc:  # this row alone fails
            batch.fail_validation(row, _named(row, exc))
            continue
        row.outcome = "updated"


def _create_new(batch: ImportBatch, rows: list) -> None:
    if not rows:
        return
    user, rec, now = batch.actor, batch.recorder, batch.now
    normalised = []
    for entry in rows:
        try:
            services._phone(entry[3])   # the create's normalisation: trimmed, and its key for the till
        except ValidationFailed as exc:
            batch.fail_validation(entry[0], exc)
            continue
        normalised.append(entry)
    rows = normalised
    taken_cards = _taken(RetailMembership.card_number, {v["card_number"] for *_, v in rows}, live=False)
    enrolled = _taken(RetailMembership.customer_id, {v["customer_id"] for *_, v in rows}, live=False)
    taken_phones = _taken(RetailMembership.phone_key, {v["phone_key"] for *_, v in rows
                                                        if v["phone_key"].startswith("+")})
    wanted = {v["referred_by_card"] for *_, v in rows if v.get("referred_by_card")}
    referrers = dict(db.session().execute(select(RetailMembership.card_number, RetailMembership.id).where(
        RetailMembership.card_number.in_(wanted), RetailMembership.deleted_at.is_(None))).all()) if wanted else {}
    lowest = programme.current().lowest.code
    for row, ext, _raw, values in rows:
        try:
            services._check_home_store(user, values["home_store_id"], _store_field(row))
        except ValidationFailed as exc:
            batch.fail_validation(row, exc)
            continue
        problem = (("card_number", "This card number is taken.") if values["card_number"] in taken_cards else
                   ("customer_external_id", "This customer already has a membership.")
                   if values["customer_id"] in enrolled else
                   ("phone", "Another member has this phone number.") if values["phone_key"] in taken_phones else
                   ("referred_by_card", "No member has this card number.")
                   if values.get("referred_by_card") and values["referred_by_card"] not in referrers else None)
        if problem:
            column = problem[0]
            if column == "customer_external_id" and "customer_external_id" not in batch._columns:
                column = "customer_id"
            batch.fail(row, column, problem[1])
            continue
        tier = values.get("tier", lowest)
        columns = {"customer_id": values["customer_id"], "card_number": values["card_number"],
                   "phone": values["phone"], "phone_key": values["phone_key"],
                   "home_store_id": values["home_store_id"], "joined_on": values.get("joined_on") or now.date(),
                   "tier": tier, "tier_pinned": tier != lowest, "tier_pinned_until": None,
                   "birthday": values.get("birthday"), "preferences": values["preferences"],
                   "referred_by_id": referrers.get(values.get("referred_by_card")),
                   "spend_total": Decimal("0"), "purchase_count": 0, "first_purchase_at": None, "last_purchase_at": None,
                   "ledger_seq": 0, "external_id": ext, "created_at": now, "updated_at": now, "version": 1,
                   "deleted_at": None}
        member = rec.add(RetailMembership, **columns)
        rec.change("created", member, audit.created_fields(SimpleNamespace(**columns), services.MEMBER_AUDITED),
                   payload={"customer_id": values["customer_id"]}, at=now)
        if tier != lowest:
            rec.start(services.TIER_WORKFLOW, member, tier, at=now, trigger=IMPORT, reason=REASON)
        if values.get("points_balance"):
            points = values["points_balance"]
            entry = rec.add(RetailPointsEntry, membership_id=member.id, kind="adjust", points=points,
                            balance_after=points, occurred_at=now, expires_at=services.lot_expiry(now),
                            purchase_id=None, refund_id=None, campaign_id=None, reason=REASON,
                            actor_id=user.id, created_at=now)
            rec.change("created", entry, {"kind": (None, "adjust"), "points": (None, points),
                                          "reason": (None, REASON)},
                       payload={"membership_id": member.id, "balance_after": points}, at=now)
        # a later row of the batch may not take what this one took
        taken_cards.add(values["card_number"])
        enrolled.add(values["customer_id"])
        if values["phone_key"].startswith("+"):
            taken_phones.add(values["phone_key"])
        referrers.setdefault(values["card_number"], member.id)
        row.outcome = "created"


# --- export -----------------------------------------------------------------------------------------------

_NO_STORE = {"store_external_id": None, "home_store_code": None}


def export_members(records: list[RetailMembership]) -> list[dict]:
    """Members as import rows: the customer by external id, the store by external id where it has one
    (else by code), the referrer by card number, the points balance as the list shows it — one query each
    per batch."""
    refs = customer_refs(m.customer_id for m in records)
    store_ids = {m.home_store_id for m in records}
    # one of the two columns: the external id where the store has one (a code might differ elsewhere)
    stores = {i: {"store_external_id": ext, "home_store_code": None} if ext else
              {"store_external_id": None, "home_store_code": code}
              for i, ext, code in db.session().execute(select(RetailStore.id, RetailStore.external_id,
                                                              RetailStore.code).where(RetailStore.id.in_(store_ids)))
              } if store_ids else {}
    referrers = {m.referred_by_id for m in records if m.referred_by_id is not None}
    cards = dict(db.session().execute(select(RetailMembership.id, RetailMembership.card_number).where(
        RetailMembership.id.in_(referrers))).all()) if referrers else {}
    balances = services.balances([m.id for m in records])
    return [{"external_id": m.external_id, **refs[m.customer_id], "card_number": m.card_number,
             **stores.get(m.home_store_id, _NO_STORE), "phone": m.phone or None, "joined_on": m.joined_on,
             "birthday": m.birthday, "preferences": list(m.preferences or []) or None,
             "referred_by_card": cards.get(m.referred_by_id), "tier": m.tier, "points_balance": balances[m.id]}
            for m in records]


def import_types() -> list[ImportType]:
    """The plugin's import types (``trellis_import_types``), each exportable: the stores (declared once:
    ``RecordSpec.import_type``) and the members, whose file names the home store by ``store_external_id``."""
    from plugins.retail_membership.services import STORES

    # the store is exported by its external id or code (either names it in another database too), not its id
    columns = tuple(c.name for c in MEMBER_COLUMNS if c.name != "home_store_id")
    return [
        STORES.import_type("retail_membership.stores", description="Stores (门店): code, name, kind, city and "
                           "address.", route="/retail-membership/stores"),
        ImportType("retail_membership.members", "Member cards: the customer, card number, home store, tier and "
                   "points.", MEMBER_COLUMNS, write_members, models=(RetailMembership, RetailPointsEntry),
                   export=Export(services.filtered_memberships, export_members, columns, S.MembershipFilter,
                                 route="/retail-membership/memberships")),
    ]


def export_types() -> list:
    """The lists exported but not imported (``trellis_export_types``), each in the columns of its REST
    output, with its list's filters and scope: the records declared once (``RecordSpec``), and the
    purchases, refunds and lapsed regulars through their lists' SELECTs (``services.filtered_*``), and the
    two lists under one member, its occasions and its points ledger, with ``membership_id`` a required
    filter (the ledger's running ``balance_after`` attached per batch by ``services.statement_views``).
    Stores are exported by their import type, in the import's columns.

    Campaigns are exported, not imported: a campaign's state is its workflow's (launching one draws its
    random control group and sends the offer; closing measures the lift), so a file could carry a launched
    campaign only as a draft without its groups — not the campaign it exported — and its segment holds
    stores' Trellis ids in JSON, which do not move between databases."""
    from core.exports import schema_export
    from plugins.retail_membership.campaigns import CAMPAIGNS

    return [CAMPAIGNS.list_export("retail_membership.campaigns", route="/retail-membership/campaigns"),
            schema_export("retail_membership.purchases", "POS purchases, with their lines (as JSON text).",
                          services.filtered_purchases, S.PurchaseOut, filters=S.PurchaseFilter,
                          route="/retail-membership/purchases"),
            schema_export("retail_membership.refunds", "Refunds of purchases.", services.filtered_refunds,
                          S.RefundOut, filters=S.RefundFilter, route="/retail-membership/refunds"),
            schema_export("retail_membership.lapses", "Lapsed regulars flagged by `trellis tick`.",
                          services.filtered_lapses, S.LapseOut, filters=S.LapseFilter,
                          route="/retail-membership/lapses"),
            schema_export("retail_membership.occasions", "One member's family occasions (filter membership_id, "
                          "required).", services.filtered_occasions, S.OccasionOut, filters=S.OccasionListFilter,
                          route="/retail-membership/memberships/{membership_id}/occasions"),
            schema_export("retail_membership.ledger", "One member's points ledger, balance_after the running "
                          "balance as the ledger shows it (filter membership_id, required).",
                          services.filtered_ledger, S.PointsEntryOut, filters=S.LedgerListFilter,
                          views=services.statement_views,
                          route="/retail-membership/memberships/{membership_id}/ledger")]
