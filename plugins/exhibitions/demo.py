"""Exhibitions (会展): demo data for ``trellis demo`` — one show, two editions a year apart, about a
hundred exhibitors (most rebook), thousands of visitors (many come back, invited from the first
edition) and their gate scans, leads, meetings and survey answers, written through the services
(registrations and scans through the bulk services, so it stays fast). Booking the exhibitors (a
participation, its booth and its five moves to ``attended``: thirteen service calls each), their leads,
meetings and survey answers go through the core's bulk path instead, writing what those services write
(:class:`_Booking`)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

from sqlalchemy import update

from core import db
from core.models import Interaction
from core.schemas import InteractionCreate
from core.services import audit, common, customers, interactions
from core.services.bulk import BulkRecorder, BulkRow, gc_paused
from core.services.notifications import notify
from core.workflow import MANUAL
from plugins.exhibitions import labels as L
from plugins.exhibitions import schemas as S
from plugins.exhibitions import services as svc
from plugins.exhibitions.models import (
    ExhibitionBooth, ExhibitionLead, ExhibitionMeeting, ExhibitorParticipation, SurveyAnswer,
)
from plugins.exhibitions.workflows import MEETING, PARTICIPATION

SURNAMES = "Wang Li Zhang Liu Chen Yang Zhao Huang Zhou Wu Xu Sun Hu Zhu Gao Lin He Guo Ma Luo".split()
GIVEN = "Wei Fang Na Min Jing Lei Qiang Jun Yang Yong Yan Jie Tao Ming Chao Xia Hui Ping Gang Bo".split()
COMPANY_WORDS = "Precision Golden Dragon Eastern Pacific Harmony Summit Pioneer Bright Unity Star Ocean River Jade".split()
CATEGORIES = L.values(L.PRODUCT_CATEGORY)
CST = timezone(timedelta(hours=8))

N_COMPANIES = 100
VISITORS_FIRST = 2400
NEW_VISITORS_SECOND = 1600


def _person(rng) -> str:
    return f"{rng.choice(SURNAMES)} {rng.choice(GIVEN)}{rng.choice(GIVEN).lower()}"


def _interests(rng) -> list[str]:
    return rng.sample(CATEGORIES, rng.randint(1, 3))


def _visitor_row(rng, edition, name=None, visitor_id=None) -> dict:
    """A registration as ``import_registrations`` validates it (for ``import_checked_registrations``)."""
    category = rng.choices(["buyer", "general", "media", "vip"], weights=[55, 35, 4, 6])[0]
    row = {"category": category, "interests": _interests(rng),
           "purchase_intent": rng.choice(["none", "low", "medium", "high"]) if category in L.PROFESSIONAL else "none",
           "source": rng.choice(["web", "web", "partner", "onsite"]),
           "company_name": f"{rng.choice(COMPANY_WORDS)} Trading Co." if category != "general" else "",
           "job_title": rng.choice(["Purchasing manager", "Engineer", "CEO", "Buyer", "Reporter", ""]),
           "phone": f"+86 13{rng.randint(100000000, 999999999)}",
           "registered_at": (datetime(edition.starts_on.year, edition.starts_on.month, edition.starts_on.day,
                                      tzinfo=timezone.utc) - timedelta(days=rng.randint(1, 90))),
           "edition_id": edition.id}
    if visitor_id:
        row["visitor_id"] = visitor_id
        row["source"] = "past_edition"
    else:
        row["name"] = name or _person(rng)
        row["region"] = rng.choice(["Shanghai", "Jiangsu", "Zhejiang", "Guangdong", "Beijing", "Shandong"])
    return row


def _scans(rng, edition: dict, registrations: list[dict], show_up: float) -> tuple[list[dict], list[dict]]:
    """Entry (and most exit) scans for the visitors who come, as ``upload_scans`` validates them (for
    :func:`services.upload_checked_scans`); returns (scans, the attendees)."""
    days = [edition["starts_on"] + timedelta(days=i) for i in range((edition["ends_on"] - edition["starts_on"]).days + 1)]
    scans, attendees = [], []
    for reg in registrations:
        if rng.random() > show_up:
            continue
        attendees.append(reg)
        for day in sorted(rng.sample(days, rng.choice([1, 1, 1, 2, 2, 3]))):
            entry = datetime(day.year, day.month, day.day, rng.randint(9, 13), rng.randint(0, 59), tzinfo=CST)
            gate = rng.choice(["N1", "N2", "S1", "E1"])
            scans.append({"badge_code": reg["badge_code"], "scanned_at": entry, "gate": gate,
                          "direction": "entry", "device": f"scanner-{gate}"})
            if rng.random() < 0.8:
                leave = entry + timedelta(hours=rng.randint(2, 6), minutes=rng.randint(0, 59))
                scans.append({"badge_code": reg["badge_code"], "scanned_at": leave, "gate": gate,
                              "direction": "exit", "device": f"scanner-{gate}"})
            if rng.random() < 0.05:  # a scanner hiccup: the same scan twice (harmless)
                scans.append(dict(scans[-1]))
    return scans, attendees


class _Booking:
    """Books exhibitors as ``create_participation``, ``assign_booth`` and ``change_participation_status``
    do, one organiser's moves after another: the same participation rows, booth changes, workflow
    history, audit entries, events and timeline entries, collected in one :class:`BulkRecorder` and
    written by :meth:`flush` (one INSERT per table; the booths and the participations that existed
    before, one UPDATE each). The organiser is staff, which is all those services check."""

    def __init__(self, organiser):
        self.actor = organiser
        self.rec = BulkRecorder(organiser)
        self.last = db.utcnow()
        #: per participation id: its row (a BulkRow, or the loaded record) and what the batch made of it
        self.state: dict[Any, dict[str, Any]] = {}
        self.booths: dict[Any, tuple[Any, dict[str, Any]]] = {}
        self.company_users: dict[Any, list] = {}  # the exhibitor users told of a meeting, per company

    def now(self) -> datetime:
        """Load time, a microsecond further at each call: two moves never share an instant."""
        self.last = max(db.utcnow(), self.last + timedelta(microseconds=1))
        return self.last

    def _timeline(self, customer_id, subject: str, notes: str = "", *, kind: str = L.KIND_PARTICIPATION,
                  occurred_at: datetime | None = None) -> None:
        """``interactions.record_on_behalf`` of a done entry, as ``services._timeline`` writes it."""
        values = common.validate(InteractionCreate, {
            "customer_id": str(customer_id), "kind": kind, "subject": subject[:200], "notes": notes,
            "direction": "inbound", "status": "done", "occurred_at": (occurred_at or self.now()).isoformat()})
        at = self.now()
        row = self.rec.add(Interaction, **values, created_by_id=self.actor.id, source=svc.SOURCE, outcome="",
                           escalation_count=0, created_at=at, updated_at=at, version=1, deleted_at=None)
        self.rec.change("created", row, audit.created_fields(SimpleNamespace(**row.values), interactions.AUDITED),
                        payload={"customer_id": values["customer_id"], "kind": values["kind"],
                                 "source": svc.SOURCE}, at=at)
        return row

    def invite(self, edition, company_id, data: dict[str, Any]) -> BulkRow:
        """``create_participation`` by staff: the participation, invited, and its timeline entry."""
        values = common.validate(S.ParticipationCreate, {"edition_id": str(edition.id),
                                                         "company_id": str(company_id), **data})
        at = self.now()
        row = self.rec.add(ExhibitorParticipation, **{"notes": "", **values}, status="invited", created_at=at,
                           updated_at=at, version=1, deleted_at=None)
        self.rec.change("created", row, audit.created_fields(SimpleNamespace(**row.values),
                                                             svc.PARTICIPATION_AUDITED), at=at)
        self.state[row.id] = {"record": row, "edition": edition, "status": "invited", "version": 1,
                              "since": at, "company_id": values["company_id"], "booths": []}
        self._timeline(values["company_id"], f"Invited to exhibit at {edition.name}")
        return row

    def existing(self, participation, edition) -> None:
        """A participation already written (invited by ``invite_exhibitors``), for :meth:`move`."""
        self.state[participation.id] = {
            "record": participation, "edition": edition, "status": participation.status,
            "version": participation.version, "since": participation.created_at,
            "company_id": participation.company_id, "booths": []}

    def _booth(self, booth, status: str, participation_id, **more) -> None:
        """``services._set_booth``: the change, audited, if there is one."""
        _, values = self.booths.setdefault(booth.id, (booth, {
            "status": booth.status, "version": booth.version, "participation_id": booth.participation_id,
            "purchase_interaction_id": booth.purchase_interaction_id}))
        changes = {k: (values[k], v) for k, v in (("status", status), ("participation_id", participation_id),
                                                  *more.items())
                   if values[k] != v}
        if changes:
            values.update({k: new for k, (_, new) in changes.items()}, version=values["version"] + 1,
                          updated_at=self.now())
            self.rec.change("updated", booth, changes, at=values["updated_at"], version=values["version"])

    def assign(self, participation_id, booth) -> None:
        """``assign_booth`` before payment: the booth is reserved for the participation."""
        state = self.state[participation_id]
        state["booths"].append(booth)
        if state["status"] in svc.PAID:
            self._sell(participation_id, state)   # a booth added after payment is its own purchase
        else:
            self._booth(booth, "reserved", participation_id)

    def move(self, participation_id, to: str, reason: str = "") -> None:
        """``change_participation_status``: the move, the booths sold on payment, the timeline entry."""
        state = self.state[participation_id]
        at = self.now()
        state["version"] += 1
        self.rec.transition(PARTICIPATION, state["record"], state["status"], to, entered_at=state["since"], at=at,
                            trigger=MANUAL, reason=reason, version=state["version"])
        state.update(status=to, since=at, updated_at=at)
        if to == "cancelled":
            for booth in state["booths"]:
                self._booth(booth, "available", None)
        elif to in svc.PAID:
            self._sell(participation_id, state)
        if to in svc.TIMELINE_STATES:
            self._timeline(state["company_id"], f"Participation at {state['edition'].name}: {to}", notes=reason)

    def _sell(self, participation_id, state) -> None:
        """``services._sell``: the booths not yet charged are one purchase on the company's history, written
        through the core's interactions as the service writes it (the lifecycle and level follow), then
        the booths sold."""
        due = [b for b in state["booths"]
               if self.booths.get(b.id, (b, {"purchase_interaction_id": b.purchase_interaction_id}))[1][
                   "purchase_interaction_id"] is None]
        values = svc.booth_purchase(state["edition"], due)
        purchase = None
        if values is not None:
            purchase = interactions.record_on_behalf(self.actor, {
                **values, "customer_id": str(state["company_id"]), "occurred_at": self.now().isoformat()},
                source=svc.SOURCE)
        for booth in state["booths"]:
            more = {"purchase_interaction_id": purchase.id} if purchase is not None and booth in due else {}
            self._booth(booth, "sold", participation_id, **more)

    def lead(self, edition, participation, company_name: str, reg: dict[str, Any], data: dict[str, Any]) -> None:
        """``capture_lead`` of a badge not scanned at this booth before: the lead and the visitor's
        timeline entry."""
        values = common.validate(S.LeadCreate, {"participation_id": str(participation.id),
                                                "badge_code": reg["badge_code"], **data})
        at = values.get("captured_at") or self.now()
        row = self.rec.add(ExhibitionLead, edition_id=edition.id, participation_id=participation.id,
                           registration_id=reg["registration_id"], captured_by_id=self.actor.id, captured_at=at,
                           rating=values["rating"], tags=list(dict.fromkeys(values["tags"])), notes=values["notes"],
                           created_at=at, updated_at=at, version=1, deleted_at=None)
        self.rec.change("created", row, audit.created_fields(SimpleNamespace(**row.values), [
            "participation_id", "registration_id", "rating", "tags"]), at=at)
        self._timeline(reg["visitor_id"], f"Visited the booth of {company_name}", kind=L.KIND_LEAD, occurred_at=at)

    def meeting(self, participation, reg: dict[str, Any], location: str, answers: list[str], company_name: str) -> None:
        """``request_meeting`` by staff between a booked participation and a registered visitor
        (``reg``: its ``registration_id``, ``visitor_id`` and ``badge_code``), then
        ``change_meeting_status`` to each of ``answers`` in turn: the meeting, the exhibitor's users
        told, its moves, and once held, the entries on the visitor's and the exhibitor's timelines."""
        values = common.validate(S.MeetingCreate, {"participation_id": str(participation.id),
                                                   "registration_id": str(reg["registration_id"]),
                                                   "location": location})
        company_id, edition_id = (_field(participation, "company_id"), _field(participation, "edition_id"))
        at = self.now()
        row = self.rec.add(ExhibitionMeeting, edition_id=edition_id, participation_id=participation.id,
                           registration_id=reg["registration_id"], requested_by_id=self.actor.id,
                           status="requested", starts_at=values.get("starts_at"), location=values["location"],
                           notes=values["notes"], created_at=at, updated_at=at, version=1, deleted_at=None)
        self.rec.change("created", row, audit.created_fields(SimpleNamespace(**row.values), [
            "participation_id", "registration_id", "starts_at", "location"]), at=at)
        if company_id not in self.company_users:
            self.company_users[company_id] = svc.users_of_company(company_id)
        for member in self.company_users[company_id]:
            notify(member, "exhibitions.meeting_requested", "A buyer asks for a meeting",
                   "Accept or decline it under your meetings.",
                   record=SimpleNamespace(__table__=ExhibitionMeeting.__table__, id=row.id))
        status, since, version = "requested", at, 1
        for to in answers:
            at, version = self.now(), version + 1
            self.rec.transition(MEETING, row, status, to, entered_at=since, at=at, trigger=MANUAL, version=version)
            status, since = to, at
            if to == "held":
                when = values.get("starts_at") or self.now()
                self._timeline(reg["visitor_id"], f"Met {company_name}", kind=L.KIND_MEETING, occurred_at=when)
                self._timeline(company_id, f"Met visitor {reg['badge_code']}", kind=L.KIND_MEETING, occurred_at=when)
        row.values.update(status=status, version=version, updated_at=since)

    def survey(self, edition, customer_id, data: dict[str, Any]) -> None:
        """``submit_survey`` by staff for the respondent ``customer_id`` (the visitor of
        ``data["registration_id"]`` or the company of ``data["participation_id"]``): the answer and its
        entry on the respondent's timeline."""
        values = common.validate(S.SurveyCreate, {"edition_id": str(edition.id), **data})
        entry = self._timeline(customer_id, f"{edition.name} survey ({values['phase']}): satisfaction "
                                            f"{values['satisfaction']}/5", notes=values["comment"], kind=L.KIND_SURVEY)
        at = self.now()
        row = self.rec.add(SurveyAnswer, edition_id=edition.id,
                           respondent="visitor" if values.get("registration_id") else "exhibitor",
                           registration_id=values.get("registration_id"),
                           participation_id=values.get("participation_id"), phase=values["phase"],
                           satisfaction=values["satisfaction"], comment=values["comment"], interaction_id=entry.id,
                           submitted_by_id=self.actor.id, created_at=at, updated_at=at)
        self.rec.change("created", row, audit.created_fields(SimpleNamespace(**row.values), [
            "edition_id", "respondent", "phase", "satisfaction"]), at=at)

    def flush(self) -> None:
        for state in self.state.values():
            if isinstance(state["record"], BulkRow):
                state["record"].values.update(status=state["status"], version=state["version"],
                                              updated_at=state.get("updated_at", state["since"]))
        self.rec.flush([ExhibitorParticipation, ExhibitionLead, Interaction, ExhibitionMeeting, SurveyAnswer])
        conn, sess = db.session().connection(), db.session()
        for state in self.state.values():
            if not isinstance(state["record"], BulkRow) and "updated_at" in state:
                conn.execute(update(ExhibitorParticipation).where(ExhibitorParticipation.id == state["record"].id)
                             .values(status=state["status"], version=state["version"], updated_at=state["updated_at"]))
                sess.expire(state["record"])
        for booth, values in self.booths.values():
            conn.execute(update(ExhibitionBooth).where(ExhibitionBooth.id == booth.id).values(**values))
            sess.expire(booth)
        self.state.clear()
        self.booths.clear()


def _field(record, name: str) -> Any:
    """A column value of a row collected in bulk or of a loaded record."""
    return record.values[name] if isinstance(record, BulkRow) else getattr(record, name)


def _upload(admin, edition_id, scans: list[dict]) -> None:
    for start in range(0, len(scans), 2000):
        svc.upload_checked_scans(admin, edition_id, scans[start:start + 2000])


def _edition_activity(admin, rng, edition, parts, attendees, progress, names) -> None:
    """Leads, meetings and survey answers of one edition, in bulk (:meth:`_Booking.lead`,
    :meth:`_Booking.meeting`, :meth:`_Booking.survey`; each reported to ``progress``); ``names`` maps
    company ids to names."""
    buyers = [a for a in attendees if a["category"] in L.PROFESSIONAL]
    leads = _Booking(admin)
    for p in parts:
        company_id = p.values["company_id"] if isinstance(p, BulkRow) else p.company_id
        for reg in rng.sample(attendees, min(len(attendees), rng.randint(1, 4))):
            leads.lead(edition, p, names[company_id], reg, {
                "rating": rng.choices(["hot", "warm", "cold"], weights=[2, 5, 3])[0],
                "tags": rng.sample(["price", "sample", "catalogue", "distributor"], 1)})
            progress(1)
        if buyers and rng.random() < 0.5:
            reg = rng.choice(buyers)
            answers = [rng.choice(["accepted", "accepted", "declined"])]
            if answers[0] == "accepted":
                answers.append(rng.choice(["held", "held", "no_show"]))
            leads.meeting(p, reg, "Business matching area", answers, names[company_id])
            progress(1)
        if rng.random() < 0.3:
            leads.survey(edition, company_id, {"participation_id": str(p.id), "satisfaction": rng.choice([3, 4, 4, 5])})
            progress(1)
    for reg in rng.sample(attendees, min(len(attendees), 40)):
        leads.survey(edition, reg["visitor_id"], {"registration_id": str(reg["registration_id"]),
                                                  "phase": rng.choice(["during", "after"]),
                                                  "satisfaction": rng.choice([2, 3, 4, 4, 5])})
        progress(1)
    leads.flush()


def load(admin, rng, progress=None) -> None:
    """Load the demo; ``progress`` (a ``core.demo.Progress``) hears of the records as they are written:
    booths, exhibitors, participations, registrations, gate scans, leads, meetings and surveys."""
    with gc_paused():  # its few cycles wait for one collection at the end (core.services.bulk.gc_paused)
        return _load(admin, rng, progress)


def _load(admin, rng, progress) -> None:
    from core.demo import Progress, create_demo_user

    progress = progress or Progress("exhibitions")
    progress.expect(2 * 90 + N_COMPANIES + 170 + 2 * VISITORS_FIRST + NEW_VISITORS_SECOND + 9000 + 700)
    organiser = create_demo_user(admin, {"email": "organiser@exhibitions.demo", "name": "Olivia Organiser",
                                          "role": L.ORGANISER, "password": "organiser-password"})
    show = svc.create_exhibition(organiser, {"name": "China International Machinery Fair",
                                             "industry": "machinery",
                                             "description": "The yearly machinery and equipment show."})
    editions = []
    for year in (2025, 2026):
        editions.append(svc.create_edition(organiser, {
            "exhibition_id": str(show.id), "name": f"CIMF {year}", "starts_on": f"{year}-05-12",
            "ends_on": f"{year}-05-14", "venue": "National Exhibition and Convention Center, Shanghai",
            "halls": ["1.1", "2.1", "3.1"], "timezone": "Asia/Shanghai"}))
    for edition in editions:
        for i in range(90):
            hall = ["1.1", "2.1", "3.1"][i % 3]
            area = rng.choice([9, 18, 36, 54])
            svc.create_booth(organiser, {"edition_id": str(edition.id), "number": f"{hall}-{i + 1:03d}", "hall": hall,
                                         "area": area, "price": area * rng.choice([1800, 2000, 2400])})
        progress(90)
    companies = [customers.create(organiser, {"name": f"{rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_WORDS)} "
                                                      f"{rng.choice(['Machinery', 'Tools', 'Robotics', 'Equipment'])} "
                                                      f"Co. {i + 1}",
                                              "industry": "machinery", "source": "exhibition"})
                 for i in range(N_COMPANIES)]
    progress(N_COMPANIES)
    names = {c.id: c.name for c in companies}
    for n, company in enumerate(companies[:2]):
        user = create_demo_user(admin, {"email": f"exhibitor{n + 1}@exhibitions.demo", "name": f"Exhibitor {n + 1}",
                                         "role": L.EXHIBITOR, "password": "exhibitor-password"})
        svc.link_exhibitor_user(organiser, {"user_id": str(user.id), "company_id": str(company.id)})

    booking = _Booking(organiser)

    def book(edition, company, booths, status="attended"):
        p = booking.invite(edition, company.id, {"is_key": rng.random() < 0.1, "categories": _interests(rng)})
        booking.assign(p.id, booths.pop())
        path = ["applied", "confirmed", "paid", "arrived", "attended"]
        for state in path[:path.index(status) + 1]:
            booking.move(p.id, state)
        return p

    first, second = editions
    booths1 = list(reversed(svc.list_booths(organiser, {"edition_id": str(first.id)},
                                            page=svc.common.PageRequest(limit=100)).items))
    parts1 = [book(first, c, booths1) for c in companies[:70]]
    booking.flush()
    progress(len(parts1))
    # first edition's visitors: pre-registration list, then the gates
    rows = [_visitor_row(rng, first) for _ in range(VISITORS_FIRST)]
    regs1 = []
    for start in range(0, len(rows), 1000):
        result = svc.import_checked_registrations(organiser, first.id, rows[start:start + 1000])
        regs1 += [{**r, "category": rows[start + r["index"]]["category"]} for r in result.registrations]
        progress(len(result.registrations))
    scans, attendees1 = _scans(rng, {"starts_on": first.starts_on, "ends_on": first.ends_on}, regs1, show_up=0.62)
    _upload(organiser, first.id, scans)
    progress(len(scans))
    _edition_activity(organiser, rng, first, parts1, attendees1, progress, names)
    svc.create_follow_ups(organiser, first.id)

    # second edition: rebook most exhibitors, invite past visitors, register returning and new ones
    svc.invite_exhibitors(organiser, second.id)
    booths2 = list(reversed(svc.list_booths(organiser, {"edition_id": str(second.id)},
                                            page=svc.common.PageRequest(limit=100)).items))
    parts2 = []
    invited = svc.list_participations(organiser, {"edition_id": str(second.id)},
                                      page=svc.common.PageRequest(limit=100)).items
    for p in invited:
        booking.existing(p, second)
        if rng.random() < 0.72:  # about a quarter of last year's exhibitors do not come back
            booking.assign(p.id, booths2.pop())
            for state in ("applied", "confirmed", "paid", "arrived", "attended"):
                booking.move(p.id, state)
            parts2.append(p)
        elif rng.random() < 0.5:
            booking.move(p.id, "cancelled", "budget cut")
    parts2 += [book(second, c, booths2) for c in companies[70:N_COMPANIES]]
    booking.flush()
    progress(len(parts2))
    svc.build_invitations(organiser, second.id, {"attended": True})
    returning = [r for r in attendees1 if rng.random() < 0.45]
    rows2 = [_visitor_row(rng, second, visitor_id=r["visitor_id"]) for r in returning]
    rows2 += [_visitor_row(rng, second) for _ in range(NEW_VISITORS_SECOND)]
    rng.shuffle(rows2)
    regs2 = []
    for start in range(0, len(rows2), 1000):
        result = svc.import_checked_registrations(organiser, second.id, rows2[start:start + 1000])
        regs2 += [{**r, "category": rows2[start + r["index"]]["category"]} for r in result.registrations]
        progress(len(result.registrations))
    svc.send_matches(organiser, second.id)
    scans, attendees2 = _scans(rng, {"starts_on": second.starts_on, "ends_on": second.ends_on}, regs2, show_up=0.66)
    _upload(organiser, second.id, scans)
    progress(len(scans))
    _edition_activity(organiser, rng, second, parts2, attendees2, progress, names)
    svc.create_follow_ups(organiser, second.id)


__all__ = ["load"]
