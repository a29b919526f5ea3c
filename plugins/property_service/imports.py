"""Property service (物业服务): the plugin's import types; here the requests' ``property_service.requests``
(``trellis import``) and its export (``trellis export property_service.requests``); docs/import-export.md.

A row is a service request filed by a requester (an existing customer: ``customer_external_id`` or
``customer_id``), checked by the REST create's schema (``RequestCreate``). A new request is filed through
the plugin's own ``requests.create`` — the request, its SLA clocks (from ``received_at``), its entry on
the requester's timeline, its dispatch when a team is given, their audit entries and events — in a
savepoint per row, so a refused row fails alone. Filing is the loop's first step and touches four
records and the SLA calendar; doing it through the service rather than a copy of its rules in bulk keeps
one definition of it, at the cost of speed (about one request per 20 statements: fine for the
thousands of a migration, not for millions).

A request found again by ``external_id`` whose values differ is updated through the plugin's services:
``requests.update`` (description, photos, priority, topic, unit) and ``requests.dispatch`` (team and
assignee). What only filing sets — requester, kind, channel, when it was received, where it is — cannot
change: such a row fails, naming the column. The loop's later steps (status, resolution, feedback) are
neither imported nor exported: they happen in Trellis.

The unit is given by ``unit_external_id`` (the unit imported with ``property_service.units``; one query
per batch) or ``unit_id``, and exported by its external id when it has one, so a requests file moves
between databases. Estates, buildings, units and occupancies are their declared records'
``RecordSpec.import_type`` (``core.record_imports``).
"""
from __future__ import annotations

from typing import Any

from core import db
from core.errors import Conflict, Forbidden, NotFound, TrellisError, ValidationFailed
from core.exports import Export
from core.imports import ImportBatch, ImportColumn, ImportRow, ImportType, schema_for, split_list, utc_datetime_text
from core.services import common
from core.record_imports import Reference, reference_values, resolve_reference
from core.services.import_types import (EXTERNAL_ID, customer_refs, existing_by_external_id, keyed_rows,
                                        resolve_customers)

from plugins.property_service import requests
from plugins.property_service import schemas as s
from plugins.property_service.models import PsRequest, PsUnit

REQUEST_COLUMNS = (
    EXTERNAL_ID,
    ImportColumn("customer_external_id", "The requester's external_id (or give customer_id). Fixed once filed."),
    ImportColumn("customer_id", "The requester's Trellis id (instead of customer_external_id)."),
    ImportColumn("kind", "A request kind's code: repair, complaint, consultation … (GET "
                         "/api/v1/property-service/kinds). Fixed once filed.", required=True),
    ImportColumn("description", "What the requester asks for (1–4000 characters).", required=True),
    ImportColumn("channel", "How it came in: phone (default), in_person, web, app, open311 or written. Fixed once "
                            "filed."),
    ImportColumn("priority", "urgent, high, normal (default) or low: sets the SLA targets."),
    ImportColumn("topic", "What it is about, for demand analysis (at most 80 characters)."),
    ImportColumn("photos", "URLs of photos, separated by ';' (at most 20)."),
    ImportColumn("unit_external_id", "The unit's external_id (or give unit_id; its building follows)."),
    ImportColumn("unit_id", "The unit's Trellis id (instead of unit_external_id; its building follows)."),
    ImportColumn("building_id", "The building's Trellis id, for a request about a building without a unit. "
                                "Fixed once filed."),
    ImportColumn("team_id", "Dispatch to this team's Trellis id (a different one later: dispatched again)."),
    ImportColumn("assignee_id", "The assigned user's Trellis id, an active member of the team."),
    ImportColumn("received_at", "When it came in: ISO 8601 (a date alone is midnight UTC); default the import's "
                                "time; not before 1990, not in the future; the SLA clocks start then. Fixed "
                                "once filed."),
    ImportColumn("lat", "Latitude in decimal degrees. Fixed once filed."),
    ImportColumn("long", "Longitude in decimal degrees. Fixed once filed."),
    ImportColumn("address_string", "The address as given (at most 300 characters). Fixed once filed."),
)

#: what only filing sets: the request's attribute each is compared with
_FIXED = {"requester_id": "requester_id", "kind": "kind", "channel": "channel", "received_at": "created_at",
          "building_id": "building_id", "lat": "lat", "long": "long", "address_string": "address_string"}
_UPDATABLE = ("description", "photos", "priority", "topic", "unit_id")
_IDS = ("unit_id", "building_id", "team_id", "assignee_id")


#: a request's unit, given by its Trellis id or its external id (``unit_external_id``)
UNIT_REF = Reference("unit_id", "unit_external_id", PsUnit, "unit")


def _column(batch: ImportBatch, field: str, row: ImportRow | None = None) -> str:
    """The file's column for a field of the schema (the requester is the customer reference; the unit the
    column the row gave it in)."""
    if field == "unit_id" and row is not None:
        return getattr(row, "unit_column", "unit_id")
    if field != "requester_id":
        return field
    return "customer_id" if "customer_id" in batch._columns else "customer_external_id"


def _fail(batch: ImportBatch, row: ImportRow, exc: TrellisError) -> None:
    failure = ValidationFailed(exc.message, fields={_column(batch, k, row): v for k, v in exc.fields.items()})
    batch.fail_validation(row, failure)


def _raw(row: ImportRow) -> dict:
    raw = dict(row.values)
    raw["requester_id"] = raw.pop("customer_id")
    if "photos" in raw:
        raw["photos"] = split_list(raw["photos"])
    if "received_at" in raw:
        raw["received_at"] = utc_datetime_text(raw["received_at"])
    return raw


def write_requests(batch: ImportBatch) -> None:
    """``trellis import property_service.requests``: see the module's docstring."""
    keyed = keyed_rows(batch)
    resolve_customers(batch, keyed)
    used: dict[int, dict[str, str]] = {}
    resolve_reference(batch, keyed, UNIT_REF, batch.actor, used)
    for row, _ in keyed:
        if "unit_id" in used.get(row.number, {}):
            row.unit_column = "unit_external_id"
    existing = existing_by_external_id(PsRequest, (ext for _, ext in keyed))
    for row, ext in keyed:
        if row.failed:
            continue
        raw = _raw(row)
        try:
            values = common.validate(schema_for(s.RequestCreate, raw), raw)
        except ValidationFailed as exc:
            _fail(batch, row, exc)
            continue
        record = existing.get(ext)
        if record is None:
            _create(batch, row, ext, raw)
        else:
            _update(batch, row, record, raw, values)


def _create(batch: ImportBatch, row: ImportRow, ext: str, raw: dict) -> None:
    try:
        with db.session().begin_nested():
            request = requests.create(batch.actor, raw)
            request.external_id = ext
            db.session().flush()
    except (ValidationFailed, Conflict, NotFound, Forbidden) as exc:
        _fail(batch, row, exc)
        return
    row.outcome = "created"


def _update(batch: ImportBatch, row: ImportRow, record: PsRequest, raw: dict, values: dict) -> None:
    fixed = [k for k, attr in _FIXED.items() if k in raw and values[k] != getattr(record, attr)
             and not (k == "building_id" and "unit_id" in raw)]   # a unit's building follows the unit
    if fixed:
        batch.fail(row, _column(batch, fixed[0], row), "Set when the request was filed: it cannot change.")
        return
    changed = [k for k in _UPDATABLE if k in raw and values[k] != getattr(record, k)]
    team = values.get("team_id", record.team_id)
    assignee = values.get("assignee_id", record.assignee_id if team == record.team_id else None)
    dispatch = team is not None and (team != record.team_id or assignee != record.assignee_id)
    if not changed and not dispatch:
        row.outcome = "unchanged"
        return
    try:
        with db.session().begin_nested():
            if changed:
                requests.update(batch.actor, record.id, {**{k: raw[k] for k in changed}, "version": record.version})
            if dispatch:
                requests.dispatch(batch.actor, record.id, {"team_id": str(team),
                                                           "assignee_id": str(assignee) if assignee else None})
    except (ValidationFailed, Conflict, NotFound, Forbidden) as exc:
        _fail(batch, row, exc)
        return
    row.outcome = "updated"


def _text_id(value: Any) -> str | None:
    return None if value is None else str(value)


def export_requests(records: list[PsRequest]) -> list[dict]:
    """Requests as import rows: the requester and the unit by external id where they have one (one query
    each per batch), else by Trellis id; the rest by value."""
    refs = customer_refs(r.requester_id for r in records)
    units = reference_values(UNIT_REF, (r.unit_id for r in records))
    no_unit = {"unit_external_id": None, "unit_id": None}
    return [{"external_id": r.external_id, **refs[r.requester_id], "kind": r.kind, "description": r.description,
             "channel": r.channel, "priority": r.priority, "topic": r.topic or None, "photos": list(r.photos or [])
             or None, **units.get(r.unit_id, no_unit), **{k: _text_id(getattr(r, k)) for k in _IDS if k != "unit_id"},
             "received_at": r.created_at, "lat": r.lat, "long": r.long, "address_string": r.address_string or None}
            for r in records]


def import_types() -> list[ImportType]:
    """The plugin's import types (``trellis_import_types``), each exportable: the reference records declared
    once (``RecordSpec.import_type``: estates, buildings by ``estate_external_id``, units by
    ``building_external_id``, occupancies by ``unit_external_id`` and ``customer_external_id``) and the
    service requests."""
    from plugins.property_service.services import buildings, estates, occupancies, units

    return [estates.import_type("property_service.estates", description="Estates (小区) the company manages.",
                                route="/property-service/estates"),
            buildings.import_type("property_service.buildings", description="Buildings (楼栋) of the estates.",
                                  route="/property-service/buildings"),
            units.import_type("property_service.units", description="Units: a building's staircase unit, room and "
                              "floor area.", route="/property-service/units"),
            occupancies.import_type("property_service.occupancies", description="Owners', tenants' and family "
                                    "members' links to units.", route="/property-service/occupancies"),
            ImportType("property_service.requests", "Service requests: who asked for what, when, where, and the "
                       "team it went to.", REQUEST_COLUMNS, write_requests, models=(PsRequest,), batch_size=500,
                       export=Export(requests.filtered, export_requests, filters=s.RequestFilter,
                                     route="/property-service/requests"))]


def export_types() -> list:
    """The lists exported but not imported (``trellis_export_types``), each in the columns of its REST
    output, with its list's filters and scope: the request kinds and SLA policies (declared once,
    ``RecordSpec.list_export``), the teams and the Open311 API keys (admins) through their lists' SELECTs.
    Estates, buildings, units and occupancies are exported by their import types, in the import's columns."""
    from core.exports import schema_export
    from plugins.property_service import services
    from plugins.property_service.services import kinds, sla_policies

    api_key_columns = [k for k in s.ApiKeyOut().fields if k != "key"]   # the key itself is shown once, at creation
    return [kinds.list_export("property_service.request_kinds", route="/property-service/kinds"),
            sla_policies.list_export("property_service.sla_policies", route="/property-service/sla-policies"),
            schema_export("property_service.teams", "Dispatch teams and their members (member_ids).",
                          services.teams.filtered, s.TeamOut, filters=s.TeamFilter,
                          views=lambda actor, teams: services.with_members(list(teams)),
                          route="/property-service/teams"),
            schema_export("property_service.api_keys", "Open311 API keys (admins): name, prefix, the user they "
                          "write as, last use.", services.filtered_api_keys, s.ApiKeyOut,
                          filters=s.PropertyApiKeyFilter, columns=api_key_columns, route="/property-service/api-keys")]
