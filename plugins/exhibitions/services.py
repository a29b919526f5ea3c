"""Exhibitions (会展): The plugin's service functions: the only place its records are written; each takes
the acting user first.

Who may do what (roles from ``trellis_roles``, visibility from ``trellis_record_scopes``):
- admins and organiser staff run every edition: shows, editions, booths, participations, registrations,
  scans, invitations, follow-ups; they see every record and every visitor field;
- exhibitor users work for one company (``exhibitions_exhibitor_user``): they see the editions their
  company takes part in, its participations and booths, and its own leads, matches and meetings — with
  only the visitor fields the organiser allows for the edition (``lead_visible_fields``), enforced here;
- managers and reps read shows, editions and the participations and registrations of customers they see.
A record outside the caller's scope is NotFound.
"""
from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any, Iterable, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from marshmallow import fields, validate
from sqlalchemy import String, cast, exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from core import db
from core.db import utcnow
from core.errors import Conflict, Forbidden, NotFound, Unavailable, ValidationFailed
from core.phones import phone_key
from core.records import FieldSpec, FilterSpec, RecordSpec
from core.models import Customer, Interaction, User
from core.normalize import email_key  # with core.phones.phone_key: how returning visitors are found (shared)
from core.services import audit, common, customers, interactions, paging, workflow
from core.services.bulk import BulkRow
from core.services.notifications import notify
from core.services.permissions import require_actor, require_role, visibility
from plugins.exhibitions import bulk
from plugins.exhibitions import labels as L
from plugins.exhibitions import schemas as S
from plugins.exhibitions.models import (
    CheckIn, ExhibitionBooth, ExhibitionEdition, ExhibitionInvitation, ExhibitionLead, ExhibitionMeeting,
    ExhibitionShow, ExhibitorParticipation, ExhibitorUser, SurveyAnswer, VisitorRegistration,
)
from plugins.exhibitions.workflows import BOOKED, MEETING, PARTICIPATION

SOURCE = "exhibitions"
STAFF = ("admin", L.ORGANISER)
READERS = ("admin", L.ORGANISER, "manager", "rep")
ALL_VISITOR_FIELDS = L.values(L.VISITOR_FIELD)
INTENT_WEIGHT = {"high": 3, "medium": 2, "low": 1, "none": 0}
#: how far before the first and after the last show day (local dates at the venue) a lead may be captured
#: or a meeting held: move-in day, pre-show appointments, the day after
DATE_MARGIN = timedelta(days=3)
#: a meeting takes this long: a buyer or an exhibitor holds one accepted meeting per slot
MEETING_SLOT = timedelta(minutes=30)
#: a capture time a little ahead of the server's clock is a scanner's clock drifting, not the future
CLOCK_SKEW = timedelta(minutes=5)


# --- who is who --------------------------------------------------------------------------------------

def is_staff(actor: Any) -> bool:
    return require_actor(actor).role in STAFF


def require_staff(actor: Any) -> User:
    return require_role(actor, *STAFF)


def require_staff_or_exhibitor(actor: Any) -> User:
    """Organiser staff, or an exhibitor user acting for its own company: managers and reps only read
    the participations of their customers, they never write for them nor see their buyers."""
    return require_role(actor, *STAFF, L.EXHIBITOR)


def company_ids_of(actor: Any):
    """SELECT of the company an exhibitor user works for (empty for everyone else)."""
    return select(ExhibitorUser.company_id).where(ExhibitorUser.user_id == actor.id)


def own_participation_ids(actor: Any):
    return select(ExhibitorParticipation.id).where(ExhibitorParticipation.company_id.in_(company_ids_of(actor)))


def _visible(actor: Any, model: type, *, deleted: bool = False):
    stmt = select(model).where(visibility(actor, model))
    if hasattr(model, "deleted_at"):
        stmt = stmt.where(common.not_deleted(model, deleted))
    return stmt


def _get(actor: Any, model: type, record_id: Any, what: str, *, deleted: bool = False, options=()):
    rid = common.parse_uuid(record_id)
    row = db.session().scalars(_visible(actor, model, deleted=deleted).where(model.id == rid).options(*options)).first()
    if row is None:
        raise NotFound(f"No {what} with this id.")
    return row


def _ref(actor: Any, model: type, record_id: Any, field_name: str, what: str):
    """Load a referenced record for a write: out of scope or missing is a 422 on the field."""
    try:
        return _get(actor, model, record_id, what)
    except NotFound:
        raise ValidationFailed(fields={field_name: [f"No {what} with this id."]}) from None


def _filtered(actor: Any, model: type, filter_schema, filters, *, special=None):
    """The SELECT of the ``model`` records visible to ``actor`` that ``filters`` (checked by
    ``filter_schema``: a bad one is a ValidationFailed naming it) keep: what a list pages through and
    ``trellis export`` reads whole."""
    f = common.validate(filter_schema, dict(filters or {}))
    stmt = _visible(actor, model, deleted=f.pop("deleted", False))
    if special:
        stmt = special(stmt, f)
    for key, value in f.items():
        stmt = stmt.where(getattr(model, key) == value)
    return stmt


def _list(actor: Any, model: type, filter_schema, filters, page, sort, sortable, default_sort, *, special=None,
          load=()):
    """One page of ``model`` records visible to ``actor``; ``load`` names relationships the page's rows
    show, loaded in one statement each rather than one per row."""
    stmt = _filtered(actor, model, filter_schema, filters, special=special).options(
        *(selectinload(rel) for rel in load))
    return common.paginate(stmt, page, common.parse_sort(sort, sortable, default_sort), model.id)


def _update(actor: Any, record: Any, schema, data: Mapping[str, Any], *, check=None) -> Any:
    values = common.validate_update(schema, data)
    common.check_version(record, values.pop("version"))
    if check:
        check(values)
    changes = common.apply_changes(record, values)
    db.session().flush()
    if changes:
        audit.record_change(actor, "updated", record, changes)
    return record


def _delete(actor: Any, record: Any) -> None:
    common.soft_delete(record)
    audit.record_change(actor, "deleted", record)


def _restore(actor: Any, record: Any) -> Any:
    common.restore(record)
    audit.record_change(actor, "restored", record)
    return record


def _created(actor: Any, record: Any, fields: list[str], payload: Mapping[str, Any] | None = None) -> None:
    db.session().add(record)
    try:
        db.session().flush()
    except IntegrityError:
        raise Conflict("A record with these values already exists.") from None
    audit.record_change(actor, "created", record, audit.created_fields(record, fields), payload=payload)


def _timeline(actor: Any, customer_id: uuid.UUID, kind: str, subject: str, *, occurred_at: datetime | None = None,
              notes: str = "") -> Interaction:
    """Write a done entry on a customer's timeline (``source="exhibitions"``) through the core's
    ``interactions.record_on_behalf``: the caller has already checked the actor may touch the record
    causing the entry (an exhibitor user may not read the visitor's customer record itself)."""
    return interactions.record_on_behalf(actor, {
        "customer_id": str(customer_id), "kind": kind, "subject": subject[:200], "notes": notes,
        "direction": "inbound", "status": "done", "occurred_at": (occurred_at or utcnow()).isoformat()},
        source=SOURCE)


# --- returning visitors ------------------------------------------------------------------------------

class _Returning:
    """Finds returning visitors by normalised e-mail or phone among the live registrations of every edition
    (and among the visitors an import is adding, once :meth:`add` has been told of them). E-mail first; a
    phone number matches only a person whose e-mail does not contradict it (none on one side, or the same),
    so colleagues sharing a switchboard number with their own addresses stay different people. When several
    people share a key, the one registered first wins."""

    def __init__(self, email_keys: Iterable[str], phone_keys: Iterable[str]):
        self.by_email: dict[str, uuid.UUID] = {}
        self.by_phone: dict[str, list[tuple[str, uuid.UUID]]] = {}
        emails, phones = sorted({k for k in email_keys if k}), sorted({k for k in phone_keys if k})
        rows = []
        R = VisitorRegistration
        base = (select(R.visitor_id, R.email_key, R.phone_key).join(Customer, Customer.id == R.visitor_id)
                .where(R.deleted_at.is_(None), Customer.deleted_at.is_(None), Customer.kind == "person"))
        for keys, column in ((emails, R.email_key), (phones, R.phone_key)):
            for start in range(0, len(keys), 900):
                rows += db.session().execute(base.where(column.in_(keys[start:start + 900]))
                                             .order_by(R.registered_at, R.id)).all()
        for vid, ek, pk in rows:
            self.add(vid, ek, pk)

    def add(self, visitor_id: uuid.UUID, ek: str, pk: str) -> None:
        if ek:
            self.by_email.setdefault(ek, visitor_id)
        if pk and (ek, visitor_id) not in self.by_phone.get(pk, []):
            self.by_phone.setdefault(pk, []).append((ek, visitor_id))

    def find(self, ek: str, pk: str) -> tuple[uuid.UUID | None, str | None]:
        """The returning visitor of these keys and the field that found them (``email``/``phone``)."""
        if ek and ek in self.by_email:
            return self.by_email[ek], "email"
        for known_email, vid in self.by_phone.get(pk, []) if pk else []:
            if not ek or not known_email:
                return vid, "phone"
        return None, None


# --- shows: declared once (core.records), the organiser's staff keep them ---------------------------

#: the id in the system a show, edition or booth was imported from: shown, set only by an import
_EXTERNAL = {"external_id": FieldSpec(read_only=True)}

SHOWS = RecordSpec(
    ExhibitionShow, "Exhibition", noun="exhibition", writers=STAFF, sortable=("name", "created_at"),
    default_sort="name",
    fields={"name": FieldSpec(validate=validate.Length(min=1, max=200), filter={"q": FilterSpec(
                "contains", "Only shows whose name contains this text (case-insensitive).")}),
            "description": FieldSpec(validate=validate.Length(max=20000)), **_EXTERNAL})
create_exhibition = SHOWS.create   # the demo data and the tests make shows through it


# --- editions: declared once; the venue's time zone and the dates' order are checked in hooks -------

def _check_timezone(values: Mapping[str, Any]) -> None:
    if "timezone" in values:
        try:
            ZoneInfo(values["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationFailed(fields={"timezone": ["Not a known IANA time zone (e.g. Asia/Shanghai)."]}) from None


def _check_edition(user, values: dict, edition: ExhibitionEdition | None = None) -> None:
    """A known time zone, ends_on not before starts_on, each visible field once (a new edition shows
    exhibitors the default fields): a hook before create and update."""
    _check_timezone(values)
    starts = values.get("starts_on", edition.starts_on if edition is not None else None)
    ends = values.get("ends_on", edition.ends_on if edition is not None else None)
    if starts and ends and ends < starts:
        raise ValidationFailed(fields={"ends_on": ["Must not be before starts_on."]})
    if edition is None:
        values.setdefault("lead_visible_fields", list(L.DEFAULT_VISIBLE_FIELDS))
    if "lead_visible_fields" in values:
        values["lead_visible_fields"] = list(dict.fromkeys(values["lead_visible_fields"]))


_TEXT_LIST = fields.List(fields.String())   # how the edition's lists are shown
EDITIONS = RecordSpec(
    ExhibitionEdition, "ExhibitionEdition", schema_prefix="Edition", noun="edition", writers=STAFF,
    sortable=("starts_on", "name", "created_at"), default_sort="-starts_on",
    fields={"exhibition_id": FieldSpec(create_only=True, filter=True),
            "name": FieldSpec(validate=validate.Length(min=1, max=200)),
            "halls": FieldSpec(field=fields.List(fields.String(validate=validate.Length(min=1, max=40)),
                                                 validate=validate.Length(max=50))),
            "timezone": FieldSpec(validate=validate.Length(min=1, max=60)),
            "lead_visible_fields": FieldSpec(field=fields.List(fields.String(validate=S.one_of(L.VISITOR_FIELD)),
                metadata={"description": "Visitor fields exhibitors may read on leads, matches and meetings."})),
            **_EXTERNAL},
    extra={"out": {"halls": _TEXT_LIST, "lead_visible_fields": _TEXT_LIST}},
    hooks={"before_create": _check_edition,
           "before_update": lambda user, edition, values: _check_edition(user, values, edition)})
list_editions, get_edition, create_edition = EDITIONS.list, EDITIONS.get, EDITIONS.create


def previous_edition(edition: ExhibitionEdition) -> ExhibitionEdition | None:
    """The edition of the same show held just before ``edition`` (None for the first)."""
    return db.session().scalars(
        select(ExhibitionEdition).where(ExhibitionEdition.exhibition_id == edition.exhibition_id,
                                        ExhibitionEdition.starts_on < edition.starts_on,
                                        ExhibitionEdition.deleted_at.is_(None))
        .order_by(ExhibitionEdition.starts_on.desc()).limit(1)).first()


def show_day(edition: ExhibitionEdition, instant: datetime) -> date:
    """The local date at the venue of an instant."""
    return instant.astimezone(ZoneInfo(edition.timezone)).date()


# --- booths: declared once; hall, number, a sold booth's price and an assigned booth's delete in hooks --

def _check_booth(user, values: Mapping[str, Any], booth: ExhibitionBooth | None = None) -> None:
    """One of the edition's halls; a number the edition has no other booth with (409 on number: the
    table's unique constraint, a deleted booth included); a sold booth keeps the price it was sold at."""
    edition_id = values["edition_id"] if booth is None else booth.edition_id
    edition = db.session().get(ExhibitionEdition, edition_id)
    if values.get("hall") and edition.halls and values["hall"] not in edition.halls:
        raise ValidationFailed(fields={"hall": [f"Not a hall of this edition: {', '.join(edition.halls)}."]})
    if "number" in values and (booth is None or values["number"] != booth.number) and db.session().scalar(
            select(ExhibitionBooth.id).where(ExhibitionBooth.edition_id == edition_id,
                                             ExhibitionBooth.number == values["number"])) is not None:
        raise Conflict("This edition already has a booth with this number.",
                       fields={"number": ["The edition has a booth with this number (a deleted one counts)."]})
    if booth is not None and booth.status == "sold" and "price" in values and values["price"] != booth.price:
        raise Conflict("The booth is sold: its price is what the exhibitor paid.", fields={"price": [
            f"The booth is sold at {booth.price:.2f}; its price no longer changes."]})


def _check_new_booths(user, items: list[dict]) -> dict[int, Conflict | ValidationFailed]:
    """``_check_booth`` for an import batch's new booths (``before_import``): their editions' halls and the
    numbers their editions already have (a deleted booth counts), one query each for the batch; a number
    given twice for an edition in the batch refuses the later row."""
    edition_ids = {v["edition_id"] for v in items}
    halls = dict(db.session().execute(select(ExhibitionEdition.id, ExhibitionEdition.halls).where(
        db.in_values(ExhibitionEdition.id, edition_ids))).all()) if edition_ids else {}
    taken = set(db.session().execute(select(ExhibitionBooth.edition_id, ExhibitionBooth.number).where(
        db.in_values(ExhibitionBooth.edition_id, edition_ids),
        db.in_values(ExhibitionBooth.number, {v["number"] for v in items}))).all()) if items else set()
    refused: dict[int, Conflict | ValidationFailed] = {}
    seen: set = set()
    for index, values in enumerate(items):
        key, known = (values["edition_id"], values["number"]), halls.get(values["edition_id"]) or []
        if values.get("hall") and known and values["hall"] not in known:
            refused[index] = ValidationFailed(fields={"hall": [f"Not a hall of this edition: {', '.join(known)}."]})
        elif key in taken:
            refused[index] = Conflict("This edition already has a booth with this number.", fields={
                "number": ["The edition has a booth with this number (a deleted one counts)."]})
        elif key in seen:
            refused[index] = Conflict(fields={"number": ["An earlier row of the file has this edition and number."]})
        seen.add(key)
    return refused


def _unassigned(user, booth: ExhibitionBooth) -> None:
    if booth.participation_id is not None:
        raise ValidationFailed(fields={"participation_id": ["The booth is assigned: release it first."]})


BOOTHS = RecordSpec(
    ExhibitionBooth, "ExhibitionBooth", schema_prefix="Booth", noun="booth", writers=STAFF,
    sortable=("number", "hall", "area", "price"), default_sort="number",
    fields={"edition_id": FieldSpec(create_only=True, filter=True),
            "number": FieldSpec(validate=validate.Length(min=1, max=20)),
            "hall": FieldSpec(filter=True),
            "area": FieldSpec(required=True, validate=validate.Range(min=0, min_inclusive=False, max=100000)),
            "price": FieldSpec(money=True, default=0, validate=validate.Range(min=0, max=10**11)),
            "status": FieldSpec(read_only=True, filter=True, choices=L.values(L.BOOTH_STATUS)),
            "participation_id": FieldSpec(read_only=True, filter=True),
            "purchase_interaction_id": FieldSpec(hidden=True), **_EXTERNAL},
    hooks={"before_create": _check_booth, "before_import": _check_new_booths,
           "before_update": lambda user, booth, values: _check_booth(user, values, booth),
           "before_delete": _unassigned})
list_booths, get_booth, create_booth = BOOTHS.list, BOOTHS.get, BOOTHS.create


# --- exhibitor users ---------------------------------------------------------------------------------

def link_exhibitor_user(actor, data) -> ExhibitorUser:
    """Say which company an ``exhibitor`` user works for (one company per user)."""
    require_staff(actor)
    values = common.validate(S.ExhibitorUserLink, data)
    user = db.session().get(User, values["user_id"])
    if user is None or user.deleted_at is not None:
        raise ValidationFailed(fields={"user_id": ["No user with this id."]})
    if user.role != L.EXHIBITOR:
        raise ValidationFailed(fields={"user_id": [f"The user's role is '{user.role}', not '{L.EXHIBITOR}'."]})
    company = _company(actor, values["company_id"], "company_id")
    link = db.session().scalar(select(ExhibitorUser).where(ExhibitorUser.user_id == user.id))
    if link is not None:
        old = link.company_id
        link.company_id = company.id
        db.session().flush()
        if old != company.id:
            audit.record_change(actor, "updated", link, {"company_id": (old, company.id)})
        return link
    link = ExhibitorUser(user_id=user.id, company_id=company.id)
    _created(actor, link, ["user_id", "company_id"])
    return link


def _exhibitor_users(actor, company_id: uuid.UUID | None):
    """The links the actor sees (organiser staff every one, anybody else their own company's), of one
    company when ``company_id`` is given."""
    stmt = select(ExhibitorUser)
    if not is_staff(actor):
        stmt = stmt.where(ExhibitorUser.company_id.in_(company_ids_of(actor)))
    if company_id is not None:
        stmt = stmt.where(ExhibitorUser.company_id == company_id)
    return stmt


def filtered_exhibitor_users(actor, filters=None):
    """The SELECT of the links :func:`list_exhibitor_users` lists, with its filter
    (``ExhibitionExhibitorUserFilter``: ``company_id``; a bad one is a ValidationFailed naming it),
    unordered: what ``trellis export`` reads."""
    f = common.validate(S.ExhibitionExhibitorUserFilter, dict(filters or {}))
    return _exhibitor_users(actor, f.get("company_id"))


def list_exhibitor_users(actor, company_id=None) -> list[ExhibitorUser]:
    stmt = _exhibitor_users(actor, None if company_id is None else common.parse_uuid(company_id, "company_id"))
    return list(db.session().scalars(stmt.order_by(ExhibitorUser.created_at, ExhibitorUser.id)))


def unlink_exhibitor_user(actor, user_id) -> None:
    require_staff(actor)
    link = db.session().scalar(select(ExhibitorUser).where(
        ExhibitorUser.user_id == common.parse_uuid(user_id, "user_id")))
    if link is None:
        raise NotFound("This user is linked to no company.")
    audit.record_change(actor, "deleted", link, {"company_id": (link.company_id, None)})
    db.session().delete(link)
    db.session().flush()


def users_of_company(company_id: uuid.UUID) -> list[User]:
    return list(db.session().scalars(
        select(User).join(ExhibitorUser, ExhibitorUser.user_id == User.id)
        .where(ExhibitorUser.company_id == company_id, User.is_active.is_(True), User.deleted_at.is_(None))
        .order_by(User.email)))


# --- participations ----------------------------------------------------------------------------------

PARTICIPATION_SORT = {"created_at": ExhibitorParticipation.created_at, "status": ExhibitorParticipation.status,
                      "updated_at": ExhibitorParticipation.updated_at}
#: moves worth a line on the company's timeline (every move is in the workflow history anyway)
TIMELINE_STATES = ("applied", "confirmed", "attended", "cancelled")
PARTICIPATION_AUDITED = ["edition_id", "company_id", "status", "is_key", "categories", "notes"]


def _company(actor, company_id, field_name: str) -> Customer:
    try:
        company = customers.get(actor, company_id)
    except NotFound:
        raise ValidationFailed(fields={field_name: ["No customer with this id."]}) from None
    if company.kind != "company":
        raise ValidationFailed(fields={field_name: ["Must be a company customer."]})
    return company


def filtered_participations(actor, filters=None):
    """The participations the actor's list shows with ``filters`` (``ParticipationFilter``), unpaged."""
    return _filtered(actor, ExhibitorParticipation, S.ParticipationFilter, filters)


def list_participations(actor, filters=None, *, page=common.PageRequest(), sort=None):
    f = dict(filters or {})
    return _list(actor, ExhibitorParticipation, S.ParticipationFilter, f, page, sort, PARTICIPATION_SORT,
                 "created_at", load=(ExhibitorParticipation.company,))


def get_participation(actor, participation_id, *, deleted=False) -> ExhibitorParticipation:
    return _get(actor, ExhibitorParticipation, participation_id, "participation", deleted=deleted)


def create_participation(actor, data) -> ExhibitorParticipation:
    """Invite a company to an edition (staff), or apply for one's own company (an exhibitor user: the
    participation starts in ``applied``)."""
    user = require_actor(actor)
    values = common.validate(S.ParticipationCreate, data)
    edition = _ref(actor, ExhibitionEdition, values["edition_id"], "edition_id", "edition")
    company = _company(actor, values["company_id"], "company_id")
    if not is_staff(user):
        if user.role != L.EXHIBITOR or company.id not in set(db.session().scalars(company_ids_of(user))):
            raise Forbidden("Only organiser staff may invite a company; an exhibitor may apply for its own.")
        values["is_key"] = False
    existing = db.session().scalar(select(ExhibitorParticipation).where(
        ExhibitorParticipation.edition_id == edition.id, ExhibitorParticipation.company_id == company.id))
    if existing is not None:
        raise Conflict("This company already has a participation in this edition"
                       + (" (deleted: restore it)." if existing.deleted_at else "."),
                       fields={"company_id": ["Already taking part in this edition."]})
    participation = ExhibitorParticipation(**values, status="invited")
    _created(actor, participation, PARTICIPATION_AUDITED)
    _timeline(actor, company.id, L.KIND_PARTICIPATION, f"Invited to exhibit at {edition.name}")
    if not is_staff(user):
        change_participation_status(actor, participation.id, {"to": "applied", "reason": "applied online"})
    return participation


def update_participation(actor, participation_id, data) -> ExhibitorParticipation:
    require_staff(actor)
    return _update(actor, get_participation(actor, participation_id), S.ParticipationUpdate, data)


def delete_participation(actor, participation_id) -> None:
    require_staff(actor)
    participation = get_participation(actor, participation_id)
    _release_booths(actor, participation)
    _delete(actor, participation)


def restore_participation(actor, participation_id) -> ExhibitorParticipation:
    require_staff(actor)
    return _restore(actor, get_participation(actor, participation_id, deleted=True))


def _booths_of(participation: ExhibitorParticipation) -> list[ExhibitionBooth]:
    return list(db.session().scalars(select(ExhibitionBooth).where(
        ExhibitionBooth.participation_id == participation.id, ExhibitionBooth.deleted_at.is_(None))))


def _set_booth(actor, booth: ExhibitionBooth, status: str, participation_id: uuid.UUID | None, **more) -> None:
    changes = common.apply_changes(booth, {"status": status, "participation_id": participation_id, **more})
    db.session().flush()
    if changes:
        audit.record_change(actor, "updated", booth, changes)


PAID = ("paid", "arrived", "attended")


def booths_to_charge(company_id: uuid.UUID, booths: list[ExhibitionBooth]) -> list[ExhibitionBooth]:
    """The booths a paying company has not been charged for yet: those without a purchase, or whose
    purchase is another company's (a booth released and sold again). A participation cancelled and paid
    again keeps its booths' purchase: it is not charged twice."""
    ids = {b.purchase_interaction_id for b in booths if b.purchase_interaction_id is not None}
    owners = dict(db.session().execute(select(Interaction.id, Interaction.customer_id)
                                       .where(Interaction.id.in_(ids))).all()) if ids else {}
    return [b for b in booths if owners.get(b.purchase_interaction_id) != company_id]


def booth_purchase(edition: ExhibitionEdition, booths: list[ExhibitionBooth]) -> dict | None:
    """The purchase (core interaction values, kind ``purchase``) that ``booths`` being paid for makes, or
    None when they cost nothing (a complimentary booth is no purchase)."""
    total = sum((b.price or 0 for b in booths), Decimal("0"))
    if not booths or total <= 0:
        return None
    area = sum((b.area or 0 for b in booths), Decimal("0"))
    n = len(booths)
    return {"kind": "purchase", "direction": "inbound", "status": "done", "amount": str(total),
            "subject": f"Booth{'s' if n > 1 else ''} at {edition.name}: {n} booth{'s' if n > 1 else ''}, "
                       f"{float(area):g} m²"[:200],
            "notes": "; ".join(f"{b.number}" + (f" (hall {b.hall})" if b.hall else "") + f": {float(b.area):g} m², "
                               f"{b.price:.2f}" for b in sorted(booths, key=lambda b: b.number))}


def _sell(actor, participation: ExhibitorParticipation, booths: list[ExhibitionBooth]) -> None:
    """Mark ``booths`` sold to a paying participation; those not yet charged to its company are one
    purchase on the company's history (through the core's interactions, so its lifecycle stage, level
    and analytics follow), which each of them remembers."""
    due = booths_to_charge(participation.company_id, booths)
    values = booth_purchase(db.session().get(ExhibitionEdition, participation.edition_id), due)
    purchase = None
    if values is not None:
        purchase = interactions.record_on_behalf(actor, {
            **values, "customer_id": str(participation.company_id), "occurred_at": utcnow().isoformat()},
            source=SOURCE)
    for booth in booths:
        more = {"purchase_interaction_id": purchase.id} if purchase is not None and booth in due else {}
        _set_booth(actor, booth, "sold", participation.id, **more)


def _release_booths(actor, participation: ExhibitorParticipation) -> None:
    for booth in _booths_of(participation):
        _set_booth(actor, booth, "available", None)


def change_participation_status(actor, participation_id, data) -> ExhibitorParticipation:
    """Move a participation through its workflow. Exhibitor users may apply and cancel for their own
    company; staff make every move. Paying sells the reserved booths; cancelling frees them."""
    user = require_staff_or_exhibitor(actor)
    participation = get_participation(actor, participation_id)
    values = common.validate(S.StatusChange, data)
    to = values["to"]
    if not is_staff(user) and to not in ("applied", "cancelled"):
        raise Forbidden("Exhibitors may apply or cancel; the organiser confirms and records payment and arrival.")
    workflow.transition(actor, PARTICIPATION, participation, to, reason=values["reason"], argument="to")
    if to == "cancelled":
        _release_booths(actor, participation)
    elif to in PAID:
        _sell(actor, participation, _booths_of(participation))
    if to in TIMELINE_STATES:
        edition = db.session().get(ExhibitionEdition, participation.edition_id)
        _timeline(actor, participation.company_id, L.KIND_PARTICIPATION,
                  f"Participation at {edition.name}: {to}", notes=values["reason"])
    return participation


def participation_history(actor, participation_id):
    return workflow.history(PARTICIPATION, get_participation(actor, participation_id))


def filtered_participation_history(actor, filters=None):
    """The SELECT of the moves :func:`participation_history` lists, the participation a filter
    (``ExhibitionParticipationHistoryFilter``: ``participation_id`` required; missing, or one the actor may
    not see, is a ValidationFailed naming it), unordered: what ``trellis export`` reads."""
    f = common.validate(S.ExhibitionParticipationHistoryFilter, dict(filters or {}))
    return workflow.history_query(PARTICIPATION, _ref(actor, ExhibitorParticipation, f["participation_id"],
                                                      "participation_id", "participation"))


def assign_booth(actor, participation_id, data) -> ExhibitionBooth:
    require_staff(actor)
    participation = get_participation(actor, participation_id)
    values = common.validate(S.BoothAssignment, data)
    booth = _ref(actor, ExhibitionBooth, values["booth_id"], "booth_id", "booth")
    if booth.edition_id != participation.edition_id:
        raise ValidationFailed(fields={"booth_id": ["The booth belongs to another edition."]})
    if participation.status == "cancelled":
        raise ValidationFailed(fields={"status": ["The participation is cancelled."]})
    if booth.participation_id not in (None, participation.id):
        raise Conflict("The booth is taken by another exhibitor.", fields={"booth_id": ["Already taken."]})
    if participation.status in PAID:
        _sell(actor, participation, [booth])   # a booth added after payment is its own purchase
    else:
        _set_booth(actor, booth, "reserved", participation.id)
    return booth


def release_booth(actor, participation_id, booth_id) -> ExhibitionBooth:
    require_staff(actor)
    participation = get_participation(actor, participation_id)
    booth = get_booth(actor, booth_id)
    if booth.participation_id != participation.id:
        raise NotFound("This booth is not assigned to this participation.")
    _set_booth(actor, booth, "available", None)
    return booth


# --- registrations -----------------------------------------------------------------------------------

REGISTRATION_SORT = {"registered_at": VisitorRegistration.registered_at, "badge_code": VisitorRegistration.badge_code,
                     "category": VisitorRegistration.category, "created_at": VisitorRegistration.created_at}
REGISTRATION_AUDITED = ["edition_id", "visitor_id", "company_id", "company_name", "job_title", "category",
                        "interests", "purchase_intent", "source", "badge_code"]


def new_badge_code() -> str:
    return "B" + secrets.token_hex(5).upper()


def list_registrations(actor, filters=None, *, page=common.PageRequest(), sort=None):
    return _list(actor, VisitorRegistration, S.RegistrationFilter, filters, page, sort, REGISTRATION_SORT,
                 "registered_at", load=(VisitorRegistration.visitor,))


def filtered_registrations(actor, filters=None):
    """The registrations the actor's list shows with ``filters`` (``RegistrationFilter``), unpaged."""
    return _filtered(actor, VisitorRegistration, S.RegistrationFilter, filters)


def get_registration(actor, registration_id, *, deleted=False) -> VisitorRegistration:
    return _get(actor, VisitorRegistration, registration_id, "registration", deleted=deleted)


def _visitor(actor, values: dict) -> tuple[Customer, str]:
    """The visitor of a registration and the field that named them: the person customer ``visitor_id``
    names; else a returning visitor found by e-mail or phone (:class:`_Returning`); else a new person
    customer by ``name``."""
    if values.get("visitor_id"):
        try:
            visitor = customers.get(actor, values["visitor_id"])
        except NotFound:
            raise ValidationFailed(fields={"visitor_id": ["No customer with this id."]}) from None
        if visitor.kind != "person":
            raise ValidationFailed(fields={"visitor_id": ["A visitor is a person customer."]})
        return visitor, "visitor_id"
    ek, pk = email_key(values.get("email")), phone_key(values.get("phone"))
    vid, found_by = _Returning([ek], [pk]).find(ek, pk)
    if vid is not None:
        return db.session().get(Customer, vid), found_by
    return customers.create(actor, {"kind": "person", "name": values["name"], "region": values.get("region"),
                                    "source": "exhibition"}), "visitor_id"


def create_registration(actor, data) -> VisitorRegistration:
    """Register a visitor (an existing person customer, a returning visitor recognised by e-mail or phone,
    or a new one by name) for an edition. A visitor already registered for it is a 409 naming the field
    that found them."""
    require_staff(actor)
    values = common.validate(S.RegistrationCreate, data)
    edition = _ref(actor, ExhibitionEdition, values["edition_id"], "edition_id", "edition")
    if values.get("company_id"):
        company = _company(actor, values["company_id"], "company_id")
        values.setdefault("company_name", company.name)
    badge = values.get("badge_code") or new_badge_code()
    if db.session().scalar(select(VisitorRegistration.id).where(VisitorRegistration.badge_code == badge)):
        raise Conflict("This badge code is already in use.", fields={"badge_code": ["Already in use."]})
    visitor, found_by = _visitor(actor, values)
    existing = db.session().scalar(select(VisitorRegistration).where(VisitorRegistration.edition_id == edition.id,
                                                                    VisitorRegistration.visitor_id == visitor.id))
    if existing is not None:
        raise Conflict(f"This visitor is already registered for this edition (badge {existing.badge_code}).",
                       fields={found_by: [f"Already registered for this edition (badge {existing.badge_code})."]})
    for key in ("visitor_id", "name", "region", "badge_code"):
        values.pop(key, None)
    registration = VisitorRegistration(**values, visitor_id=visitor.id, badge_code=badge,
                                       email_key=email_key(values.get("email")),
                                       phone_key=phone_key(values.get("phone")))
    _created(actor, registration, REGISTRATION_AUDITED)
    _mark_invitations_registered(edition.id, [visitor.id])
    _timeline(actor, visitor.id, L.KIND_REGISTRATION, f"Registered for {edition.name} ({registration.category})",
              occurred_at=registration.registered_at)
    return registration


def _system_writer() -> User:
    """Who the core's services write for a visitor registering themselves (they need a user: the new
    person customer, the timeline entry): the first organiser, else the first admin. The registration's
    own audit entry has no actor and says ``via: self_registration``."""
    base = select(User).where(User.is_active.is_(True), User.deleted_at.is_(None)).order_by(User.created_at, User.id)
    for role in (L.ORGANISER, "admin"):
        user = db.session().scalar(base.where(User.role == role).limit(1))
        if user is not None:
            return user
    raise Unavailable("Registration is not available right now.")


def open_for_registration(edition_id: Any, today: date | None = None) -> ExhibitionEdition:
    """The edition a visitor may register for: live (and its show live), not yet over in its own time
    zone (upcoming or running). Unknown or deleted: 404; over: 409 naming ``edition_id``."""
    row = db.session().scalar(
        select(ExhibitionEdition).join(ExhibitionShow, ExhibitionShow.id == ExhibitionEdition.exhibition_id)
        .where(ExhibitionEdition.id == common.parse_uuid(edition_id, "edition_id"),
               ExhibitionEdition.deleted_at.is_(None), ExhibitionShow.deleted_at.is_(None)))
    if row is None:
        raise NotFound("No edition with this id.")
    local_today = today or datetime.now(ZoneInfo(row.timezone or "UTC")).date()
    if row.ends_on < local_today:
        raise Conflict("Registration for this edition is closed: it is over.",
                       fields={"edition_id": ["Registration is closed."]})
    return row


def self_register(edition_id: Any, data: Mapping[str, Any], *, today: date | None = None) -> dict:
    """A visitor registers themselves (no sign-in; the REST view rate-limits it per address): validated
    whole first (422 per field, nothing written), for an edition open for registration. A returning
    visitor (same e-mail, else phone: "Returning visitors") keeps their customer record and gets a new
    registration; one already registered for this edition (even cancelled) is a 409 naming ``email`` (or
    ``phone``) that shows nothing of the registration: a badge code is a gate pass, so it is never handed
    to whoever knows someone's address (the organiser's staff look it up). Otherwise the registration
    (source ``web``, a new unguessable badge code) is written as the organiser's staff would, its audit
    entry with no actor (``via: self_registration``); the events are the usual ones. Returns the
    confirmation: the badge code, the edition and only what the visitor sent (never the stored name of a
    returning visitor's record)."""
    values = common.validate(S.ExhibitionSelfRegistration, data)
    edition = open_for_registration(edition_id, today)
    writer = _system_writer()
    ek, pk = email_key(values["email"]), phone_key(values.get("phone"))
    vid, found_by = _Returning([ek], [pk]).find(ek, pk)
    if vid is not None:
        existing = db.session().scalar(select(VisitorRegistration.id).where(
            VisitorRegistration.edition_id == edition.id, VisitorRegistration.visitor_id == vid))
        if existing is not None:
            raise Conflict("You are already registered for this edition: use the badge code of your "
                           "confirmation, or ask the organiser.",
                           fields={found_by: ["Already registered for this edition."]})
        visitor = db.session().get(Customer, vid)
    else:
        visitor = customers.create(writer, {"kind": "person", "name": values["name"], "source": "exhibition"})
    badge = new_badge_code()
    while db.session().scalar(select(VisitorRegistration.id).where(VisitorRegistration.badge_code == badge)):
        badge = new_badge_code()   # 40 random bits: a clash is all but impossible, but never reuse one
    registration = VisitorRegistration(
        edition_id=edition.id, visitor_id=visitor.id, company_name=values.get("company", ""),
        job_title=values.get("job_title", ""), email=values["email"], phone=values.get("phone", ""),
        category=values["category"], interests=values["interests"], purchase_intent=values["purchase_intent"],
        source="web", badge_code=badge, email_key=ek, phone_key=pk)
    _created(None, registration, REGISTRATION_AUDITED, payload={"via": "self_registration"})
    _mark_invitations_registered(edition.id, [visitor.id])
    _timeline(writer, visitor.id, L.KIND_REGISTRATION,
              f"Registered for {edition.name} ({registration.category}, online)", occurred_at=registration.registered_at)
    return {"badge_code": registration.badge_code, "status": registration.status, "name": values["name"],
            "email": registration.email, "category": registration.category,
            "registered_at": registration.registered_at, "edition": edition, "registration": registration}


def _mark_invitations_registered(edition_id: uuid.UUID, visitor_ids: list[uuid.UUID]) -> None:
    for start in range(0, len(visitor_ids), 900):
        db.session().execute(
            update(ExhibitionInvitation)
            .where(ExhibitionInvitation.edition_id == edition_id, ExhibitionInvitation.status == "invited",
                   ExhibitionInvitation.visitor_id.in_(visitor_ids[start:start + 900]))
            .values(status="registered", updated_at=utcnow(), version=ExhibitionInvitation.version + 1)
            .execution_options(synchronize_session=False))


def update_registration(actor, registration_id, data) -> VisitorRegistration:
    require_staff(actor)
    registration = get_registration(actor, registration_id)

    def check(values):
        if values.get("company_id"):
            _company(actor, values["company_id"], "company_id")
        if "email" in values:
            values["email_key"] = email_key(values["email"])
        if "phone" in values:
            values["phone_key"] = phone_key(values["phone"])
    return _update(actor, registration, S.RegistrationUpdate, data, check=check)


def cancel_registration(actor, registration_id) -> VisitorRegistration:
    """Cancel a registration: its badge no longer opens the gates."""
    require_staff(actor)
    registration = get_registration(actor, registration_id)
    if registration.status != "cancelled":
        changes = common.apply_changes(registration, {"status": "cancelled"})
        db.session().flush()
        audit.record_change(actor, "cancelled", registration, changes)
    return registration


def delete_registration(actor, registration_id) -> None:
    require_staff(actor)
    _delete(actor, get_registration(actor, registration_id))


def restore_registration(actor, registration_id) -> VisitorRegistration:
    require_staff(actor)
    return _restore(actor, get_registration(actor, registration_id, deleted=True))


@dataclass
class ImportResult:
    created: int = 0
    existing: int = 0
    registrations: list[dict] = field(default_factory=list)


def import_registrations(actor, edition_id, data) -> ImportResult:
    """Register many visitors at once (pre-registration lists, partners' lists): every row is checked
    first and any bad row rejects the whole import (422 naming ``registrations.<i>.<field>``); visitors
    already registered are reported, not duplicated, so an import may be sent again. New visitors become
    person customers. Written in bulk (``plugins.exhibitions.bulk``): one multi-row INSERT per table."""
    user = require_staff(actor)
    edition = get_edition(actor, edition_id)
    raw = common.validate(S.RegistrationImport, data)["registrations"]
    problems: dict[str, list[str]] = {}
    rows: list[dict] = []
    for i, item in enumerate(raw):
        try:
            rows.append(common.validate(S.RegistrationCreate, {**item, "edition_id": str(edition.id)}))
        except ValidationFailed as exc:
            for name, messages in exc.fields.items():
                problems[f"registrations.{i}.{name}"] = messages
    if problems:
        raise ValidationFailed("Some rows are invalid; nothing was imported.", fields=problems)
    return _import_rows(user, edition, rows)


def import_checked_registrations(actor, edition_id, rows: list[dict]) -> ImportResult:
    """:func:`import_registrations` of rows already in the form its validation gives (``S.RegistrationCreate``'s
    output, ``edition_id`` included), for a caller that built them itself and need not have them parsed
    again (the demo: thousands of visitors). The same checks of visitors and badges, the same rows."""
    user = require_staff(actor)
    edition = get_edition(actor, edition_id)
    if len(rows) > S.MAX_IMPORT:
        raise ValidationFailed(fields={"registrations": [f"At most {S.MAX_IMPORT} rows at a time."]})
    return _import_rows(user, edition, rows)


def _import_rows(user, edition, rows: list[dict]) -> ImportResult:
    """The second half of :func:`import_registrations`: check and write validated rows."""
    problems: dict[str, list[str]] = {}
    sess = db.session()
    given_visitors = [r["visitor_id"] for r in rows if r.get("visitor_id")]
    known = {}
    for start in range(0, len(given_visitors), 900):
        known.update(customers.get_many(user, given_visitors[start:start + 900]))
    companies = {r["company_id"] for r in rows if r.get("company_id")}
    company_rows = {}
    for cid in companies:
        company_rows[cid] = _company(user, cid, "company_id")
    badges = [r["badge_code"] for r in rows if r.get("badge_code")]
    if len(set(badges)) != len(badges):
        raise ValidationFailed(fields={"registrations": ["Two rows carry the same badge code."]})
    taken = set()
    for start in range(0, len(badges), 900):
        taken |= set(sess.scalars(select(VisitorRegistration.badge_code)
                                  .where(VisitorRegistration.badge_code.in_(badges[start:start + 900]))))
    for i, r in enumerate(rows):
        if r.get("visitor_id") and r["visitor_id"] not in known:
            problems[f"registrations.{i}.visitor_id"] = ["No customer with this id."]
        elif r.get("visitor_id") and known[r["visitor_id"]].kind != "person":
            problems[f"registrations.{i}.visitor_id"] = ["A visitor is a person customer."]
    if problems:
        raise ValidationFailed("Some rows are invalid; nothing was imported.", fields=problems)
    # returning visitors: rows without visitor_id are matched by e-mail or phone (earlier editions, this
    # one, and the rows before them in this import)
    keys = [(email_key(r.get("email")), phone_key(r.get("phone"))) for r in rows]
    returning = _Returning([ek for ek, _ in keys], [pk for _, pk in keys])
    matched = {}
    for i, r in enumerate(rows):
        if not r.get("visitor_id"):
            vid, _ = returning.find(*keys[i])
            if vid is not None:
                matched[i] = vid
    already = {}
    ids = list(set(known) | set(matched.values()))
    for start in range(0, len(ids), 900):
        already.update({vid: (rid, code) for rid, vid, code in sess.execute(
            select(VisitorRegistration.id, VisitorRegistration.visitor_id, VisitorRegistration.badge_code)
            .where(VisitorRegistration.edition_id == edition.id,
                   VisitorRegistration.visitor_id.in_(ids[start:start + 900])))})
    now = utcnow()
    new_customers, new_regs, result = [], [], ImportResult()
    conflicts: dict[str, list[str]] = {}
    for i, r in enumerate(rows):
        ek, pk = keys[i]
        vid = r.get("visitor_id") or matched.get(i)
        if vid is None:
            vid, _ = returning.find(ek, pk)  # a visitor added by an earlier row of this import
        if vid in already:
            rid, code = already[vid]
            result.existing += 1
            result.registrations.append({"index": i, "registration_id": rid, "visitor_id": vid,
                                         "badge_code": code, "created": False})
            continue
        if vid is None:
            vid = uuid.uuid4()
            new_customers.append({"id": vid, "kind": "person", "name": r["name"], "region": r.get("region"),
                                  "source": "exhibition", "owner_id": user.id, "stage": "potential",
                                  "level": "none", "level_pinned": False, "notes": "", "version": 1,
                                  "created_at": now, "updated_at": now})
        returning.add(vid, ek, pk)
        code = r.get("badge_code")
        if code and code in taken:
            conflicts[f"registrations.{i}.badge_code"] = ["Already in use."]
        while not code or code in taken:
            code = new_badge_code()
        taken.add(code)
        company_name = r.get("company_name") or (company_rows[r["company_id"]].name if r.get("company_id") else "")
        reg = {"id": uuid.uuid4(), "edition_id": edition.id, "visitor_id": vid, "company_id": r.get("company_id"),
               "company_name": company_name, "job_title": r.get("job_title", ""), "email": r.get("email", ""),
               "phone": r.get("phone", ""), "category": r["category"], "interests": r["interests"],
               "purchase_intent": r["purchase_intent"], "source": r["source"], "badge_code": code,
               "status": "registered", "registered_at": r.get("registered_at") or now, "version": 1,
               "created_at": now, "updated_at": now, "email_key": ek, "phone_key": pk, "matches_sent_at": None}
        new_regs.append(reg)
        already[vid] = (reg["id"], code)
        result.created += 1
        result.registrations.append({"index": i, "registration_id": reg["id"], "visitor_id": vid,
                                     "badge_code": code, "created": True})
    if conflicts:
        raise Conflict("Some badge codes are already in use; nothing was imported.", fields=conflicts)
    rec = bulk.BulkRecorder(user)
    bulk.add_created(rec, Customer, new_customers, ("kind", "name", "source"))
    bulk.add_created(rec, VisitorRegistration, new_regs, ("edition_id", "visitor_id", "category", "badge_code"))
    bulk.add_timeline(rec, [bulk.timeline_row(user, g["visitor_id"], L.KIND_REGISTRATION,
                                              f"Registered for {edition.name} ({g['category']})", g["registered_at"])
                            for g in new_regs])
    rec.flush([Customer, VisitorRegistration, Interaction])
    _mark_invitations_registered(edition.id, [g["visitor_id"] for g in new_regs])
    audit.record_change(user, "registrations_imported", edition,
                        payload={"created": result.created, "existing": result.existing,
                                 "new_customers": len(new_customers)})
    return result


# --- scans -------------------------------------------------------------------------------------------

@dataclass
class ScanResult:
    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict] = field(default_factory=list)
    #: the stored check-ins of the accepted and duplicate scans, in input order
    checkins: list[CheckIn] = field(default_factory=list)


def _key(registration_id, gate, direction, instant: datetime) -> tuple:
    return (registration_id, gate, direction, instant.astimezone(timezone.utc).replace(tzinfo=None))


def upload_scans(actor, edition_id, data) -> ScanResult:
    """Store gate scans uploaded by a scanner (online one by one, or an offline log in one go).

    Idempotent: a scan already stored (same badge, gate, direction and instant) counts as a duplicate
    and is not stored again, so a scanner may re-send its whole log. A scan of an unknown or cancelled
    badge, or outside the show days, is rejected with the reason; the others are stored. The first
    entry of a visitor on each show day goes onto the visitor's timeline."""
    user = require_staff(actor)
    edition = get_edition(actor, edition_id)
    raw = common.validate(S.ScanUpload, data)["scans"]
    result = ScanResult(received=len(raw))
    scans: list[tuple[int, dict]] = []
    for i, item in enumerate(raw):
        try:
            scans.append((i, common.validate(S.Scan, item)))
        except ValidationFailed as exc:
            name, messages = next(iter(exc.fields.items()))
            result.rejected.append({"index": i, "badge_code": item.get("badge_code") if isinstance(item, dict)
                                    else None, "field": name, "message": "; ".join(messages)})
    return _store_scans(user, edition, scans, result)


def upload_checked_scans(actor, edition_id, scans: list[dict]) -> ScanResult:
    """:func:`upload_scans` of scans already in the form its validation gives (``S.Scan``'s output:
    every field present, ``scanned_at`` an aware datetime), for a caller that built them itself and
    need not have them parsed again (the demo: thousands of scans). The same checks of badges and show
    days, the same rows, timeline entries and summary event."""
    user = require_staff(actor)
    edition = get_edition(actor, edition_id)
    if len(scans) > S.MAX_SCANS:
        raise ValidationFailed(fields={"scans": [f"At most {S.MAX_SCANS} scans at a time."]})
    return _store_scans(user, edition, list(enumerate(scans)), ScanResult(received=len(scans)))


def _store_scans(user, edition, scans: list[tuple[int, dict]], result: ScanResult) -> ScanResult:
    """The second half of :func:`upload_scans`: store the valid ``(input index, scan)`` pairs."""
    sess = db.session()
    codes = list({s["badge_code"] for _, s in scans})
    regs: dict[str, VisitorRegistration] = {}
    for start in range(0, len(codes), 900):
        for reg in sess.scalars(select(VisitorRegistration).where(
                VisitorRegistration.edition_id == edition.id, VisitorRegistration.deleted_at.is_(None),
                VisitorRegistration.badge_code.in_(codes[start:start + 900]))):
            regs[reg.badge_code] = reg
    accepted: list[tuple[int, dict, VisitorRegistration]] = []
    for i, s in scans:
        reg = regs.get(s["badge_code"])
        day = show_day(edition, s["scanned_at"])
        if reg is None:
            problem = ("badge_code", "Unknown badge code for this edition.")
        elif reg.status == "cancelled":
            problem = ("badge_code", "This badge's registration is cancelled.")
        elif not edition.starts_on <= day <= edition.ends_on:
            problem = ("scanned_at", f"Outside the show days ({edition.starts_on} to {edition.ends_on}, "
                                     f"{edition.timezone}).")
        else:
            accepted.append((i, {**s, "day": day}, reg))
            continue
        result.rejected.append({"index": i, "badge_code": s["badge_code"], "field": problem[0], "message": problem[1]})
    reg_ids = list({reg.id for _, _, reg in accepted})
    existing: dict[tuple, CheckIn] = {}
    entered_days: set[tuple] = set()
    if accepted:
        low = min(s["scanned_at"] for _, s, _ in accepted)
        high = max(s["scanned_at"] for _, s, _ in accepted)
        for start in range(0, len(reg_ids), 900):
            chunk = reg_ids[start:start + 900]
            for row in sess.scalars(select(CheckIn).where(CheckIn.registration_id.in_(chunk),
                                                          CheckIn.scanned_at >= low, CheckIn.scanned_at <= high)):
                existing[_key(row.registration_id, row.gate, row.direction, row.scanned_at)] = row
            entered_days |= set(sess.execute(select(CheckIn.registration_id, CheckIn.day).distinct().where(
                CheckIn.registration_id.in_(chunk), CheckIn.direction == "entry")).all())
    new_rows, timeline_rows, by_input = [], [], {}
    now = utcnow()
    for i, s, reg in accepted:
        key = _key(reg.id, s["gate"], s["direction"], s["scanned_at"])
        if key in existing:
            result.duplicates += 1
            by_input[i] = existing[key]
            continue
        row = {"id": uuid.uuid4(), "edition_id": edition.id, "registration_id": reg.id,
               "scanned_at": s["scanned_at"], "day": s["day"], "gate": s["gate"], "direction": s["direction"],
               "device": s["device"], "uploaded_at": now, "uploaded_by_id": user.id}
        new_rows.append(row)
        existing[key] = CheckIn(**row)
        by_input[i] = existing[key]
        if s["direction"] == "entry" and (reg.id, s["day"]) not in entered_days:
            entered_days.add((reg.id, s["day"]))
            timeline_rows.append(bulk.timeline_row(
                user, reg.visitor_id, L.KIND_CHECK_IN,
                f"Entered {edition.name} on {s['day'].isoformat()}" + (f" at gate {s['gate']}" if s["gate"] else ""),
                s["scanned_at"]))
    rec = bulk.BulkRecorder(user)
    for row in new_rows:
        rec.add(CheckIn, **row)
    bulk.add_timeline(rec, timeline_rows)
    rec.flush([CheckIn, Interaction])
    result.accepted = len(new_rows)
    result.checkins = [by_input[i] for i in sorted(by_input)]
    audit.record_change(user, "scans_uploaded", edition,
                        payload={"received": result.received, "accepted": result.accepted,
                                 "duplicates": result.duplicates, "rejected": len(result.rejected)})
    return result


def record_scan(actor, edition_id, data) -> tuple[CheckIn, bool]:
    """One scan at a gate: returns the stored check-in and whether it is new. An unknown or cancelled
    badge is a 422 saying so."""
    result = upload_scans(actor, edition_id, {"scans": [data if isinstance(data, dict) else {}]})
    if result.rejected:
        problem = result.rejected[0]
        raise ValidationFailed(problem["message"], fields={problem["field"]: [problem["message"]]})
    checkin = result.checkins[0]
    if result.accepted:
        checkin = db.session().get(CheckIn, checkin.id)
    return checkin, bool(result.accepted)


#: the orderings of an edition's check-ins (``sort`` of :func:`list_checkins`)
CHECKIN_SORT = {"scanned_at": CheckIn.scanned_at, "gate": CheckIn.gate, "uploaded_at": CheckIn.uploaded_at}


def _checkins_of(edition: ExhibitionEdition, registration_id: uuid.UUID | None):
    stmt = select(CheckIn).where(CheckIn.edition_id == edition.id)
    if registration_id is not None:
        stmt = stmt.where(CheckIn.registration_id == registration_id)
    return stmt


def _edition_filter(actor, edition_id) -> ExhibitionEdition:
    """The edition a list under one edition is exported for: out of scope or missing is a 422 on
    ``edition_id`` (a filter, where the list has it in its path)."""
    return _ref(actor, ExhibitionEdition, edition_id, "edition_id", "edition")


def filtered_checkins(actor, filters=None):
    """The SELECT of the scans :func:`list_checkins` lists, its edition a filter (``ExhibitionCheckInListFilter``:
    ``edition_id`` required, ``registration_id``; a bad one is a ValidationFailed naming it), unordered:
    what ``trellis export`` reads."""
    require_staff(actor)
    f = common.validate(S.ExhibitionCheckInListFilter, dict(filters or {}))
    return _checkins_of(_edition_filter(actor, f["edition_id"]), f.get("registration_id"))


def list_checkins(actor, edition_id, *, page=common.PageRequest(), registration_id=None, sort=None):
    """An edition's stored scans (organiser staff), in scan time order (``sort``: keys of ``CHECKIN_SORT``,
    ``"-scanned_at"`` newest first); ``registration_id``: only that registration's."""
    require_staff(actor)
    edition = get_edition(actor, common.parse_uuid(edition_id, "edition_id"))
    stmt = _checkins_of(edition, None if registration_id is None
                        else common.parse_uuid(registration_id, "registration_id"))
    return common.paginate(stmt, page, common.parse_sort(sort, CHECKIN_SORT, "scanned_at"), CheckIn.id)


# --- what an exhibitor may see of a visitor ----------------------------------------------------------

def visible_fields(actor, edition: ExhibitionEdition) -> list[str]:
    """Staff see every visitor field; anybody else only what the organiser allows for the edition."""
    return ALL_VISITOR_FIELDS if is_staff(actor) else [f for f in ALL_VISITOR_FIELDS
                                                       if f in (edition.lead_visible_fields or [])]


def visitor_card(registration: VisitorRegistration, person: Customer, allowed: Iterable[str]) -> dict:
    """The visitor as ``allowed`` lets one see them; hidden fields are left out altogether."""
    full = {"name": person.name, "company": registration.company_name, "job_title": registration.job_title,
            "email": registration.email, "phone": registration.phone, "region": person.region,
            "category": registration.category, "interests": list(registration.interests or []),
            "purchase_intent": registration.purchase_intent}
    card = {"registration_id": str(registration.id), "badge_code": registration.badge_code}
    card.update({k: full[k] for k in allowed if k in full})
    return card


def _cards(actor, registration_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, dict]:
    """Visitor cards for many registrations in two queries (registrations with their visitors, editions)."""
    ids = list(set(registration_ids))
    if not ids:
        return {}
    sess = db.session()
    regs = list(sess.scalars(select(VisitorRegistration).where(VisitorRegistration.id.in_(ids))
                             .options(selectinload(VisitorRegistration.visitor))))
    editions = {e.id: e for e in sess.scalars(select(ExhibitionEdition).where(
        ExhibitionEdition.id.in_({r.edition_id for r in regs})))}
    return {r.id: visitor_card(r, r.visitor, visible_fields(actor, editions[r.edition_id])) for r in regs}


class _View:
    """A record seen through the service: its own attributes plus what the service computed."""

    def __init__(self, record, **extra):
        self.record = record
        self.__dict__.update(extra)

    def __getattr__(self, name):
        return getattr(self.record, name)


# --- leads -------------------------------------------------------------------------------------------

LEAD_SORT = {"captured_at": ExhibitionLead.captured_at, "rating": ExhibitionLead.rating,
             "updated_at": ExhibitionLead.updated_at}


def _lead_views(actor, leads: list[ExhibitionLead]) -> list[_View]:
    cards = _cards(actor, [lead.registration_id for lead in leads])
    return [_View(lead, visitor=cards.get(lead.registration_id, {})) for lead in leads]


def _registration_by_badge(edition_id: uuid.UUID, badge_code: str, field_name: str = "badge_code") -> VisitorRegistration:
    reg = db.session().scalar(select(VisitorRegistration).where(
        VisitorRegistration.edition_id == edition_id, VisitorRegistration.badge_code == badge_code,
        VisitorRegistration.deleted_at.is_(None)))
    if reg is None:
        raise ValidationFailed("Unknown badge code for this edition.",
                               fields={field_name: ["Unknown badge code for this edition."]})
    if reg.status == "cancelled":
        raise ValidationFailed("This badge's registration is cancelled.",
                               fields={field_name: ["This badge's registration is cancelled."]})
    return reg


def check_show_time(edition: ExhibitionEdition, instant: datetime | None, field_name: str, *,
                    not_after: datetime | None = None) -> None:
    """A lead's capture or a meeting's time must fall on the edition's show days (local dates at the
    venue) give or take ``DATE_MARGIN``; ``not_after``: nor later than that (a capture is never ahead
    of the clock, give or take ``CLOCK_SKEW``). 422 naming ``field_name`` otherwise."""
    if instant is None:
        return
    first, last = edition.starts_on - DATE_MARGIN, edition.ends_on + DATE_MARGIN
    try:
        day = show_day(edition, instant)
    except (OverflowError, ValueError):
        day = None
    if day is None or not first <= day <= last:
        message = (f"Must fall within the edition's days give or take {DATE_MARGIN.days} days: {first.isoformat()} "
                   f"to {last.isoformat()} ({edition.timezone}).")
        raise ValidationFailed(message, fields={field_name: [message]})
    if not_after is not None and instant > not_after + CLOCK_SKEW:
        raise ValidationFailed(fields={field_name: ["Must not be in the future."]})


def capture_lead(actor, data) -> tuple[_View, bool]:
    """An exhibitor's staff scan a visitor's badge at the booth. Scanning the same badge again returns the
    lead already captured (nothing is duplicated). Returns the lead and whether it is new."""
    user = require_staff_or_exhibitor(actor)
    values = common.validate(S.LeadCreate, data)
    participation = _ref(actor, ExhibitorParticipation, values["participation_id"], "participation_id",
                         "participation")
    if participation.status not in BOOKED:
        raise ValidationFailed(fields={"participation_id": [
            f"Only a booked exhibitor captures leads (this one is '{participation.status}')."]})
    check_show_time(db.session().get(ExhibitionEdition, participation.edition_id), values.get("captured_at"),
                    "captured_at", not_after=utcnow())
    reg = _registration_by_badge(participation.edition_id, values["badge_code"])
    lead = db.session().scalar(select(ExhibitionLead).where(ExhibitionLead.participation_id == participation.id,
                                                            ExhibitionLead.registration_id == reg.id))
    if lead is not None:
        if lead.deleted_at is not None:
            _restore(actor, lead)
        return _lead_views(actor, [lead])[0], False
    lead = ExhibitionLead(edition_id=participation.edition_id, participation_id=participation.id,
                          registration_id=reg.id, captured_by_id=user.id,
                          captured_at=values.get("captured_at") or utcnow(), rating=values["rating"],
                          tags=list(dict.fromkeys(values["tags"])), notes=values["notes"])
    _created(actor, lead, ["participation_id", "registration_id", "rating", "tags"])
    company = db.session().get(Customer, participation.company_id)
    _timeline(actor, reg.visitor_id, L.KIND_LEAD, f"Visited the booth of {company.name}",
              occurred_at=lead.captured_at)
    return _lead_views(actor, [lead])[0], True


def _lead_filters(stmt, f):
    if tag := f.pop("tag", None):
        stmt = stmt.where(cast(ExhibitionLead.tags, String).contains(f'"{tag}"', autoescape=True))
    return stmt


def filtered_leads(actor, filters=None):
    """The leads the actor's list shows with ``filters`` (``LeadFilter``), unpaged; each shown through
    ``_lead_views``."""
    return _filtered(actor, ExhibitionLead, S.LeadFilter, filters, special=_lead_filters)


def list_leads(actor, filters=None, *, page=common.PageRequest(), sort=None):
    page_ = common.paginate(filtered_leads(actor, filters), page,
                            common.parse_sort(sort, LEAD_SORT, "-captured_at"), ExhibitionLead.id)
    page_.items = _lead_views(actor, page_.items)
    return page_


def _lead(actor, lead_id, *, deleted=False) -> ExhibitionLead:
    return _get(actor, ExhibitionLead, lead_id, "lead", deleted=deleted)


def get_lead(actor, lead_id) -> _View:
    return _lead_views(actor, [_lead(actor, lead_id)])[0]


def update_lead(actor, lead_id, data) -> _View:
    lead = _lead(actor, lead_id)

    def check(values):
        if "tags" in values:
            values["tags"] = list(dict.fromkeys(values["tags"]))
    return _lead_views(actor, [_update(actor, lead, S.LeadUpdate, data, check=check)])[0]


def delete_lead(actor, lead_id) -> None:
    _delete(actor, _lead(actor, lead_id))


def restore_lead(actor, lead_id) -> _View:
    return _lead_views(actor, [_restore(actor, _lead(actor, lead_id, deleted=True))])[0]


# --- supply and demand -------------------------------------------------------------------------------

def _labels(values: Iterable[str]) -> str:
    names = {c.value: c.en for c in L.PRODUCT_CATEGORY}
    return ", ".join(names.get(v, v) for v in values)


def _score_buyer(offers: set[str], category: str, interests: list[str], intent: str) -> tuple[float, list, list]:
    common_ = sorted(offers & set(interests or []))
    if not common_:
        return 0.0, [], []
    reasons = [f"Needs {_labels(common_)}, which you offer"]
    score = 10.0 * len(common_) + INTENT_WEIGHT.get(intent, 0)
    if intent in ("high", "medium"):
        reasons.append(f"{intent.capitalize()} purchase intent")
    if category == "vip":
        score += 2
        reasons.append("VIP buyer")
    return score, reasons, common_


def matches_for_exhibitor(actor, participation_id, *, limit: int = 20) -> list[_View]:
    """Professional buyers of the edition ranked by how well their needs meet the exhibitor's offer,
    each with the reasons; the visitor shown with the fields the caller may see."""
    require_staff_or_exhibitor(actor)
    participation = get_participation(actor, participation_id)
    offers = set(participation.categories or [])
    rows = db.session().execute(select(
        VisitorRegistration.id, VisitorRegistration.category, VisitorRegistration.interests,
        VisitorRegistration.purchase_intent)
        .where(VisitorRegistration.edition_id == participation.edition_id, VisitorRegistration.status == "registered",
               VisitorRegistration.deleted_at.is_(None), VisitorRegistration.category.in_(L.PROFESSIONAL)))
    ranked = []
    for rid, category, interests, intent in rows:
        score, reasons, common_ = _score_buyer(offers, category, interests, intent)
        if score:
            ranked.append((score, str(rid), rid, reasons, common_))
    ranked.sort(key=lambda t: (-t[0], t[1]))
    top = ranked[:limit]
    cards = _cards(actor, [t[2] for t in top])
    return [_View(None, score=s, reasons=r, common_categories=c, registration_id=rid, participation_id=None,
                  visitor=cards[rid], exhibitor_name=None) for s, _, rid, r, c in top]


def matches_for_buyer(actor, registration_id, *, limit: int = 20) -> list[_View]:
    """Booked exhibitors of the edition ranked by how well their offer meets the buyer's needs."""
    registration = get_registration(actor, registration_id)
    needs = set(registration.interests or [])
    parts = list(db.session().execute(
        select(ExhibitorParticipation, Customer.name).join(Customer, Customer.id == ExhibitorParticipation.company_id)
        .where(ExhibitorParticipation.edition_id == registration.edition_id,
               ExhibitorParticipation.status.in_(BOOKED), ExhibitorParticipation.deleted_at.is_(None))))
    ranked = []
    for participation, name in parts:
        common_ = sorted(needs & set(participation.categories or []))
        if not common_:
            continue
        score = 10.0 * len(common_) + (3 if participation.is_key else 0)
        reasons = [f"Offers {_labels(common_)}, which the buyer needs"] + (["Key exhibitor"] if participation.is_key else [])
        ranked.append((score, name, participation.id, reasons, common_))
    ranked.sort(key=lambda t: (-t[0], t[1]))
    return [_View(None, score=s, reasons=r, common_categories=c, registration_id=None, participation_id=pid,
                  visitor=None, exhibitor_name=n) for s, n, pid, r, c in ranked[:limit]]


def filtered_matches_for_exhibitor(actor, filters=None) -> list[_View]:
    """What :func:`matches_for_exhibitor` lists, the participation a filter
    (``ExhibitionParticipationMatchFilter``: ``participation_id`` required, ``limit`` as the list takes it; a
    bad one, or a participation the actor may not see, is a ValidationFailed naming it): what ``trellis
    export`` writes, in rank order."""
    f = common.validate(S.ExhibitionParticipationMatchFilter, dict(filters or {}))
    _ref(actor, ExhibitorParticipation, f["participation_id"], "participation_id", "participation")
    return matches_for_exhibitor(actor, f["participation_id"], limit=f["limit"])


def filtered_matches_for_buyer(actor, filters=None) -> list[_View]:
    """What :func:`matches_for_buyer` lists, the registration a filter (``ExhibitionRegistrationMatchFilter``:
    ``registration_id`` required, ``limit`` as the list takes it; a bad one, or a registration the actor may
    not see, is a ValidationFailed naming it): what ``trellis export`` writes, in rank order."""
    f = common.validate(S.ExhibitionRegistrationMatchFilter, dict(filters or {}))
    _ref(actor, VisitorRegistration, f["registration_id"], "registration_id", "registration")
    return matches_for_buyer(actor, f["registration_id"], limit=f["limit"])


def send_matches(actor, edition_id, *, limit: int = 10) -> dict:
    """Before the show, tell both sides of their matches, each once per edition: every booked exhibitor's
    users are notified (``exhibitions.matches``) of how many buyers match their offer; every registered
    buyer with a matching exhibitor gets the best ``limit`` of them on their timeline (kind
    ``exhibitions_matches``) and in the event ``exhibitions_registration.matches_sent`` (with the buyer's
    name, e-mail, phone and badge, for the mailer or SMS gateway that reaches visitors, who have no user
    account). Ends with the summary event ``exhibitions_edition.matches_sent``."""
    user = require_staff(actor)
    edition = get_edition(actor, edition_id)
    sess = db.session()
    R = VisitorRegistration
    buyers = list(sess.execute(select(R.id, R.visitor_id, R.category, R.interests, R.purchase_intent, R.email, R.phone,
                                      R.badge_code, R.version, R.matches_sent_at, Customer.name)
                               .join(Customer, Customer.id == R.visitor_id)
                               .where(R.edition_id == edition.id, R.status == "registered", R.deleted_at.is_(None),
                                      R.category.in_(L.PROFESSIONAL))
                               .order_by(R.registered_at, R.id)))
    parts = list(sess.execute(select(ExhibitorParticipation, Customer.name)
                              .join(Customer, Customer.id == ExhibitorParticipation.company_id)
                              .where(ExhibitorParticipation.edition_id == edition.id,
                                     ExhibitorParticipation.status.in_(BOOKED),
                                     ExhibitorParticipation.deleted_at.is_(None))
                              .order_by(Customer.name, ExhibitorParticipation.id)))
    notified = exhibitors = 0
    for participation, _name in parts:
        offers = set(participation.categories or [])
        count = sum(1 for b in buyers if _score_buyer(offers, b.category, b.interests, b.purchase_intent)[0])
        if not count:
            continue
        exhibitors += 1
        for member in users_of_company(participation.company_id):
            if notify(member, "exhibitions.matches", f"{count} buyers at {edition.name} match your offer",
                      "See them ranked with the reasons under your participation's matches.",
                      record=participation, data={"edition_id": edition.id, "count": count},
                      dedupe_key=f"exhibitions:matches:{participation.id}"):
                notified += 1
    now = utcnow()
    rec = bulk.BulkRecorder(user)
    entries, told = [], []
    for b in buyers:
        if b.matches_sent_at is not None:
            continue
        needs = set(b.interests or [])
        ranked = []
        for participation, name in parts:
            common_ = sorted(needs & set(participation.categories or []))
            if common_:
                ranked.append((10.0 * len(common_) + (3 if participation.is_key else 0), name, participation, common_))
        if not ranked:
            continue
        ranked.sort(key=lambda t: (-t[0], t[1]))
        top = ranked[:limit]
        entries.append(bulk.timeline_row(
            user, b.visitor_id, L.KIND_MATCHES,
            f"{len(ranked)} exhibitor{'s' if len(ranked) > 1 else ''} at {edition.name} match your interests",
            now, "; ".join(f"{name} ({_labels(c)})" for _, name, _, c in top)) | {"direction": "outbound"})
        told.append(b.id)
        rec.change("matches_sent", BulkRow(R, {"id": b.id, "version": b.version + 1}),
                   {"matches_sent_at": (None, now)}, at=now, payload={
                       "edition_id": edition.id, "edition_name": edition.name, "visitor_id": b.visitor_id,
                       "name": b.name, "email": b.email, "phone": b.phone, "badge_code": b.badge_code,
                       "matches": len(ranked),
                       "exhibitors": [{"participation_id": p.id, "company_name": name, "score": score,
                                       "common_categories": c} for score, name, p, c in top]})
    bulk.add_timeline(rec, entries)
    rec.flush([Interaction])
    for start in range(0, len(told), 900):
        sess.execute(update(R).where(R.id.in_(told[start:start + 900]))
                     .values(matches_sent_at=now, updated_at=now, version=R.version + 1)
                     .execution_options(synchronize_session=False))
    if told:
        sess.expire_all()  # the registrations loaded in this session are behind the UPDATE
    summary = {"exhibitors": exhibitors, "notified": notified, "buyers": len(buyers), "buyers_notified": len(told)}
    audit.record_change(actor, "matches_sent", edition, payload=summary)
    return summary


# --- meetings ----------------------------------------------------------------------------------------

MEETING_SORT = {"starts_at": ExhibitionMeeting.starts_at, "created_at": ExhibitionMeeting.created_at,
                "status": ExhibitionMeeting.status}


def _meeting_views(actor, meetings: list[ExhibitionMeeting]) -> list[_View]:
    cards = _cards(actor, [m.registration_id for m in meetings])
    names = dict(db.session().execute(
        select(ExhibitorParticipation.id, Customer.name).join(Customer, Customer.id == ExhibitorParticipation.company_id)
        .where(ExhibitorParticipation.id.in_({m.participation_id for m in meetings}))).all()) if meetings else {}
    return [_View(m, visitor=cards.get(m.registration_id, {}), exhibitor_name=names.get(m.participation_id))
            for m in meetings]


def _check_slot(participation_id: uuid.UUID, registration_id: uuid.UUID, starts_at: datetime | None, *,
                meeting_id: uuid.UUID | None = None) -> None:
    """A buyer, and an exhibitor, hold one accepted (or held) meeting per ``MEETING_SLOT``: another one
    starting less than a slot away is a 409 naming ``starts_at``. The buyer's registration and the
    exhibitor's participation are locked first (PostgreSQL), so two answers at once cannot both pass."""
    if starts_at is None:
        return
    sess = db.session()
    sess.execute(select(VisitorRegistration.id).where(VisitorRegistration.id == registration_id).with_for_update())
    sess.execute(select(ExhibitorParticipation.id).where(ExhibitorParticipation.id == participation_id)
                 .with_for_update())
    M = ExhibitionMeeting
    near = select(M.starts_at).where(M.status.in_(("accepted", "held")), M.deleted_at.is_(None),
                                     M.starts_at > starts_at - MEETING_SLOT, M.starts_at < starts_at + MEETING_SLOT)
    if meeting_id is not None:
        near = near.where(M.id != meeting_id)
    for side, column, rid in (("buyer", M.registration_id, registration_id),
                              ("exhibitor", M.participation_id, participation_id)):
        taken = sess.scalars(near.where(column == rid).limit(1)).first()
        if taken is not None:
            slot = int(MEETING_SLOT.total_seconds() // 60)
            message = (f"The {side} already has an accepted meeting at {taken.astimezone(timezone.utc):%Y-%m-%d %H:%M} "
                       f"UTC; meetings take {slot} minutes, one at a time.")
            raise Conflict(message, fields={"starts_at": [message]})


def request_meeting(actor, data) -> _View:
    """Book a meeting between an exhibitor and a registered visitor: an exhibitor user for its own
    participation, or organiser staff on a buyer's behalf (the exhibitor's users are told)."""
    user = require_staff_or_exhibitor(actor)
    values = common.validate(S.MeetingCreate, data)
    participation = _ref(actor, ExhibitorParticipation, values["participation_id"], "participation_id",
                         "participation")
    if participation.status not in BOOKED:
        raise ValidationFailed(fields={"participation_id": ["Only a booked exhibitor takes meetings."]})
    reg = db.session().get(VisitorRegistration, values["registration_id"])
    if reg is None or reg.deleted_at is not None or reg.edition_id != participation.edition_id:
        raise ValidationFailed(fields={"registration_id": ["No registration with this id in this edition."]})
    if reg.status == "cancelled":
        raise ValidationFailed(fields={"registration_id": ["The visitor's registration is cancelled."]})
    check_show_time(db.session().get(ExhibitionEdition, participation.edition_id), values.get("starts_at"),
                    "starts_at")
    _check_slot(participation.id, reg.id, values.get("starts_at"))
    meeting = ExhibitionMeeting(edition_id=participation.edition_id, participation_id=participation.id,
                                registration_id=reg.id, requested_by_id=user.id, status="requested",
                                starts_at=values.get("starts_at"), location=values["location"], notes=values["notes"])
    _created(actor, meeting, ["participation_id", "registration_id", "starts_at", "location"])
    if is_staff(user):
        for member in users_of_company(participation.company_id):
            notify(member, "exhibitions.meeting_requested", "A buyer asks for a meeting",
                   "Accept or decline it under your meetings.", record=meeting)
    return _meeting_views(actor, [meeting])[0]


def filtered_meetings(actor, filters=None):
    """The meetings the actor's list shows with ``filters`` (``MeetingFilter``), unpaged; each shown
    through ``_meeting_views``."""
    return _filtered(actor, ExhibitionMeeting, S.MeetingFilter, filters)


def list_meetings(actor, filters=None, *, page=common.PageRequest(), sort=None):
    page_ = common.paginate(filtered_meetings(actor, filters), page, common.parse_sort(sort, MEETING_SORT, "starts_at"),
                            ExhibitionMeeting.id)
    page_.items = _meeting_views(actor, page_.items)
    return page_


def _meeting(actor, meeting_id) -> ExhibitionMeeting:
    return _get(actor, ExhibitionMeeting, meeting_id, "meeting")


def get_meeting(actor, meeting_id) -> _View:
    return _meeting_views(actor, [_meeting(actor, meeting_id)])[0]


def change_meeting_status(actor, meeting_id, data) -> _View:
    """Accept or decline (the side that did not ask answers; staff answer for buyers), then record
    whether it was held. A held meeting goes onto the visitor's and the exhibitor's timelines."""
    user = require_actor(actor)
    meeting = _meeting(actor, meeting_id)
    values = common.validate(S.StatusChange, data)
    to = values["to"]
    if to in ("accepted", "declined") and not is_staff(user) and meeting.requested_by_id == user.id:
        raise Forbidden("The other side answers a meeting request.")
    if to == "accepted":
        _check_slot(meeting.participation_id, meeting.registration_id, meeting.starts_at, meeting_id=meeting.id)
    workflow.transition(actor, MEETING, meeting, to, reason=values["reason"], argument="to")
    if to == "held":
        reg = db.session().get(VisitorRegistration, meeting.registration_id)
        participation = db.session().get(ExhibitorParticipation, meeting.participation_id)
        company = db.session().get(Customer, participation.company_id)
        when = meeting.starts_at or utcnow()
        _timeline(actor, reg.visitor_id, L.KIND_MEETING, f"Met {company.name}", occurred_at=when)
        _timeline(actor, company.id, L.KIND_MEETING, f"Met visitor {reg.badge_code}", occurred_at=when)
    return _meeting_views(actor, [meeting])[0]


def meeting_history(actor, meeting_id):
    return workflow.history(MEETING, _meeting(actor, meeting_id))


def filtered_meeting_history(actor, filters=None):
    """The SELECT of the moves :func:`meeting_history` lists, the meeting a filter
    (``ExhibitionMeetingHistoryFilter``: ``meeting_id`` required; missing, or one the actor may not see, is a
    ValidationFailed naming it), unordered: what ``trellis export`` reads."""
    f = common.validate(S.ExhibitionMeetingHistoryFilter, dict(filters or {}))
    return workflow.history_query(MEETING, _ref(actor, ExhibitionMeeting, f["meeting_id"], "meeting_id", "meeting"))


# --- invitations -------------------------------------------------------------------------------------

@dataclass
class InvitationResult:
    selected: int = 0
    created: int = 0
    already_invited: int = 0
    already_registered: int = 0
    dry_run: bool = False


def build_invitations(actor, edition_id, data) -> InvitationResult:
    """Build the invitation list of an edition from past editions' visitors, by attendance, category,
    interests, or lapse (came before, skipped the latest). Visitors already invited or registered are
    skipped, so the list may be built again as criteria change. Each invitation goes onto the
    visitor's timeline."""
    user = require_staff(actor)
    edition = get_edition(actor, edition_id)
    c = common.validate(S.InvitationCriteria, data)
    sess = db.session()
    if c.get("from_edition_ids"):
        past = [get_edition(actor, eid) for eid in c["from_edition_ids"]]
        if any(p.id == edition.id for p in past):
            raise ValidationFailed(fields={"from_edition_ids": ["Cannot invite from the edition itself."]})
    else:
        past = list(sess.scalars(select(ExhibitionEdition).where(
            ExhibitionEdition.exhibition_id == edition.exhibition_id, ExhibitionEdition.starts_on < edition.starts_on,
            ExhibitionEdition.deleted_at.is_(None))))
    if not past:
        raise ValidationFailed(fields={"from_edition_ids": ["This edition has no earlier edition to invite from."]})
    past_ids = [p.id for p in past]
    latest = max(past, key=lambda p: p.starts_on)
    stmt = select(VisitorRegistration.id, VisitorRegistration.visitor_id, VisitorRegistration.edition_id,
                  VisitorRegistration.category, VisitorRegistration.interests).where(
        VisitorRegistration.edition_id.in_(past_ids), VisitorRegistration.deleted_at.is_(None),
        VisitorRegistration.status == "registered")
    if c["categories"]:
        stmt = stmt.where(VisitorRegistration.category.in_(c["categories"]))
    if c["attended"] is not None:
        came = exists().where(CheckIn.registration_id == VisitorRegistration.id, CheckIn.direction == "entry")
        stmt = stmt.where(came if c["attended"] else ~came)
    rows = list(sess.execute(stmt))
    wanted = set(c["interests"])
    names = {p.id: p.name for p in past}
    reasons: dict[uuid.UUID, str] = {}
    at_latest = {vid for _, vid, eid, _, _ in rows if eid == latest.id}
    for rid, vid, eid, category, interests in sorted(rows, key=lambda r: str(r[0])):
        if wanted and not wanted & set(interests or []):
            continue
        if c["lapsed"] and vid in at_latest:
            continue
        reasons.setdefault(vid, f"{'Attended' if c['attended'] else 'Registered for'} {names[eid]} as {category}"
                           + (" (lapsed)" if c["lapsed"] else ""))
    if c["lapsed"]:
        lapsed_ok = set(sess.scalars(select(VisitorRegistration.visitor_id).where(
            VisitorRegistration.edition_id == latest.id, VisitorRegistration.deleted_at.is_(None))))
        reasons = {vid: r for vid, r in reasons.items() if vid not in lapsed_ok}
    result = InvitationResult(selected=len(reasons), dry_run=c["dry_run"])
    registered = set(sess.scalars(select(VisitorRegistration.visitor_id).where(
        VisitorRegistration.edition_id == edition.id)))
    invited = set(sess.scalars(select(ExhibitionInvitation.visitor_id).where(
        ExhibitionInvitation.edition_id == edition.id)))
    now = utcnow()
    new = []
    for vid, reason in reasons.items():
        if vid in registered:
            result.already_registered += 1
        elif vid in invited:
            result.already_invited += 1
        else:
            new.append({"id": uuid.uuid4(), "edition_id": edition.id, "visitor_id": vid, "reason": reason[:200],
                        "status": "invited", "invited_by_id": user.id, "version": 1, "created_at": now,
                        "updated_at": now})
    result.created = len(new)
    if c["dry_run"]:
        return result
    rec = bulk.BulkRecorder(user)
    bulk.add_created(rec, ExhibitionInvitation, new, ("visitor_id", "reason"))
    bulk.add_timeline(rec, [bulk.timeline_row(user, r["visitor_id"], L.KIND_INVITATION,
                                              f"Invited to {edition.name}", now, r["reason"]) for r in new])
    rec.flush([ExhibitionInvitation, Interaction])
    audit.record_change(user, "invitations_built", edition,
                        payload={"selected": result.selected, "created": result.created,
                                 "criteria": {k: v for k, v in c.items() if k != "dry_run"}})
    return result


INVITATION_SORT = {"created_at": ExhibitionInvitation.created_at, "status": ExhibitionInvitation.status}


def _invitations_of(actor, edition: ExhibitionEdition, f: Mapping[str, Any]):
    stmt = _visible(actor, ExhibitionInvitation).where(ExhibitionInvitation.edition_id == edition.id)
    if f.get("status"):
        stmt = stmt.where(ExhibitionInvitation.status == f["status"])
    return stmt


def filtered_invitations(actor, filters=None):
    """The SELECT of the invitations :func:`list_invitations` lists, its edition a filter
    (``InvitationListFilter``: ``edition_id`` required, ``status``; a bad one is a ValidationFailed naming
    it), unordered: what ``trellis export`` reads."""
    require_staff(actor)
    f = common.validate(S.InvitationListFilter, dict(filters or {}))
    return _invitations_of(actor, _edition_filter(actor, f.pop("edition_id")), f)


def list_invitations(actor, edition_id, filters=None, *, page=common.PageRequest(), sort=None):
    require_staff(actor)
    edition = get_edition(actor, common.parse_uuid(edition_id, "edition_id"))
    f = common.validate(S.InvitationFilter, dict(filters or {}))
    return common.paginate(_invitations_of(actor, edition, f), page,
                           common.parse_sort(sort, INVITATION_SORT, "created_at"), ExhibitionInvitation.id)


def invite_exhibitors(actor, edition_id) -> list[ExhibitorParticipation]:
    """Rebooking: invite every company booked at the previous edition that is not yet part of this one."""
    require_staff(actor)
    edition = get_edition(actor, edition_id)
    prev = previous_edition(edition)
    if prev is None:
        raise ValidationFailed(fields={"edition_id": ["This edition has no previous edition."]})
    sess = db.session()
    here = select(ExhibitorParticipation.company_id).where(ExhibitorParticipation.edition_id == edition.id)
    companies = list(sess.scalars(select(ExhibitorParticipation).where(
        ExhibitorParticipation.edition_id == prev.id, ExhibitorParticipation.status.in_(BOOKED),
        ExhibitorParticipation.deleted_at.is_(None), ExhibitorParticipation.company_id.not_in(here))
        .order_by(ExhibitorParticipation.created_at, ExhibitorParticipation.id)))
    return [create_participation(actor, {"edition_id": str(edition.id), "company_id": str(p.company_id),
                                         "is_key": p.is_key, "categories": list(p.categories or [])})
            for p in companies]


# --- follow-up ---------------------------------------------------------------------------------------

def create_follow_ups(actor, edition_id=None, *, now: datetime | None = None) -> int:
    """After the show: a follow-up task (a planned core interaction on the visitor) for each hot lead,
    assigned to the exhibitor user who captured it, who is notified. Idempotent: a lead gets one task.
    ``actor`` None is the scheduled job, which handles every edition that has ended."""
    now = now or utcnow()
    sess = db.session()
    stmt = (select(ExhibitionLead).where(ExhibitionLead.rating == "hot", ExhibitionLead.deleted_at.is_(None),
                                         ExhibitionLead.follow_up_task_id.is_(None))
            .order_by(ExhibitionLead.captured_at, ExhibitionLead.id))
    if actor is not None:
        require_staff(actor)
        stmt = stmt.where(ExhibitionLead.edition_id == get_edition(actor, edition_id).id)
    else:
        stmt = stmt.where(ExhibitionLead.edition_id.in_(select(ExhibitionEdition.id).where(
            ExhibitionEdition.ends_on < now.date(), ExhibitionEdition.deleted_at.is_(None))))
    leads = list(sess.scalars(stmt))
    if not leads:
        return 0
    editions = {e.id: e for e in sess.scalars(select(ExhibitionEdition).where(
        ExhibitionEdition.id.in_({lead.edition_id for lead in leads})))}
    regs = {r.id: r for r in sess.scalars(select(VisitorRegistration).where(
        VisitorRegistration.id.in_({lead.registration_id for lead in leads}))
        .options(selectinload(VisitorRegistration.visitor)))}
    parts = {p.id: p for p in sess.scalars(select(ExhibitorParticipation).where(
        ExhibitorParticipation.id.in_({lead.participation_id for lead in leads})))}
    for lead in leads:
        edition, reg, participation = editions[lead.edition_id], regs[lead.registration_id], parts[lead.participation_id]
        assignee = sess.get(User, lead.captured_by_id) if lead.captured_by_id else None
        if assignee is None or not assignee.is_active or assignee.role != L.EXHIBITOR:
            team = users_of_company(participation.company_id)
            assignee = team[0] if team else (assignee or actor)
        card = visitor_card(reg, reg.visitor, visible_fields(assignee, edition) if assignee else ALL_VISITOR_FIELDS)
        who = card.get("name") or f"badge {reg.badge_code}"
        due = max(datetime.combine(edition.ends_on, time(9), tzinfo=timezone.utc) + timedelta(days=7),
                  now + timedelta(days=1))
        task = interactions.record_on_behalf(actor, {
            "customer_id": str(reg.visitor_id), "kind": L.KIND_FOLLOW_UP, "status": "planned",
            "direction": "outbound", "subject": f"Follow up hot lead {who} from {edition.name}"[:200],
            "notes": lead.notes or "", "due_at": due.isoformat(),
            "assignee_id": str(assignee.id) if assignee else None}, source=SOURCE)
        lead.follow_up_task_id = task.id
        sess.flush()
        audit.record_change(actor, "follow_up_created", lead, {"follow_up_task_id": (None, task.id)})
        if assignee is not None:
            notify(assignee, "exhibitions.follow_up", task.subject, f"Due {due.date().isoformat()}.", record=task,
                   dedupe_key=f"exhibitions:follow_up:{lead.id}")
    return len(leads)


# --- surveys -----------------------------------------------------------------------------------------

SURVEY_SORT = {"created_at": SurveyAnswer.created_at, "updated_at": SurveyAnswer.updated_at,
               "satisfaction": SurveyAnswer.satisfaction}
SURVEY_AUDITED = ["edition_id", "respondent", "phase", "satisfaction"]


def record_survey(actor, data) -> tuple[SurveyAnswer, bool]:
    """Store a satisfaction answer (staff for visitors, at kiosks or from the post-show mailing; an
    exhibitor user for its own participation) and put it on the respondent's timeline. A respondent (a
    visitor's registration, an exhibitor's participation) gives one answer per survey (edition and
    phase): answering again replaces the answer and its timeline entry. Returns the answer and whether
    it is new."""
    user = require_staff_or_exhibitor(actor)
    values = common.validate(S.SurveyCreate, data)
    edition = _ref(actor, ExhibitionEdition, values["edition_id"], "edition_id", "edition")
    if values.get("registration_id"):
        require_staff(user)
        reg = _ref(actor, VisitorRegistration, values["registration_id"], "registration_id", "registration")
        if reg.edition_id != edition.id:
            raise ValidationFailed(fields={"registration_id": ["Belongs to another edition."]})
        respondent, customer_id, who = "visitor", reg.visitor_id, SurveyAnswer.registration_id == reg.id
    else:
        participation = _ref(actor, ExhibitorParticipation, values["participation_id"], "participation_id",
                             "participation")
        if participation.edition_id != edition.id:
            raise ValidationFailed(fields={"participation_id": ["Belongs to another edition."]})
        respondent, customer_id = "exhibitor", participation.company_id
        who = SurveyAnswer.participation_id == participation.id
    subject = f"{edition.name} survey ({values['phase']}): satisfaction {values['satisfaction']}/5"
    answer = db.session().scalars(select(SurveyAnswer).where(
        SurveyAnswer.edition_id == edition.id, who, SurveyAnswer.phase == values["phase"])
        .order_by(SurveyAnswer.created_at.desc(), SurveyAnswer.id.desc()).limit(1)).first()
    if answer is not None:
        changes = common.apply_changes(answer, {"satisfaction": values["satisfaction"], "comment": values["comment"],
                                                "submitted_by_id": user.id})
        entry = db.session().get(Interaction, answer.interaction_id) if answer.interaction_id else None
        try:
            if entry is None or entry.deleted_at is not None:
                raise NotFound("The answer's timeline entry is gone.")
            interactions.update(actor, entry.id, {"version": entry.version, "subject": subject[:200],
                                                  "notes": values["comment"]})
        except NotFound:  # deleted from the timeline, or not the actor's to change: a new entry then
            answer.interaction_id = _timeline(actor, customer_id, L.KIND_SURVEY, subject, notes=values["comment"]).id
        db.session().flush()
        if changes:
            audit.record_change(actor, "updated", answer, changes)
        return answer, False
    answer = SurveyAnswer(edition_id=edition.id, respondent=respondent, registration_id=values.get("registration_id"),
                          participation_id=values.get("participation_id"), phase=values["phase"],
                          satisfaction=values["satisfaction"], comment=values["comment"], submitted_by_id=user.id)
    entry = _timeline(actor, customer_id, L.KIND_SURVEY, subject, notes=values["comment"])
    answer.interaction_id = entry.id
    _created(actor, answer, SURVEY_AUDITED)
    return answer, True


def submit_survey(actor, data) -> SurveyAnswer:
    """:func:`record_survey`, the answer only (GraphQL's ``submitExhibitionSurveyAnswer``)."""
    return record_survey(actor, data)[0]


def filtered_surveys(actor, filters=None):
    """The survey answers the actor's list shows with ``filters`` (``SurveyFilter``), unpaged."""
    return _filtered(actor, SurveyAnswer, S.SurveyFilter, filters)


def list_surveys(actor, filters=None, *, page=common.PageRequest(), sort=None):
    """The survey answers ``actor`` may see (organiser staff: all; an exhibitor user: its own company's),
    filtered by edition, respondent, phase, registration, participation; newest first by default."""
    return common.paginate(filtered_surveys(actor, filters), page, common.parse_sort(sort, SURVEY_SORT, "-created_at"),
                           SurveyAnswer.id)


def get_survey(actor, answer_id) -> SurveyAnswer:
    return _get(actor, SurveyAnswer, answer_id, "survey answer")


# --- what the GraphQL layer and the customers' pages ask for, batched --------------------------------

def registrations_for_customers(actor, customer_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[VisitorRegistration]]:
    out = {cid: [] for cid in customer_ids}
    if customer_ids:
        for reg in db.session().scalars(_visible(actor, VisitorRegistration).where(
                VisitorRegistration.visitor_id.in_(customer_ids)).order_by(VisitorRegistration.registered_at,
                                                                           VisitorRegistration.id)):
            out[reg.visitor_id].append(reg)
    return out


def participations_for_customers(actor, customer_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[ExhibitorParticipation]]:
    out = {cid: [] for cid in customer_ids}
    if customer_ids:
        for p in db.session().scalars(_visible(actor, ExhibitorParticipation).where(
                ExhibitorParticipation.company_id.in_(customer_ids)).order_by(ExhibitorParticipation.created_at,
                                                                              ExhibitorParticipation.id)):
            out[p.company_id].append(p)
    return out


def registration_pages_for_customers(actor, customer_ids: list[uuid.UUID], page: paging.KeysetRequest,
                                     sort: str | None = None) -> dict[uuid.UUID, paging.KeysetPage]:
    """A keyset page of each visitor's registrations (oldest first; ``sort``, keys of ``REGISTRATION_SORT``
    as the root list takes them, orders them otherwise), in one statement (a window)."""
    return paging.seek_windows(db.session(), _visible(actor, VisitorRegistration), VisitorRegistration.visitor_id,
                               customer_ids, page, common.parse_sort(sort, REGISTRATION_SORT, "registered_at"),
                               VisitorRegistration.id)


def registration_counts(actor, customer_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    return paging.count_windows(db.session(), _visible(actor, VisitorRegistration), VisitorRegistration.visitor_id,
                                customer_ids)


def participation_pages_for_customers(actor, customer_ids: list[uuid.UUID], page: paging.KeysetRequest,
                                      sort: str | None = None) -> dict[uuid.UUID, paging.KeysetPage]:
    """A keyset page of each company's exhibitor participations (oldest first; ``sort``, keys of
    ``PARTICIPATION_SORT`` as the root list takes them, orders them otherwise), in one statement."""
    return paging.seek_windows(db.session(), _visible(actor, ExhibitorParticipation),
                               ExhibitorParticipation.company_id, customer_ids, page,
                               common.parse_sort(sort, PARTICIPATION_SORT, "created_at"), ExhibitorParticipation.id)


def participation_counts(actor, customer_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    return paging.count_windows(db.session(), _visible(actor, ExhibitorParticipation),
                                ExhibitorParticipation.company_id, customer_ids)


def participation_pages_for_editions(actor, edition_ids: list[uuid.UUID], page: paging.KeysetRequest,
                                     sort: str | None = None) -> dict[uuid.UUID, paging.KeysetPage]:
    """A keyset page of each edition's exhibitors (oldest first; ``sort``, keys of ``PARTICIPATION_SORT``,
    orders them otherwise), in one statement (a window): the nested ``ExhibitionEdition.exhibitors``."""
    return paging.seek_windows(db.session(), _visible(actor, ExhibitorParticipation),
                               ExhibitorParticipation.edition_id, edition_ids, page,
                               common.parse_sort(sort, PARTICIPATION_SORT, "created_at"), ExhibitorParticipation.id)


def participation_counts_for_editions(actor, edition_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    return paging.count_windows(db.session(), _visible(actor, ExhibitorParticipation),
                                ExhibitorParticipation.edition_id, edition_ids)


def registration_pages_for_editions(actor, edition_ids: list[uuid.UUID], page: paging.KeysetRequest,
                                    sort: str | None = None) -> dict[uuid.UUID, paging.KeysetPage]:
    """A keyset page of each edition's registrations (by registration time; ``sort``, keys of
    ``REGISTRATION_SORT``, orders them otherwise), in one statement (a window): the nested
    ``ExhibitionEdition.visitors``."""
    return paging.seek_windows(db.session(), _visible(actor, VisitorRegistration), VisitorRegistration.edition_id,
                               edition_ids, page, common.parse_sort(sort, REGISTRATION_SORT, "registered_at"),
                               VisitorRegistration.id)


def count_registrations_for_editions(actor, edition_ids: list[uuid.UUID], *, live: bool = False
                                     ) -> dict[uuid.UUID, int]:
    """How many registrations of each edition ``actor`` may see (the ``visitors`` connection's total);
    ``live``: only those not cancelled (``visitorCount``, as the ``registrations`` metric counts)."""
    out = {eid: 0 for eid in edition_ids}
    if edition_ids:
        stmt = select(VisitorRegistration.edition_id, func.count()).where(
            visibility(actor, VisitorRegistration), VisitorRegistration.deleted_at.is_(None),
            VisitorRegistration.edition_id.in_(edition_ids))
        if live:
            stmt = stmt.where(VisitorRegistration.status == "registered")
        out.update(dict(db.session().execute(stmt.group_by(VisitorRegistration.edition_id)).all()))
    return out




# --- metrics of one edition --------------------------------------------------------------------------

def edition_metrics(actor, edition_id) -> dict:
    """Every metric of one edition, with unique visitors per day (admins, organiser staff, managers)."""
    from plugins.exhibitions import metrics

    user = require_actor(actor)
    edition = get_edition(actor, edition_id)
    if user.role not in metrics.VIEWERS:
        raise Forbidden("Edition metrics are for organiser staff and managers.")
    values = metrics.compute([edition.id])[edition.id]
    values["visitors_by_day"] = [{"day": day.isoformat(), "visitors": n}
                                 for _, day, n in metrics.unique_visitors_by_day([edition.id])]
    return values
