"""Exhibitions (会展): Metrics of the plugin, returned by the ``trellis_metrics`` hook.

Every metric is a number per edition: rows carry ``group = {"edition": "<id>"}`` and
``extra = {"edition_name", "exhibition_id", "starts_on", ...}``, oldest edition first. The period
(``from``/``to``) selects editions by their first day. ``unique_visitors`` also groups by ``day``.
Only admins, organiser staff and managers get numbers (everyone else gets no rows): the figures cover
every exhibitor and visitor of an edition. :func:`compute` fills every metric for a set of editions
in a fixed number of queries (REST ``/editions/<id>/metrics`` and GraphQL ``Edition.metrics`` use it).
"""
from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

from sqlalchemy import and_, distinct, func, select

from core import db
from core.metrics import Metric, MetricQuery, MetricRow
from core.services.permissions import require_actor
from plugins.exhibitions import labels as L
from plugins.exhibitions.models import (
    CheckIn, ExhibitionBooth, ExhibitionEdition, ExhibitionLead, ExhibitionMeeting, ExhibitorParticipation,
    SurveyAnswer, VisitorRegistration,
)
from plugins.exhibitions.workflows import BOOKED

VIEWERS = ("admin", L.ORGANISER, "manager")

# name → (en, zh-CN, unit, description)
DEFINITIONS: dict[str, tuple[str, str, str, str]] = {
    "exhibitors": ("Exhibitors", "展商数", "count", "Booked exhibitors (confirmed, paid, arrived or attended)."),
    "key_exhibitors": ("Key exhibitors", "重点展商数", "count", "Booked exhibitors flagged as key exhibitors."),
    "registrations": ("Registered visitors", "预登记观众数", "count", "Live, not cancelled registrations."),
    "visitors": ("Unique visitors (UFI)", "独立观众数(UFI)", "count",
                 "People who entered at least once; a person counts once per edition however often scanned."),
    "professional_share": ("Professional visitor share", "专业观众占比", "ratio",
                           "Share of unique visitors who are professional buyers or VIPs."),
    "show_up_rate": ("Show-up rate", "到场率", "ratio", "Unique visitors / registrations."),
    "new_visitor_share": ("New visitor share", "新观众占比", "ratio",
                          "Share of unique visitors who attended no earlier edition of the show."),
    "rebooking_rate": ("Exhibitor rebooking rate", "展商续展率", "ratio",
                       "Share of the previous edition's exhibitors booked again (None for a first edition)."),
    "churn_rate": ("Exhibitor churn", "展商流失率", "ratio", "1 − rebooking rate."),
    "leads_per_exhibitor": ("Leads per exhibitor", "展商人均线索", "ratio", "Live leads / booked exhibitors."),
    "meetings_per_exhibitor": ("Meetings per exhibitor", "展商人均洽谈", "ratio",
                               "Accepted or held meetings / booked exhibitors."),
    "visitor_satisfaction": ("Visitor satisfaction", "观众满意度", "score",
                             "Average satisfaction answer (1–5) of visitors: one answer per visitor and survey."),
    "exhibitor_satisfaction": ("Exhibitor satisfaction", "展商满意度", "score",
                               "Average satisfaction answer (1–5) of exhibitors: one answer per exhibitor and "
                               "survey."),
    "booth_area_sold": ("Booth area sold", "已售展位面积", "m2", "Area of sold booths."),
    "booth_revenue": ("Booth revenue", "展位收入", "currency", "Price of sold booths."),
}


def _grouped(stmt) -> dict:
    return {k: v for k, v in db.session().execute(stmt).all()}


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 4) if a is not None and b else None


def compute(edition_ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
    """Every metric of every edition in ``edition_ids`` (the caller checked it may see them)."""
    if not edition_ids:
        return {}
    sess = db.session()
    editions = {e.id: e for e in sess.scalars(select(ExhibitionEdition).where(ExhibitionEdition.id.in_(edition_ids)))}
    # previous edition of each (same show, latest earlier start), found in Python from one query
    shows = {e.exhibition_id for e in editions.values()}
    all_eds = sorted(sess.execute(select(ExhibitionEdition.id, ExhibitionEdition.exhibition_id,
                                         ExhibitionEdition.starts_on)
                                  .where(ExhibitionEdition.exhibition_id.in_(shows),
                                         ExhibitionEdition.deleted_at.is_(None))).all(), key=lambda r: r[2])
    previous: dict[uuid.UUID, uuid.UUID | None] = {}
    earlier: dict[uuid.UUID, list[uuid.UUID]] = {}
    for eid, e in editions.items():
        before = [r[0] for r in all_eds if r[1] == e.exhibition_id and r[2] < e.starts_on]
        earlier[eid] = before
        previous[eid] = before[-1] if before else None
    scope_ids = set(edition_ids) | {p for p in previous.values() if p}
    booked = and_(ExhibitorParticipation.deleted_at.is_(None), ExhibitorParticipation.status.in_(BOOKED))
    P = ExhibitorParticipation
    exhibitors = _grouped(select(P.edition_id, func.count()).where(booked, P.edition_id.in_(edition_ids))
                          .group_by(P.edition_id))
    key = _grouped(select(P.edition_id, func.count()).where(booked, P.is_key.is_(True), P.edition_id.in_(edition_ids))
                   .group_by(P.edition_id))
    companies: dict[uuid.UUID, set] = defaultdict(set)
    for eid, cid in sess.execute(select(P.edition_id, P.company_id).where(booked, P.edition_id.in_(scope_ids))):
        companies[eid].add(cid)
    R = VisitorRegistration
    live_reg = and_(R.deleted_at.is_(None), R.status == "registered")
    registrations = _grouped(select(R.edition_id, func.count()).where(live_reg, R.edition_id.in_(edition_ids))
                             .group_by(R.edition_id))
    entered = (select(CheckIn.registration_id).where(CheckIn.direction == "entry",
                                                     CheckIn.edition_id.in_(edition_ids)).distinct().subquery())
    attendees = sess.execute(select(R.edition_id, R.visitor_id, R.category)
                             .join(entered, entered.c.registration_id == R.id)
                             .where(R.deleted_at.is_(None))).all()
    visitors: dict[uuid.UUID, set] = defaultdict(set)
    professional: dict[uuid.UUID, int] = defaultdict(int)
    for eid, vid, category in attendees:
        if vid not in visitors[eid]:
            visitors[eid].add(vid)
            professional[eid] += category in L.PROFESSIONAL
    earlier_ids = {x for ids in earlier.values() for x in ids}
    past_attendees: dict[uuid.UUID, set] = defaultdict(set)
    if earlier_ids:
        past_entered = (select(CheckIn.registration_id).where(CheckIn.direction == "entry",
                                                              CheckIn.edition_id.in_(earlier_ids)).distinct().subquery())
        for eid, vid in sess.execute(select(R.edition_id, R.visitor_id)
                                     .join(past_entered, past_entered.c.registration_id == R.id)
                                     .where(R.deleted_at.is_(None))):
            past_attendees[eid].add(vid)
    leads = _grouped(select(ExhibitionLead.edition_id, func.count()).where(
        ExhibitionLead.deleted_at.is_(None), ExhibitionLead.edition_id.in_(edition_ids)).group_by(ExhibitionLead.edition_id))
    hot = _grouped(select(ExhibitionLead.edition_id, func.count()).where(
        ExhibitionLead.deleted_at.is_(None), ExhibitionLead.rating == "hot",
        ExhibitionLead.edition_id.in_(edition_ids)).group_by(ExhibitionLead.edition_id))
    M = ExhibitionMeeting
    meetings = _grouped(select(M.edition_id, func.count()).where(
        M.deleted_at.is_(None), M.status.in_(("accepted", "held")), M.edition_id.in_(edition_ids)).group_by(M.edition_id))
    held = _grouped(select(M.edition_id, func.count()).where(
        M.deleted_at.is_(None), M.status == "held", M.edition_id.in_(edition_ids)).group_by(M.edition_id))
    # one answer per respondent and survey (edition, phase): the latest, should older data hold several
    latest: dict[tuple, tuple[str, int]] = {}
    for eid, respondent, rid, pid, phase, value in sess.execute(
            select(SurveyAnswer.edition_id, SurveyAnswer.respondent, SurveyAnswer.registration_id,
                   SurveyAnswer.participation_id, SurveyAnswer.phase, SurveyAnswer.satisfaction)
            .where(SurveyAnswer.edition_id.in_(edition_ids)).order_by(SurveyAnswer.created_at, SurveyAnswer.id)):
        latest[(eid, rid, pid, phase)] = (respondent, value)
    answers: dict[tuple, list[int]] = defaultdict(list)
    for (eid, *_), (respondent, value) in latest.items():
        answers[(eid, respondent)].append(value)
    B = ExhibitionBooth
    booths = {eid: (area, price) for eid, area, price in sess.execute(
        select(B.edition_id, func.coalesce(func.sum(B.area), 0), func.coalesce(func.sum(B.price), 0))
        .where(B.deleted_at.is_(None), B.status == "sold", B.edition_id.in_(edition_ids)).group_by(B.edition_id))}

    out: dict[uuid.UUID, dict[str, Any]] = {}
    for eid in edition_ids:
        if eid not in editions:
            continue
        n_exh = exhibitors.get(eid, 0)
        n_vis = len(visitors[eid])
        seen_before = set().union(*(past_attendees[x] for x in earlier[eid])) if earlier[eid] else set()
        prev = previous[eid]
        rebooking = _ratio(len(companies[prev] & companies[eid]), len(companies[prev])) if prev else None
        by_visitors, by_exhibitors = answers[(eid, "visitor")], answers[(eid, "exhibitor")]
        area, revenue = booths.get(eid, (0, 0))
        out[eid] = {
            "exhibitors": n_exh,
            "key_exhibitors": key.get(eid, 0),
            "registrations": registrations.get(eid, 0),
            "visitors": n_vis,
            "professional_share": _ratio(professional[eid], n_vis),
            "show_up_rate": _ratio(n_vis, registrations.get(eid, 0)),
            "new_visitor_share": _ratio(len(visitors[eid] - seen_before), n_vis),
            "rebooking_rate": rebooking,
            "churn_rate": round(1 - rebooking, 4) if rebooking is not None else None,
            "leads_per_exhibitor": _ratio(leads.get(eid, 0), n_exh),
            "meetings_per_exhibitor": _ratio(meetings.get(eid, 0), n_exh),
            "visitor_satisfaction": round(sum(by_visitors) / len(by_visitors), 2) if by_visitors else None,
            "exhibitor_satisfaction": round(sum(by_exhibitors) / len(by_exhibitors), 2) if by_exhibitors else None,
            "booth_area_sold": float(area or 0),
            "booth_revenue": float(revenue or 0),
            # supporting figures
            "leads": leads.get(eid, 0),
            "hot_leads": hot.get(eid, 0),
            "meetings": meetings.get(eid, 0),
            "meetings_held": held.get(eid, 0),
            "survey_answers": len(by_visitors) + len(by_exhibitors),
            "visitor_survey_answers": len(by_visitors),
            "exhibitor_survey_answers": len(by_exhibitors),
            "previous_edition_id": str(prev) if prev else None,
        }
    return out


def unique_visitors_by_day(edition_ids: list[uuid.UUID]) -> list[tuple[uuid.UUID, Any, int]]:
    """(edition, day, distinct people who entered that day): UFI daily uniques."""
    stmt = (select(CheckIn.edition_id, CheckIn.day, func.count(distinct(VisitorRegistration.visitor_id)))
            .join(VisitorRegistration, VisitorRegistration.id == CheckIn.registration_id)
            .where(CheckIn.edition_id.in_(edition_ids), CheckIn.direction == "entry",
                   VisitorRegistration.deleted_at.is_(None))
            .group_by(CheckIn.edition_id, CheckIn.day).order_by(CheckIn.day, CheckIn.edition_id))
    return [tuple(r) for r in db.session().execute(stmt)]


def editions_for(query: MetricQuery) -> list[ExhibitionEdition]:
    user = require_actor(query.actor)
    if user.role not in VIEWERS:
        return []
    stmt = select(ExhibitionEdition).where(ExhibitionEdition.deleted_at.is_(None))
    if query.date_from:
        stmt = stmt.where(ExhibitionEdition.starts_on >= query.date_from)
    if query.date_to:
        stmt = stmt.where(ExhibitionEdition.starts_on <= query.date_to)
    return list(db.session().scalars(stmt.order_by(ExhibitionEdition.starts_on, ExhibitionEdition.id)))


def _extra(e: ExhibitionEdition) -> dict:
    return {"edition_name": e.name, "exhibition_id": str(e.exhibition_id), "starts_on": e.starts_on.isoformat()}


def _metric(name: str):
    def compute_one(query: MetricQuery) -> list[MetricRow]:
        editions = editions_for(query)
        ids = [e.id for e in editions]
        if name == "visitors" and query.group_by == "day":
            by_id = {e.id: e for e in editions}
            return [MetricRow(value=n, group={"edition": str(eid), "day": day.isoformat()}, extra=_extra(by_id[eid]))
                    for eid, day, n in (unique_visitors_by_day(ids) if ids else [])]
        values = compute(ids)
        return [MetricRow(value=values[e.id][name], group={"edition": str(e.id)}, extra=_extra(e)) for e in editions]

    compute_one.__name__ = f"exhibitions_{name}"
    return compute_one


def metrics() -> list[Metric]:
    return [Metric(f"exhibitions_{name}", en, zh, _metric(name), description=desc, unit=unit,
                   group_by=("edition", "day") if name == "visitors" else ("edition",))
            for name, (en, zh, unit, desc) in DEFINITIONS.items()]
