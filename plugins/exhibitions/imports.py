"""Exhibitions (会展): the plugin's import types ``exhibitions.visitors`` (visitor registrations) and
``exhibitions.exhibitors`` (participations), and their exports (``trellis import|export``);
docs/import-export.md.

A row registers a visitor for an edition: an existing person customer (``customer_external_id`` or
``customer_id``), or — as the REST create and the plugin's own registration import do — a returning
visitor found by e-mail, else phone (``services._Returning``), or else a new person customer by ``name``.
It is checked by the REST create's schema (``RegistrationCreate``) and its rules, looked up once per
batch: the edition visible, the visitor a person, the company a company customer, the badge code free,
the visitor not registered for the edition yet. New registrations (and new visitors) are collected in the
batch's recorder with their audit entries and ``exhibitions_registration.created`` (``customer.created``)
events, and their entries on the visitors' timelines as the plugin's bulk path writes them
(``plugins.exhibitions.bulk``); invitations of the edition to these visitors become ``registered``.

A registration found again by ``external_id`` whose values differ is updated through
``update_registration`` (company, job title, e-mail, phone, category, interests, purchase intent). What
registering fixes — the edition, the visitor, the badge code, the source, when — cannot change: such a
row fails, naming the column. ``name`` and ``region`` only describe a new visitor.

An exhibitor row invites a company (an existing company customer) to an edition, as organiser staff do
through ``create_participation``: checked by ``ParticipationCreate`` and its rules (the edition visible,
the company a company customer without a participation in the edition yet), written through the recorder
in ``invited`` with its audit entry, event and the company's timeline entry. A changed one is updated
through ``update_participation`` (key exhibitor, categories, notes); the status moves only through the
participation workflow, and is neither imported nor exported.

Both name the edition by ``edition_external_id`` (the edition imported with ``exhibitions.editions``) or
``edition_id``, and a visitor's company by ``company_external_id`` or ``company_id``: resolved among the
records the importer may see, one query per reference and batch (``core.record_imports.resolve_reference``),
a row's errors naming the column it used. Their exports write these by external id where the record has
one (the Trellis id left blank), so a file moves between databases. Shows, editions (by
``exhibition_external_id``) and booths (by ``edition_external_id``) are their declared records'
``RecordSpec.import_type`` (``core.record_imports``).
"""
from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any

from sqlalchemy import select, tuple_

from core import db, levels, runtime
from core.models import Customer, Interaction
from core.exports import Export
from core.errors import ValidationFailed
from core.imports import ImportBatch, ImportColumn, ImportRow, ImportType, schema_for, split_list, utc_datetime_text
from core.normalize import email_key
from core.phones import phone_key
from core.services import audit, common, customers
from core.record_imports import Reference, reference_values, resolve_reference
from core.services.import_types import (EXTERNAL_ID, customer_refs, existing_by_external_id, keyed_rows,
                                        resolve_customers, update_row)
from core.workflow import AUTOMATIC

from plugins.exhibitions import bulk, services
from plugins.exhibitions import labels as L
from plugins.exhibitions import schemas as S
from plugins.exhibitions.models import ExhibitionEdition, ExhibitorParticipation, VisitorRegistration

#: the edition a visitor registers for or an exhibitor takes part in: by its Trellis id or its external id
EDITION_REF = Reference("edition_id", "edition_external_id", ExhibitionEdition, "edition")
#: a visitor's company (a company customer): by its Trellis id or its external id
COMPANY_REF = Reference("company_id", "company_external_id", Customer, "customer")

VISITOR_COLUMNS = (
    EXTERNAL_ID,
    ImportColumn("edition_external_id", "The edition's external_id (exhibitions.editions; or give edition_id). "
                                        "Fixed once registered."),
    ImportColumn("edition_id", "The edition's Trellis id (GET /api/v1/exhibitions/editions; instead of "
                               "edition_external_id)."),
    ImportColumn("customer_external_id", "The visitor, a person customer, by external_id (or customer_id, or "
                                         "name). Fixed once registered."),
    ImportColumn("customer_id", "The visitor's Trellis id (instead of customer_external_id)."),
    ImportColumn("name", "A new visitor's name (1–200 characters), when no customer is given and no earlier "
                         "visitor has the e-mail or phone."),
    ImportColumn("region", "A new visitor's region (at most 80 characters)."),
    ImportColumn("company_external_id", "The visitor's company: a company customer's external_id (or give "
                                        "company_id)."),
    ImportColumn("company_id", "The company customer's Trellis id (instead of company_external_id)."),
    ImportColumn("company_name", "The company as registered (default: the company customer's name)."),
    ImportColumn("job_title", "At most 120 characters."),
    ImportColumn("email", "The visitor's e-mail address: finds a returning visitor."),
    ImportColumn("phone", "The visitor's phone number: finds a returning visitor (after the e-mail)."),
    ImportColumn("category", "buyer, general (default), media or vip."),
    ImportColumn("interests", "Product categories, separated by ';'."),
    ImportColumn("purchase_intent", "none (default), low, medium or high."),
    ImportColumn("source", "How they came: past_edition, partner, web (default) or onsite. Fixed once "
                           "registered."),
    ImportColumn("badge_code", "The badge's code: 4–40 letters, digits or dashes, unique (default: generated). "
                               "Fixed once registered."),
    ImportColumn("registered_at", "When they registered: ISO 8601 (a date alone is midnight UTC; default: now). "
                                  "Fixed once registered."),
)

_FIXED = ("edition_id", "visitor_id", "badge_code", "source", "registered_at")
_UPDATABLE = ("company_id", "company_name", "job_title", "email", "phone", "category", "interests",
              "purchase_intent")


def _column(batch: ImportBatch, field: str, ref: str = "visitor_id", row: ImportRow | None = None) -> str:
    """The file's column of a schema field: ``ref`` (the field the customer reference feeds: the visitor,
    the exhibiting company) is the reference the file gave; a field the row gave by external id
    (``edition_external_id``, ``company_external_id``) is that column."""
    if row is not None and field in getattr(row, "given", {}):
        return row.given[field]
    if field != ref:
        return field
    return "customer_id" if "customer_id" in batch._columns else "customer_external_id"


def _fail(batch: ImportBatch, row: ImportRow, exc: Any, ref: str = "visitor_id") -> None:
    fields = getattr(exc, "fields", None) or {}
    batch.fail_validation(row, ValidationFailed(exc.message, fields={_column(batch, k, ref, row): v
                                                                     for k, v in fields.items()}))


def _resolve(batch: ImportBatch, keyed: list, *refs: Reference) -> None:
    """Each reference a row gives by external id turned into its Trellis id, among the records the importer
    may see, one query per reference and batch (``resolve_reference``); the row remembers the column it
    gave, for its errors (``row.given``)."""
    used: dict[int, dict[str, str]] = {}
    for ref in refs:
        resolve_reference(batch, keyed, ref, batch.actor, used)
    for row, _ in keyed:
        row.given = used.get(row.number, {})


def write_visitors(batch: ImportBatch) -> None:
    """``trellis import exhibitions.visitors``: see the module's docstring."""
    keyed = keyed_rows(batch)
    referenced = [(r, e) for r, e in keyed if "customer_external_id" in r.values or "customer_id" in r.values]
    resolve_customers(batch, referenced)
    _resolve(batch, keyed, EDITION_REF, COMPANY_REF)
    existing = existing_by_external_id(VisitorRegistration, (ext for _, ext in keyed))
    checked = _validated(batch, keyed, S.RegistrationCreate, "visitor_id")
    editions = _editions(batch, checked)
    for row, ext, raw, values in checked:
        record = existing.get(ext)
        if record is None or row.failed:
            continue
        fixed = [k for k in _FIXED if k in raw and values[k] != getattr(record, k)]
        if fixed:
            batch.fail(row, _column(batch, fixed[0], row=row), "Set when the visitor registered: it cannot change.")
            continue
        changed = [k for k in _UPDATABLE if k in raw and values[k] != getattr(record, k)]
        update_row(batch, row, services.update_registration, record, raw, changed)
    _create_new(batch, [c for c in checked if c[1] not in existing and not c[0].failed], editions)


def _validated(batch: ImportBatch, keyed: list, schema: type, field: str) -> list:
    """``[(row, external id, raw, values)]`` of the rows ``schema`` accepts (the customer reference given as
    ``field``)."""
    checked = []
    for row, ext in keyed:
        if row.failed:
            continue
        raw = dict(row.values)
        if "customer_id" in raw:
            raw[field] = raw.pop("customer_id")
        for key in ("interests", "categories"):
            if key in raw:
                raw[key] = split_list(raw[key])
        if "registered_at" in raw:
            raw["registered_at"] = utc_datetime_text(raw["registered_at"])
        try:
            values = common.validate(schema_for(schema, raw), raw)
        except ValidationFailed as exc:
            if "edition_id" in exc.fields and "edition_id" not in raw:   # given in neither column: say both
                exc = ValidationFailed(exc.message, fields={**{k: v for k, v in exc.fields.items() if k != "edition_id"},
                                                            "edition_external_id": ["Give the edition: edition_external_id "
                                                                                    "or edition_id."]})
            _fail(batch, row, exc, field)
            continue
        checked.append((row, ext, raw, values))
    return checked


def _editions(batch: ImportBatch, rows: list) -> dict[uuid.UUID, ExhibitionEdition]:
    """The editions the rows name that the importer may see, in one query; a row naming another fails."""
    ids = {values["edition_id"] for *_, values in rows}
    found = {e.id: e for e in db.session().scalars(
        services._visible(batch.actor, ExhibitionEdition).where(ExhibitionEdition.id.in_(ids)))} if ids else {}
    for row, _, _, values in rows:
        if values["edition_id"] not in found:
            batch.fail(row, _column(batch, "edition_id", row=row), "No edition with this id.")
    return found


def _create_new(batch: ImportBatch, rows: list, editions: dict) -> None:
    """The create's rules for a batch (``services._import_rows``'s, row by row: a bad row fails alone)."""
    if not rows:
        return
    user, rec, now, sess = batch.actor, batch.recorder, batch.now, db.session()
    for *_, values in rows:   # the full schema's defaults (schema_for leaves out the fields a row does not have)
        for key, default in (("category", "general"), ("interests", []), ("purchase_intent", "none"),
                             ("source", "web")):
            values.setdefault(key, default)
    given = list({v["visitor_id"] for *_, v in rows if v.get("visitor_id")})
    known = customers.get_many(user, given)
    companies: dict = {}
    for cid in {v["company_id"] for *_, v in rows if v.get("company_id")}:
        try:
            companies[cid] = services._company(user, cid, "company_id")
        except ValidationFailed as exc:
            companies[cid] = exc
    badges = {v["badge_code"] for *_, v in rows if v.get("badge_code")}
    taken = set(sess.scalars(select(VisitorRegistration.badge_code).where(
        VisitorRegistration.badge_code.in_(badges)))) if badges else set()
    keys = {id(row): (email_key(v.get("email")), phone_key(v.get("phone"))) for row, _, _, v in rows}
    returning = services._Returning([ek for ek, _ in keys.values()], [pk for _, pk in keys.values()])
    candidates = set(given) | {returning.find(*k)[0] for k in keys.values()} - {None}
    pairs = {(v["edition_id"], vid) for *_, v in rows for vid in candidates}
    registered = set(sess.execute(select(VisitorRegistration.edition_id, VisitorRegistration.visitor_id).where(
        tuple_(VisitorRegistration.edition_id, VisitorRegistration.visitor_id).in_(pairs))).all()) if pairs else set()
    level = levels.default_level(levels.parse_rules(runtime.current().settings.level_rules))
    by_edition: dict[uuid.UUID, list] = {}
    timeline = []
    for row, ext, raw, values in rows:
        ek, pk = keys[id(row)]
        vid, found_by = values.get("visitor_id"), "visitor_id"
        if vid is not None:
            person = known.get(vid)
            if person is None or person.kind != "person":
                batch.fail(row, _column(batch, "visitor_id"),
                           "No customer with this id." if person is None else "A visitor is a person customer.")
                continue
        else:
            vid, found_by = returning.find(ek, pk)   # else a new one by name (the schema asked for it)
        company = companies.get(values.get("company_id")) if values.get("company_id") else None
        if isinstance(company, ValidationFailed):
            _fail(batch, row, company)
            continue
        code = values.get("badge_code")
        if code and code in taken:
            batch.fail(row, "badge_code", "This badge code is already in use.")
            continue
        if vid is not None and (values["edition_id"], vid) in registered:
            batch.fail(row, _column(batch, found_by) if found_by == "visitor_id" else found_by,
                       "Already registered for this edition.")
            continue
        if vid is None:   # a new person customer, as customers.create makes one for the REST create
            columns = {"kind": "person", "name": values["name"], "region": values.get("region"), "industry": None,
                       "size": None, "source": "exhibition", "owner_id": user.id, "stage": "potential",
                       "level": level, "level_pinned": False, "notes": "", "external_id": None,
                       "created_at": now, "updated_at": now, "version": 1, "deleted_at": None}
            person = rec.add(Customer, **columns)
            vid = person.id
            rec.change("created", person, audit.created_fields(SimpleNamespace(**columns), customers.AUDITED), at=now)
            rec.start(levels.WORKFLOW, person, level, at=now, trigger=AUTOMATIC, reason="the default level")
        returning.add(vid, ek, pk)
        while not code or code in taken:
            code = services.new_badge_code()
        taken.add(code)
        registered.add((values["edition_id"], vid))
        columns = {"edition_id": values["edition_id"], "visitor_id": vid, "company_id": values.get("company_id"),
                   "company_name": values.get("company_name") or (company.name if company is not None else ""),
                   "job_title": values.get("job_title", ""), "email": values.get("email", ""),
                   "phone": values.get("phone", ""), "category": values["category"],
                   "interests": values["interests"], "purchase_intent": values["purchase_intent"],
                   "source": values["source"], "badge_code": code, "status": "registered",
                   "registered_at": values.get("registered_at") or now, "email_key": ek, "phone_key": pk,
                   "matches_sent_at": None, "external_id": ext, "created_at": now, "updated_at": now,
                   "version": 1, "deleted_at": None}
        registration = rec.add(VisitorRegistration, **columns)
        rec.change("created", registration, audit.created_fields(SimpleNamespace(**columns),
                                                                 services.REGISTRATION_AUDITED), at=now)
        edition = editions[values["edition_id"]]
        timeline.append(bulk.timeline_row(user, vid, L.KIND_REGISTRATION,
                                          f"Registered for {edition.name} ({columns['category']})",
                                          columns["registered_at"]))
        by_edition.setdefault(edition.id, []).append(vid)
        row.outcome = "created"
    bulk.add_timeline(rec, timeline)
    for edition_id, visitor_ids in by_edition.items():
        services._mark_invitations_registered(edition_id, visitor_ids)


# --- exhibitors (participations) ---------------------------------------------------------------------------

EXHIBITOR_COLUMNS = (
    EXTERNAL_ID,
    ImportColumn("edition_external_id", "The edition's external_id (exhibitions.editions; or give edition_id). "
                                        "Fixed once invited."),
    ImportColumn("edition_id", "The edition's Trellis id (instead of edition_external_id)."),
    ImportColumn("customer_external_id", "The exhibiting company (a company customer) by external_id (or give "
                                         "customer_id). Fixed once invited."),
    ImportColumn("customer_id", "The company's Trellis id (instead of customer_external_id)."),
    ImportColumn("is_key", "true for a key exhibitor (重点展商); default false."),
    ImportColumn("categories", "The product categories it offers, separated by ';' (at most 20)."),
    ImportColumn("notes", "Organiser staff's notes."),
)


def write_exhibitors(batch: ImportBatch) -> None:
    """``trellis import exhibitions.exhibitors``: see the module's docstring."""
    keyed = keyed_rows(batch)
    resolve_customers(batch, keyed)
    _resolve(batch, keyed, EDITION_REF)
    existing = existing_by_external_id(ExhibitorParticipation, (ext for _, ext in keyed))
    checked = _validated(batch, keyed, S.ParticipationCreate, "company_id")
    editions = _editions(batch, checked)
    fresh = []
    for row, ext, raw, values in checked:
        if row.failed:
            continue
        record = existing.get(ext)
        if record is None:
            fresh.append((row, ext, values))
            continue
        fixed = [k for k in ("edition_id", "company_id") if values[k] != getattr(record, k)]
        if fixed:
            batch.fail(row, _column(batch, fixed[0], "company_id", row), "Set when the company was invited: it cannot "
                       "change.")
            continue
        changed = [k for k in ("is_key", "categories", "notes") if k in raw and values[k] != getattr(record, k)]
        update_row(batch, row, services.update_participation, record, raw, changed)
    if fresh:
        _invite(batch, fresh, editions)


def _invite(batch: ImportBatch, rows: list, editions: dict) -> None:
    """``create_participation`` by organiser staff, for a batch: the company a company customer, not yet
    taking part in the edition (a deleted participation counts: restore it instead)."""
    user, rec, now = batch.actor, batch.recorder, batch.now
    companies = customers.get_many(user, list({v["company_id"] for *_, v in rows}))
    pairs = {(v["edition_id"], v["company_id"]) for *_, v in rows}
    taken = set(db.session().execute(select(ExhibitorParticipation.edition_id, ExhibitorParticipation.company_id)
                                      .where(tuple_(ExhibitorParticipation.edition_id,
                                                    ExhibitorParticipation.company_id).in_(pairs))).all())
    timeline = []
    for row, ext, values in rows:
        company = companies.get(values["company_id"])
        problem = ("No customer with this id." if company is None else "Must be a company customer."
                   if company.kind != "company" else "Already taking part in this edition."
                   if (values["edition_id"], company.id) in taken else None)
        if problem:
            batch.fail(row, _column(batch, "company_id", "company_id"), problem)
            continue
        taken.add((values["edition_id"], company.id))
        columns = {"edition_id": values["edition_id"], "company_id": company.id, "status": "invited",
                   "is_key": values.get("is_key", False), "categories": values.get("categories", []),
                   "notes": values.get("notes", ""), "external_id": ext, "created_at": now, "updated_at": now,
                   "version": 1, "deleted_at": None}
        participation = rec.add(ExhibitorParticipation, **columns)
        rec.change("created", participation, audit.created_fields(SimpleNamespace(**columns),
                                                                  services.PARTICIPATION_AUDITED), at=now)
        timeline.append(bulk.timeline_row(user, company.id, L.KIND_PARTICIPATION,
                                          f"Invited to exhibit at {editions[values['edition_id']].name}", now))
        row.outcome = "created"
    bulk.add_timeline(rec, timeline)


def export_exhibitors(records: list[ExhibitorParticipation]) -> list[dict]:
    """Participations as import rows: the edition and the company by external id where they have one (one
    query each per batch), else by Trellis id."""
    refs = customer_refs(p.company_id for p in records)
    editions = reference_values(EDITION_REF, (p.edition_id for p in records))
    return [{"external_id": p.external_id, **editions[p.edition_id], **refs[p.company_id],
             "is_key": p.is_key, "categories": list(p.categories or []) or None, "notes": p.notes or None}
            for p in records]


def export_visitors(records: list[VisitorRegistration]) -> list[dict]:
    """Registrations as import rows: the edition, the visitor and their company by external id where they
    have one (one query each per batch), else by Trellis id; the rest by value."""
    refs = customer_refs(r.visitor_id for r in records)
    editions = reference_values(EDITION_REF, (r.edition_id for r in records))
    companies = reference_values(COMPANY_REF, (r.company_id for r in records))
    no_company = {"company_external_id": None, "company_id": None}
    return [{"external_id": r.external_id, **editions[r.edition_id], **refs[r.visitor_id],
             **companies.get(r.company_id, no_company), "company_name": r.company_name or None,
             "job_title": r.job_title or None, "email": r.email or None, "phone": r.phone or None,
             "category": r.category, "interests": list(r.interests or []) or None,
             "purchase_intent": r.purchase_intent, "source": r.source, "badge_code": r.badge_code,
             "registered_at": r.registered_at} for r in records]


def import_types() -> list[ImportType]:
    """The plugin's import types (``trellis_import_types``), each exportable: the records declared once
    (``RecordSpec.import_type``: shows, editions by ``exhibition_external_id``, booths by
    ``edition_external_id``), the visitor registrations and the exhibitors' participations."""
    from plugins.exhibitions.services import BOOTHS, EDITIONS, SHOWS

    # a visitor is exported by reference, never as a new one: name and region are import-only
    columns = tuple(c.name for c in VISITOR_COLUMNS if c.name not in ("name", "region"))
    return [SHOWS.import_type("exhibitions.shows", description="Shows (展会): the recurring exhibitions.",
                              route="/exhibitions/exhibitions"),
            EDITIONS.import_type("exhibitions.editions", description="Editions (届) of the shows: dates, venue, "
                                 "halls, time zone.", route="/exhibitions/editions"),
            BOOTHS.import_type("exhibitions.booths", description="Booths (展位) of the editions: number, hall, "
                               "area, price.", route="/exhibitions/booths"),
            ImportType("exhibitions.visitors", "Visitor registrations for an edition: who, badge, category and "
                       "interests.", VISITOR_COLUMNS, write_visitors,
                       models=(Customer, VisitorRegistration, Interaction),
                       export=Export(services.filtered_registrations, export_visitors, columns,
                                     S.RegistrationFilter, route="/exhibitions/registrations")),
            ImportType("exhibitions.exhibitors", "Exhibitors: the companies taking part in an edition (their "
                       "participations).", EXHIBITOR_COLUMNS, write_exhibitors,
                       models=(ExhibitorParticipation, Interaction),
                       export=Export(services.filtered_participations, export_exhibitors,
                                     filters=S.ParticipationFilter, route="/exhibitions/participations"))]


def export_types() -> list:
    """The lists exported but not imported (``trellis_export_types``), each in the columns of its REST
    output, with its list's filters and scope: the leads, meetings, survey answers, invitations and
    check-ins through their lists' SELECTs (``filtered_*``; the two lists under one edition take
    ``edition_id`` as a required filter). Leads and meetings show the visitor as the caller may see them
    (``_lead_views``, ``_meeting_views``: a few queries per batch). Shows, editions and booths are exported
    by their import types, in the import's columns."""
    from core.exports import schema_export

    return [schema_export("exhibitions.leads", "Leads: badges scanned at a booth, with the visitor as you may see "
                          "them (JSON text).", services.filtered_leads, S.LeadOut, filters=S.LeadFilter,
                          views=services._lead_views, route="/exhibitions/leads"),
            schema_export("exhibitions.meetings", "Meetings between exhibitors and buyers, with the visitor as you "
                          "may see them (JSON text).", services.filtered_meetings, S.MeetingOut,
                          filters=S.MeetingFilter, views=services._meeting_views, route="/exhibitions/meetings"),
            schema_export("exhibitions.surveys", "Satisfaction survey answers.", services.filtered_surveys,
                          S.SurveyOut, filters=S.SurveyFilter, route="/exhibitions/surveys"),
            schema_export("exhibitions.invitations", "One edition's visitor invitations (filter edition_id, "
                          "required).", services.filtered_invitations, S.InvitationOut,
                          filters=S.InvitationListFilter, route="/exhibitions/editions/{edition_id}/invitations"),
            schema_export("exhibitions.checkins", "One edition's stored gate scans (filter edition_id, required).",
                          services.filtered_checkins, S.CheckInOut, filters=S.ExhibitionCheckInListFilter,
                          route="/exhibitions/editions/{edition_id}/checkins")]
