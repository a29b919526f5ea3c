"""Property service (物业服务): the service functions of the reference records — estates, buildings, units,
occupancies, service teams, request kinds, SLA policies, the plugin's settings and Open311 API keys.
Each takes the acting user first, checks permissions, validates, audits every write. Estates, buildings,
units, occupancies, kinds and SLA policies are declared records (``core.records.RecordSpec``: schemas and
service derived from the model, their own rules in hooks); teams use :class:`Resource`.

Service requests themselves live in :mod:`plugins.property_service.requests`.
"""
from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from marshmallow import fields, validate
from sqlalchemy import Select, delete as sql_delete, func, select

from core import db
from core.db import utcnow
from core.errors import Conflict, NotFound, ValidationFailed
from core.models import Customer, Role, User
from core.records import FieldSpec, FilterSpec, RecordSpec
from core.schemas import BoundedList
from core.services import audit, common, customers
from core.services.permissions import require_actor, require_role, visibility
from plugins.property_service import labels, schemas as s
from plugins.property_service.labels import CENTRE, STAFF
from plugins.property_service.models import (
    PsApiKey, PsBuilding, PsEstate, PsKind, PsOccupancy, PsSettings, PsSlaPolicy, PsTeam, PsTeamMember, PsUnit,
)
from plugins.property_service.permissions import require_centre


@dataclass
class Resource:
    """List / get / create / update / delete / restore for one reference record, with the house rules:
    visibility on every read, the centre (or an admin) for writes, validation through the schemas, a
    stale ``version`` is 409, soft delete, every write audited."""

    model: type
    create_schema: type
    update_schema: type
    filter_schema: type
    sortable: dict
    default_sort: str
    noun: str
    #: ``check(actor, values, record_or_None)`` validates references and uniqueness; may adjust values
    check: Callable[..., None] | None = None
    #: filters handled specially: ``{"q": fn(stmt, value) -> stmt}``
    special_filters: dict = field(default_factory=dict)
    #: fields the model does not hold (team members): ``fn(actor, record, value, changes)``
    extra_fields: dict = field(default_factory=dict)

    def visible(self, actor: Any, *, deleted: bool = False) -> Select:
        return select(self.model).where(visibility(actor, self.model), common.not_deleted(self.model, deleted))

    def get(self, actor: Any, record_id: Any, *, deleted: bool = False):
        rid = common.parse_uuid(record_id)
        row = db.session().scalars(self.visible(actor, deleted=deleted).where(self.model.id == rid)).first()
        if row is None:
            raise NotFound(f"No {self.noun} with this id.")
        return row

    def filtered(self, actor: Any, filters: Mapping[str, Any] | None = None) -> Select:
        """``SELECT model`` of the records the actor's list shows with ``filters`` (checked: a bad one is a
        ValidationFailed naming it), unordered: :meth:`list` pages it, ``trellis export`` reads it whole."""
        f = common.validate(self.filter_schema, dict(filters or {}))
        stmt = self.visible(actor, deleted=f.pop("deleted", False))
        for key, value in f.items():
            if key in self.special_filters:
                stmt = self.special_filters[key](stmt, value)
            else:
                stmt = stmt.where(getattr(self.model, key) == value)
        return stmt

    def list(self, actor: Any, filters: Mapping[str, Any] | None = None, *,
             page: common.PageRequest = common.PageRequest(), sort: str | None = None) -> common.Page:
        return common.paginate(self.filtered(actor, filters), page,
                               common.parse_sort(sort, self.sortable, self.default_sort), self.model.id)

    def create(self, actor: Any, data: Mapping[str, Any]):
        user = require_centre(actor)
        values = common.validate(self.create_schema, data)
        extras = {k: values.pop(k) for k in list(values) if k in self.extra_fields}
        if self.check:
            self.check(user, values, None)
        row = self.model(**values)
        db.session().add(row)
        db.session().flush()
        changes = audit.created_fields(row, list(values))
        for key, value in extras.items():
            self.extra_fields[key](user, row, value, changes)
        audit.record_change(user, "created", row, changes)
        return row

    def update(self, actor: Any, record_id: Any, data: Mapping[str, Any]):
        user = require_centre(actor)
        row = self.get(user, record_id)
        values = common.validate_update(self.update_schema, data)
        common.check_version(row, values.pop("version"))
        extras = {k: values.pop(k) for k in list(values) if k in self.extra_fields}
        if self.check:
            self.check(user, values, row)
        changes = common.apply_changes(row, values)
        for key, value in extras.items():
            self.extra_fields[key](user, row, value, changes)
        if changes and not any(k in values for k in changes):
            row.updated_at = utcnow()  # a change of a linked row (members) is a change of the record
        db.session().flush()
        if changes:
            audit.record_change(user, "updated", row, changes)
        return row

    def delete(self, actor: Any, record_id: Any) -> None:
        user = require_centre(actor)
        row = self.get(user, record_id)
        common.soft_delete(row)
        audit.record_change(user, "deleted", row)

    def restore(self, actor: Any, record_id: Any):
        user = require_centre(actor)
        row = self.get(user, record_id, deleted=True)
        if self.check:
            self.check(user, {}, row)  # a restored record must not clash with a live one
        common.restore(row)
        audit.record_change(user, "restored", row)
        return row


def _active_user(user_id: Any, field_name: str) -> User:
    user = db.session().get(User, user_id)
    if user is None or user.deleted_at is not None or not user.is_active:
        raise ValidationFailed(fields={field_name: ["No active user has this id."]})
    return user


# --- estates, buildings, units, occupancies: declared records (docs/plugins.md, "Declaring a record") ---

#: the update's ``version``, described as these records always did
VERSION = {"update": {"version": fields.Integer(required=True, metadata={
    "description": "The version you read; a stale one is 409."})}}
_LAT = {"lat": FieldSpec(validate=s.LAT), "long": FieldSpec(validate=s.LONG)}
#: shown, set only by an import (``RecordSpec.import_type``: the import finds the record again by it)
_EXTERNAL = {"external_id": FieldSpec(read_only=True)}

estates = RecordSpec(
    PsEstate, "PropertyEstate", schema_prefix="Estate", noun="estate", writers=require_centre,
    sortable=("name", "created_at"), default_sort="name", extra=VERSION,
    fields={"name": FieldSpec(validate=validate.Length(min=1, max=200), filter={"q": FilterSpec(
                "contains", "Only estates whose name contains this text (case-insensitive).")}), **_LAT, **_EXTERNAL})

buildings = RecordSpec(   # estate_id names a live estate: the estates' own read checks it (422 on the field)
    PsBuilding, "PropertyBuilding", schema_prefix="Building", noun="building", writers=require_centre,
    sortable=("name", "created_at"), default_sort="name", extra=VERSION,
    fields={"estate_id": FieldSpec(create_only=True, filter=True),
            "name": FieldSpec(validate=validate.Length(min=1, max=100)), **_LAT, **_EXTERNAL})


def _one_unit_per_room(user, values, row=None):
    """A building holds one live unit per (unit, room): a hook before create, update and restore."""
    building_id = values.get("building_id", row.building_id if row is not None else None)
    unit = values.get("unit", row.unit if row is not None else "") or ""
    room = values.get("room", row.room if row is not None else None)
    clash = db.session().scalar(select(PsUnit.id).where(
        PsUnit.building_id == building_id, PsUnit.unit == unit, PsUnit.room == room, PsUnit.deleted_at.is_(None),
        *([PsUnit.id != row.id] if row is not None else [])))
    if clash is not None:
        raise Conflict("This building already has this unit and room.", fields={"room": ["Already exists."]})
    if row is None:
        values.setdefault("unit", unit)


def _units_per_room(user, items):
    """``_one_unit_per_room`` for an import batch's new units (``before_import``): one query for the rooms
    of the batch's buildings; a (building, unit, room) taken, or given twice in the batch, refuses the row."""
    for values in items:
        values["unit"] = values.get("unit") or ""
    keys = [(v["building_id"], v["unit"], v["room"]) for v in items]
    taken = set(db.session().execute(select(PsUnit.building_id, PsUnit.unit, PsUnit.room).where(
        db.in_values(PsUnit.building_id, {k[0] for k in keys}), db.in_values(PsUnit.room, {k[2] for k in keys}),
        PsUnit.deleted_at.is_(None))).all()) if keys else set()
    refused, seen = {}, set()
    for index, key in enumerate(keys):
        if key in taken:
            refused[index] = Conflict("This building already has this unit and room.", fields={"room": ["Already exists."]})
        elif key in seen:
            refused[index] = Conflict(fields={"room": ["An earlier row of the file has this building, unit and room."]})
        seen.add(key)
    return refused


units = RecordSpec(
    PsUnit, "PropertyUnit", schema_prefix="Unit", noun="unit", writers=require_centre,
    sortable=("unit", "room", "created_at"), default_sort="unit,room",
    extra={**VERSION, "out": {"area": fields.Decimal(allow_none=True, as_string=True)}},
    fields={"building_id": FieldSpec(create_only=True, filter=True),
            "unit": FieldSpec(description="Staircase unit (单元)."),
            "room": FieldSpec(validate=validate.Length(min=1, max=20)),
            "area": FieldSpec(field=fields.Decimal(   # written as a number (or a decimal string), shown as a string
                allow_none=True, places=2, validate=validate.Range(min=0, max=10**7))), **_EXTERNAL},
    hooks={"before_create": _one_unit_per_room, "before_import": _units_per_room,
           "before_update": lambda user, row, values: _one_unit_per_room(user, values, row),
           "before_restore": lambda user, row: _one_unit_per_room(user, {}, row)})


def _check_dates(values, row=None):
    """An occupancy ends no sooner than it starts."""
    start = values.get("start_date", row.start_date if row is not None else None)
    end = values.get("end_date", row.end_date if row is not None else None)
    if start and end and end < start:
        raise ValidationFailed(fields={"end_date": ["Must not be before start_date."]})


def _check_occupancy(user, values, row=None):
    """An occupancy ends no sooner than it starts; a new one names a live unit and a customer the user may
    see (a hook before create and update). Checked in this order, the first problem refused alone, as the
    hand-written service did: the references are read here, not by the spec (``reference=False``)."""
    _check_dates(values, row)
    if row is not None:
        return
    for key, read in (("unit_id", units.get), ("customer_id", customers.get)):
        try:
            read(user, values[key])
        except NotFound as missing:
            raise ValidationFailed(fields={key: [missing.message]}) from None


def _check_occupancies(user, items):
    """``_check_occupancy`` for an import batch's new occupancies (``before_import``): the dates of each,
    then its unit and customer among those the user may see, one query each for the batch."""
    refused = {}
    for index, values in enumerate(items):
        try:
            _check_dates(values)
        except ValidationFailed as exc:
            refused[index] = exc
    unit_ids = {v["unit_id"] for v in items}
    seen_units = set(db.session().scalars(units.visible(user).with_only_columns(PsUnit.id).where(
        db.in_values(PsUnit.id, unit_ids)))) if unit_ids else set()
    customer_ids = {v["customer_id"] for v in items}
    seen_customers = set(db.session().scalars(customers.visible(user).with_only_columns(Customer.id).where(
        db.in_values(Customer.id, customer_ids)))) if customer_ids else set()
    for index, values in enumerate(items):
        if index in refused:
            continue
        if values["unit_id"] not in seen_units:
            refused[index] = ValidationFailed(fields={"unit_id": ["No unit with this id."]})
        elif values["customer_id"] not in seen_customers:
            refused[index] = ValidationFailed(fields={"customer_id": ["No customer with this id."]})
    return refused


occupancies = RecordSpec(
    PsOccupancy, "PropertyOccupancy", schema_prefix="Occupancy", noun="occupancy", writers=require_centre,
    sortable=("start_date", "created_at"), default_sort="created_at",
    fields={"unit_id": FieldSpec(create_only=True, filter=True, reference=False),
            "customer_id": FieldSpec(create_only=True, filter=True, reference=False),
            "relation": FieldSpec(filter=True, default="owner", choices=labels.values(labels.RELATIONS)),
            **_EXTERNAL},
    hooks={"before_create": _check_occupancy, "before_import": _check_occupancies,
           "before_update": lambda user, row, values: _check_occupancy(user, values, row)})


def units_of_customers(actor: Any, customer_ids: list[uuid.UUID], *, current_only: bool = True) -> dict:
    """``{customer_id: [(occupancy, unit)]}`` for many customers in one query (DataLoaders, lists)."""
    out: dict[uuid.UUID, list] = {cid: [] for cid in customer_ids}
    if not customer_ids:
        return out
    stmt = (select(PsOccupancy, PsUnit).join(PsUnit, PsUnit.id == PsOccupancy.unit_id)
            .where(visibility(actor, PsOccupancy), PsOccupancy.deleted_at.is_(None), PsUnit.deleted_at.is_(None),
                   PsOccupancy.customer_id.in_(customer_ids))
            .order_by(PsOccupancy.customer_id, PsUnit.unit, PsUnit.room, PsOccupancy.id))
    if current_only:
        today = utcnow().date()
        stmt = stmt.where((PsOccupancy.end_date.is_(None)) | (PsOccupancy.end_date >= today))
    for occupancy, unit in db.session().execute(stmt):
        out[occupancy.customer_id].append((occupancy, unit))
    return out


def _current_occupancies(actor: Any) -> Select:
    today = utcnow().date()
    return (select(PsOccupancy).join(PsUnit, PsUnit.id == PsOccupancy.unit_id)
            .where(visibility(actor, PsOccupancy), PsOccupancy.deleted_at.is_(None), PsUnit.deleted_at.is_(None),
                   (PsOccupancy.end_date.is_(None)) | (PsOccupancy.end_date >= today)))


def occupancy_pages_for_customers(actor: Any, customer_ids: list[uuid.UUID], page: Any,
                                  sort: str | None = None) -> dict:
    """A keyset page of each customer's current occupancies (by unit and room; ``sort``, keys of
    ``occupancies.sortable`` as the root list takes them, orders them otherwise), for many customers in one
    statement (a window): the nested ``Customer.units``."""
    from core.services import paging

    order = (common.parse_sort(sort, occupancies.sortable, occupancies.default_sort) if sort
             else [PsUnit.unit, PsUnit.room])
    return paging.seek_windows(db.session(), _current_occupancies(actor), PsOccupancy.customer_id, customer_ids,
                               page, order, PsOccupancy.id)


def occupancy_counts_for_customers(actor: Any, customer_ids: list[uuid.UUID]) -> dict:
    from core.services import paging

    return paging.count_windows(db.session(), _current_occupancies(actor), PsOccupancy.customer_id, customer_ids)


def units_of(actor: Any, customer_id: Any) -> list:
    customer = customers.get(actor, customer_id)
    return units_of_customers(actor, [customer.id], current_only=False)[customer.id]


# --- teams -------------------------------------------------------------------------------------------

def member_ids(team_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[uuid.UUID]]:
    out: dict[uuid.UUID, list[uuid.UUID]] = {tid: [] for tid in team_ids}
    if team_ids:
        rows = db.session().execute(select(PsTeamMember.team_id, PsTeamMember.user_id)
                                    .where(PsTeamMember.team_id.in_(team_ids))
                                    .order_by(PsTeamMember.team_id, PsTeamMember.user_id))
        for team_id, user_id in rows:
            out[team_id].append(user_id)
    return out


def _check_team(actor, values, row):
    code = values.get("code", row.code if row is not None else None)
    clash = db.session().scalar(select(PsTeam.id).where(
        PsTeam.code == code, PsTeam.deleted_at.is_(None), *([PsTeam.id != row.id] if row is not None else [])))
    if clash is not None:
        raise Conflict("A team with this code exists.", fields={"code": ["Already taken."]})
    if values.get("manager_id") is not None:
        _active_user(values["manager_id"], "manager_id")


def _set_members(actor, team: PsTeam, ids: list, changes: dict) -> None:
    wanted = list(dict.fromkeys(ids))
    for uid in wanted:
        user = _active_user(uid, "member_ids")
        if user.role not in (STAFF, CENTRE, Role.MANAGER.value, Role.ADMIN.value):
            raise ValidationFailed(fields={"member_ids": [f"{user.email} has role '{user.role}'; team members "
                                                          f"need the role '{STAFF}'."]})
    before = member_ids([team.id])[team.id]
    if sorted(before) == sorted(wanted):
        return
    db.session().execute(sql_delete(PsTeamMember).where(PsTeamMember.team_id == team.id))
    db.session().add_all(PsTeamMember(team_id=team.id, user_id=uid) for uid in wanted)
    db.session().flush()
    changes["member_ids"] = (sorted(before), sorted(wanted))


def with_members(teams: list[PsTeam]) -> list[PsTeam]:
    """Attach each team's member ids (one query for the whole list)."""
    members = member_ids([t.id for t in teams])
    for team in teams:
        team.__dict__["_member_ids"] = members[team.id]
    return teams


class TeamResource(Resource):
    """Teams come back with their member ids."""

    def get(self, actor, record_id, *, deleted=False):
        return with_members([super().get(actor, record_id, deleted=deleted)])[0]

    def list(self, actor, filters=None, *, page=common.PageRequest(), sort=None):
        result = super().list(actor, filters, page=page, sort=sort)
        with_members(result.items)
        return result

    def create(self, actor, data):
        return with_members([super().create(actor, data)])[0]

    def update(self, actor, record_id, data):
        return with_members([super().update(actor, record_id, data)])[0]

    def restore(self, actor, record_id):
        return with_members([super().restore(actor, record_id)])[0]


teams = TeamResource(PsTeam, s.TeamCreate, s.TeamUpdate, s.TeamFilter,
                     {"code": PsTeam.code, "name": PsTeam.name, "created_at": PsTeam.created_at}, "code", "team",
                     check=_check_team, extra_fields={"member_ids": _set_members})


def team_by_code(code: str) -> PsTeam | None:
    return db.session().scalar(select(PsTeam).where(PsTeam.code == code, PsTeam.deleted_at.is_(None)))


def is_member(user: User, team: PsTeam) -> bool:
    if team.manager_id == user.id:
        return True
    return db.session().scalar(select(func.count()).select_from(PsTeamMember).where(
        PsTeamMember.team_id == team.id, PsTeamMember.user_id == user.id)) > 0


# --- kinds -------------------------------------------------------------------------------------------

def _live_team(user, team_id):
    """How a kind's ``default_team_id`` is read: a live team (otherwise a 422 on the field)."""
    team = db.session().get(PsTeam, team_id)
    if team is None or team.deleted_at is not None:
        raise NotFound("No team with this id.")


def _check_kind(user, values, row=None):
    """One live kind per code; Open311 attribute definitions with codes and orders of their own (a hook
    before create, update and restore)."""
    code = values.get("code", row.code if row is not None else None)
    clash = db.session().scalar(select(PsKind.id).where(
        PsKind.code == code, PsKind.deleted_at.is_(None), *([PsKind.id != row.id] if row is not None else [])))
    if clash is not None:
        raise Conflict("A kind with this code exists.", fields={"code": ["Already taken."]})
    attrs = values.get("attributes")
    if attrs is not None:
        codes = [a["code"] for a in attrs]
        if len(set(codes)) != len(codes):
            raise ValidationFailed(fields={"attributes": ["Attribute codes must be unique."]})
        # Open311: order is "a positive integer not used by another attribute of the service"
        orders = [a["order"] for a in attrs if a.get("order") is not None]
        if dupes := sorted({o for o in orders if orders.count(o) > 1}):
            raise ValidationFailed(fields={"attributes": [
                f"Each attribute needs an order of its own; {', '.join(map(str, dupes))} is used more than once."]})
        free = (n for n in range(1, 10**6) if n not in set(orders))
        for a in attrs:
            if a.get("order") is None:
                a["order"] = next(free)
        for a in attrs:
            if a["datatype"] in ("singlevaluelist", "multivaluelist") and not a["values"]:
                raise ValidationFailed(fields={"attributes": [f"'{a['code']}' is a list and needs values."]})


_LABEL = validate.Length(min=1, max=120)
kinds = RecordSpec(
    PsKind, "PropertyRequestKind", schema_prefix="Kind", noun="kind", writers=require_centre,
    sortable=("code", "created_at"), default_sort="code",
    fields={"code": FieldSpec(create_only=True, validate=s.CODE),
            "label_en": FieldSpec(validate=_LABEL), "label_zh_cn": FieldSpec(validate=_LABEL),
            "description": FieldSpec(validate=validate.Length(max=2000)),
            "default_team_id": FieldSpec(reference=_live_team),
            "active": FieldSpec(filter=True), "public": FieldSpec(filter=True),
            "attributes": FieldSpec(field=BoundedList(fields.Nested(s.AttributeDefinition), max_items=50))},
    extra={**VERSION, "out": {"attributes": fields.List(fields.Dict())}},   # shown as stored
    hooks={"before_create": _check_kind,
           "before_update": lambda user, row, values: _check_kind(user, values, row),
           "before_restore": lambda user, row: _check_kind(user, {}, row)})


def kind_by_code(code: str, *, active_only: bool = True) -> PsKind | None:
    stmt = select(PsKind).where(PsKind.code == code, PsKind.deleted_at.is_(None))
    if active_only:
        stmt = stmt.where(PsKind.active.is_(True))
    return db.session().scalar(stmt)


def all_kinds(*, public_only: bool = False) -> list[PsKind]:
    stmt = select(PsKind).where(PsKind.deleted_at.is_(None), PsKind.active.is_(True)).order_by(PsKind.code)
    if public_only:
        stmt = stmt.where(PsKind.public.is_(True))
    return list(db.session().scalars(stmt))


#: The kinds a new installation starts with (written by :func:`ensure_default_kinds`).
DEFAULT_KINDS = [
    {"code": "repair", "label_en": "Repair", "label_zh_cn": "报修", "group": "Maintenance",
     "description": "Something in your unit or a common area is broken.", "keywords": "repair,broken,leak",
     "team": "engineering", "attributes": [
         {"code": "location_type", "datatype": "singlevaluelist", "required": True, "order": 1,
          "description": "Where is the problem?",
          "values": [{"key": "unit", "name": "In my unit"}, {"key": "common", "name": "Common area"}]}]},
    {"code": "complaint", "label_en": "Complaint", "label_zh_cn": "投诉", "group": "Service",
     "description": "Tell us about a problem with our service or a neighbour.", "keywords": "complaint,noise",
     "team": "administration", "attributes": []},
    {"code": "consultation", "label_en": "Consultation", "label_zh_cn": "咨询", "group": "Service",
     "description": "Ask us a question.", "keywords": "question,information", "demand": True,
     "team": "administration", "attributes": []},
    {"code": "suggestion", "label_en": "Written suggestion", "label_zh_cn": "书面建议", "group": "Service",
     "description": "Suggest an improvement or a new service.", "keywords": "suggestion,idea", "demand": True,
     "team": "administration", "attributes": []},
]


def ensure_default_kinds(actor: Any) -> list[PsKind]:
    """Create the four standard kinds (报修, 投诉, 咨询, 书面建议) where missing; teams by code when they exist."""
    made = []
    for spec in DEFAULT_KINDS:
        if kind_by_code(spec["code"], active_only=False) is not None:
            continue
        data = {k: v for k, v in spec.items() if k != "team"}
        team = team_by_code(spec["team"])
        if team is not None:
            data["default_team_id"] = str(team.id)
        made.append(kinds.create(actor, data))
    return made


# --- SLA policies --------------------------------------------------------------------------------------

def _check_policy(user, values, row=None):
    """A policy names a kind (or ``*``), is the only live one for its kind and priority, and resolves no
    sooner than it responds (a hook before create, update and restore)."""
    kind = values.get("kind", row.kind if row is not None else "*")
    if kind != "*" and kind_by_code(kind, active_only=False) is None:
        raise ValidationFailed(fields={"kind": ["No kind with this code ('*' for every kind)."]})
    priority = values.get("priority", row.priority if row is not None else None)
    clash = db.session().scalar(select(PsSlaPolicy.id).where(
        PsSlaPolicy.kind == kind, PsSlaPolicy.priority == priority, PsSlaPolicy.deleted_at.is_(None),
        *([PsSlaPolicy.id != row.id] if row is not None else [])))
    if clash is not None:
        raise Conflict("A policy for this kind and priority exists; change it instead.",
                       fields={"priority": ["Already has a policy."]})
    response = values.get("response_minutes", row.response_minutes if row is not None else None)
    resolution = values.get("resolution_minutes", row.resolution_minutes if row is not None else None)
    if response and resolution and resolution < response:
        raise ValidationFailed(fields={"resolution_minutes": ["Must not be shorter than response_minutes."]})


def _forget_policies(*_args) -> None:
    """A policy changed: the rest of the unit of work sees it at once (the SLA clocks' cache)."""
    from plugins.property_service import sla

    sla.forget()


def _restore_policy(user, row) -> None:
    _check_policy(user, {}, row)
    _forget_policies()


_MINUTES = validate.Range(min=1, max=60 * 24 * 365)
sla_policies = RecordSpec(
    PsSlaPolicy, "PropertySlaPolicy", schema_prefix="SlaPolicy", noun="SLA policy", writers=require_centre,
    sortable=("kind", "priority"), default_sort="kind,priority",
    extra={**VERSION, "create": {"kind": fields.String(load_default="*", validate=validate.Length(min=1, max=40),
                                                       metadata={"description": "A kind's code, or '*' for every kind."})}},
    fields={"kind": FieldSpec(create_only=True, filter=True),
            "priority": FieldSpec(create_only=True, filter=True, choices=labels.values(labels.PRIORITIES)),
            "response_minutes": FieldSpec(validate=_MINUTES), "resolution_minutes": FieldSpec(validate=_MINUTES),
            "escalate_after_minutes": FieldSpec(validate=validate.Range(min=0, max=60 * 24 * 365))},
    hooks={"before_create": _check_policy, "after_create": _forget_policies,
           "before_update": lambda user, row, values: _check_policy(user, values, row),
           "after_update": _forget_policies, "before_delete": _forget_policies,
           "before_restore": _restore_policy})


# --- settings ----------------------------------------------------------------------------------------

def get_settings(actor: Any) -> dict:
    require_actor(actor)
    from plugins.property_service import sla

    return sla.settings_values()


def update_settings(actor: Any, data: Mapping[str, Any]) -> dict:
    """Change the working calendar and feedback rules (admins and the centre)."""
    from plugins.property_service import sla
    from plugins.property_service.workhours import WorkCalendar

    user = require_centre(actor)
    values = common.validate(s.SettingsUpdate, data)
    version = values.pop("version", None)
    row = sla.settings_row()
    created = row is None
    if created:
        row = PsSettings(name="default", **sla.DEFAULT_SETTINGS)
        db.session().add(row)
    elif version is not None:
        common.check_version(row, version)
    for key in ("holidays", "extra_workdays"):
        if key in values:
            values[key] = sorted({d.isoformat() for d in values[key]})
    if "workdays" in values:
        values["workdays"] = sorted(set(values["workdays"]))
    merged = {**sla.settings_values(row), **values}
    try:
        WorkCalendar.build(tz=merged["timezone"], workdays=merged["workdays"], hours=merged["hours"])
    except Exception as exc:  # an unknown zone or overlapping hours
        field_name = "timezone" if "zone" in type(exc).__name__.lower() or "key" in str(exc).lower() else "hours"
        raise ValidationFailed(fields={field_name: [str(exc) or "Invalid calendar."]}) from None
    changes = common.apply_changes(row, values)
    db.session().flush()
    sla.forget()
    if changes or created:
        audit.record_change(user, "created" if created else "updated", row, changes)
    return sla.settings_values(row)


# --- Open311 API keys --------------------------------------------------------------------------------

KEY_PREFIX = "o311_"


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(actor: Any, data: Mapping[str, Any]) -> tuple[PsApiKey, str]:
    """An admin creates an Open311 key; requests posted with it are written as ``user_id`` (an admin or a
    centre user). Returns the record and the key, which is shown only now."""
    admin = require_role(actor, Role.ADMIN.value)
    values = common.validate(s.ApiKeyCreate, data)
    user = _active_user(values.get("user_id") or admin.id, "user_id")
    if user.role not in (Role.ADMIN.value, CENTRE):
        raise ValidationFailed(fields={"user_id": [f"The key must write as an admin or a '{CENTRE}' user."]})
    plain = KEY_PREFIX + secrets.token_urlsafe(24)
    key = PsApiKey(name=values["name"], key_hash=_digest(plain), prefix=plain[:12], user_id=user.id)
    db.session().add(key)
    db.session().flush()
    audit.record_change(admin, "created", key, {"name": (None, key.name), "user_id": (None, user.id)})
    return key, plain


def filtered_api_keys(actor: Any, filters: Mapping[str, Any] | None = None) -> Select:
    """The SELECT of the live Open311 API keys (admins; the list has no filters, so any is a
    ValidationFailed naming it), unordered: :func:`list_api_keys` pages it, ``trellis export`` reads it."""
    require_role(actor, Role.ADMIN.value)
    common.validate(s.PropertyApiKeyFilter, dict(filters or {}))
    return select(PsApiKey).where(PsApiKey.deleted_at.is_(None))


def list_api_keys(actor: Any, *, page: common.PageRequest = common.PageRequest()) -> common.Page:
    return common.paginate(filtered_api_keys(actor), page, [PsApiKey.created_at.desc()], PsApiKey.id)


def revoke_api_key(actor: Any, key_id: Any) -> None:
    admin = require_role(actor, Role.ADMIN.value)
    key = db.session().get(PsApiKey, common.parse_uuid(key_id))
    if key is None or key.deleted_at is not None:
        raise NotFound("No API key with this id.")
    common.soft_delete(key)
    audit.record_change(admin, "deleted", key)


def user_for_api_key(plain: str | None) -> User | None:
    """The user an Open311 key writes as, or None for a missing, unknown or revoked key."""
    if not plain:
        return None
    key = db.session().scalar(select(PsApiKey).where(PsApiKey.key_hash == _digest(plain.strip()),
                                                     PsApiKey.deleted_at.is_(None)))
    if key is None:
        return None
    user = db.session().get(User, key.user_id)
    if user is None or user.deleted_at is not None or not user.is_active:
        return None
    key.last_used_at = utcnow()
    return user
