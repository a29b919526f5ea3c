"""``trellis demo``'s exhibitions part: two editions of one show, thousands of visitors and scans, and
edition-over-edition metrics that show something. (How fast it loads is measured by the demo's own timing,
not asserted here: speed targets live in bench/, never in timed unit tests.)"""
from __future__ import annotations

import random

from sqlalchemy import func, select

from core import db
from plugins.exhibitions import demo, services
from plugins.exhibitions.models import CheckIn, ExhibitionEdition, VisitorRegistration


def test_demo_builds_two_editions_with_thousands_of_visitors(runtime, people):
    with runtime.database.unit_of_work():
        demo.load(people.admin, random.Random(7))
        sess = db.session()
        editions = list(sess.scalars(select(ExhibitionEdition).order_by(ExhibitionEdition.starts_on)))
        assert [e.name for e in editions] == ["CIMF 2025", "CIMF 2026"]
        assert sess.scalar(select(func.count()).select_from(VisitorRegistration)) > 4000
        assert sess.scalar(select(func.count()).select_from(CheckIn)) > 4000
        second = services.edition_metrics(people.admin, editions[1].id)
    assert 0.15 < second["churn_rate"] < 0.45 and abs(second["rebooking_rate"] + second["churn_rate"] - 1) < 1e-9
    assert 0 < second["new_visitor_share"] < 1 and 0.5 < second["show_up_rate"] < 0.8
    assert second["leads_per_exhibitor"] > 1 and second["visitor_satisfaction"] is not None
    assert second["exhibitor_satisfaction"] is not None
    assert second["booth_revenue"] > 0
    with runtime.database.unit_of_work():
        _every_demo_record_is_audited_and_on_its_timeline()


def _every_demo_record_is_audited_and_on_its_timeline():
    """What the audit trail and the timelines show of the demo's visitors: one audit entry per
    registration, lead, meeting and survey answer (and an event for those written one by one), each
    meeting move in its history; registrations, first entries of a day, leads, held meetings and survey
    answers each on the visitor's (or exhibitor's) timeline."""
    from core.models import Interaction, WorkflowTransitionEntry
    from core.models.audit import AuditEntry, OutboxEvent
    from plugins.exhibitions import labels as L
    from plugins.exhibitions.models import ExhibitionLead, ExhibitionMeeting, SurveyAnswer
    from plugins.exhibitions.workflows import MEETING

    sess = db.session()

    def audited(action):
        return sorted(sess.scalars(select(AuditEntry.record_id).where(AuditEntry.action == action)))

    def announced(name):
        return sorted(sess.scalars(select(OutboxEvent.record_id).where(OutboxEvent.name == name)))

    def on_timeline(kind):
        return sess.scalar(select(func.count()).select_from(Interaction).where(Interaction.kind == kind,
                                                                                Interaction.source == "exhibitions"))

    registrations = sorted(sess.scalars(select(VisitorRegistration.id)))
    assert audited("exhibitions_registration.created") == registrations
    assert on_timeline(L.KIND_REGISTRATION) == len(registrations)
    entries = set(sess.execute(select(CheckIn.registration_id, CheckIn.day).where(CheckIn.direction == "entry")))
    assert on_timeline(L.KIND_CHECK_IN) == len(entries)
    assert sess.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "exhibitions_edition.scans_uploaded")) == len(announced("exhibitions_edition.scans_uploaded")) >= 2
    leads = sorted(sess.scalars(select(ExhibitionLead.id)))
    assert audited("exhibitions_lead.created") == announced("exhibitions_lead.created") == leads
    assert on_timeline(L.KIND_LEAD) == len(leads)
    meetings = list(sess.scalars(select(ExhibitionMeeting)))
    assert audited("exhibitions_meeting.created") == announced("exhibitions_meeting.created") == sorted(
        m.id for m in meetings)
    moved = sorted(sess.scalars(select(WorkflowTransitionEntry.record_id).where(WorkflowTransitionEntry.workflow == MEETING)))
    assert moved == audited("exhibitions_meeting.status_changed") == announced("exhibitions_meeting.status_changed")
    assert len(moved) == sum({"requested": 0, "declined": 1, "accepted": 1}.get(m.status, 2) for m in meetings)
    held = sum(1 for m in meetings if m.status == "held")
    assert held and on_timeline(L.KIND_MEETING) == 2 * held  # the visitor's and the exhibitor's
    surveys = sorted(sess.scalars(select(SurveyAnswer.id)))
    assert audited("exhibitions_survey_answer.created") == announced("exhibitions_survey_answer.created") == surveys
    assert on_timeline(L.KIND_SURVEY) == len(surveys)


def test_the_demo_books_an_exhibitor_with_the_rows_the_services_write(runtime, people):
    """The demo books exhibitors in bulk (``demo._Booking``); what it writes for one — the participation,
    its booth, the workflow history, the audit trail, the events and the timeline — is what
    create_participation, assign_booth and change_participation_status write for another."""
    from core.models import Interaction, WorkflowTransitionEntry
    from core.models.audit import AuditEntry, OutboxEvent
    from core.services import users
    from plugins.exhibitions import labels as L
    from plugins.exhibitions.models import ExhibitionBooth, ExhibitorParticipation

    path = ["applied", "confirmed", "paid", "arrived", "attended"]
    with runtime.database.unit_of_work():
        organiser = users.create_user(people.admin, {"email": "org@example.com", "name": "Org", "role": L.ORGANISER})
        show = services.create_exhibition(organiser, {"name": "Fair", "industry": "machinery"})
        edition = services.create_edition(organiser, {"exhibition_id": str(show.id), "name": "Fair 2025",
                                                      "starts_on": "2025-05-12", "ends_on": "2025-05-14"})
        booths = [services.create_booth(organiser, {"edition_id": str(edition.id), "number": f"A-{i}", "area": 9,
                                                    "price": 1000}) for i in (1, 2)]
        by_service, in_bulk = (demo.customers.create(organiser, {"name": n, "source": "exhibition"})
                               for n in ("Served Co.", "Bulk Co."))
        p = services.create_participation(organiser, {"edition_id": str(edition.id), "company_id": str(by_service.id),
                                                      "is_key": True, "categories": []})
        services.assign_booth(organiser, p.id, {"booth_id": str(booths[0].id)})
        for state in path:
            services.change_participation_status(organiser, p.id, {"to": state})
        booking = demo._Booking(organiser)
        q = booking.invite(edition, in_bulk.id, {"is_key": True, "categories": []})
        booking.assign(q.id, booths[1])
        for state in path:
            booking.move(q.id, state)
        booking.flush()

        sess = db.session()

        def written(participation_id, booth_id, company_id):
            part = sess.get(ExhibitorParticipation, participation_id)
            booth = sess.get(ExhibitionBooth, booth_id)
            ids = (participation_id, booth_id)
            return {
                "participation": (part.status, part.version, part.is_key),
                "booth": (booth.status, booth.version, booth.participation_id == participation_id),
                "history": [(h.from_state, h.to_state, h.trigger, h.actor_id) for h in sess.scalars(
                    select(WorkflowTransitionEntry).where(WorkflowTransitionEntry.record_id == participation_id)
                    .order_by(WorkflowTransitionEntry.at))],
                "audit": sorted((a.action, sorted(a.changes)) for a in sess.scalars(
                    select(AuditEntry).where(AuditEntry.record_id.in_(ids)))),
                "events": sorted((e.name, e.payload["version"], e.payload.get("to")) for e in sess.scalars(
                    select(OutboxEvent).where(OutboxEvent.record_id.in_(ids)))),
                "timeline": sorted((i.kind, i.subject.replace(str(company_id), ""), i.source) for i in sess.scalars(
                    select(Interaction).where(Interaction.customer_id == company_id))),
            }

        served = written(p.id, booths[0].id, by_service.id)
        assert written(q.id, booths[1].id, in_bulk.id) == served
    assert served["participation"] == ("attended", 6, True) and served["booth"] == ("sold", 3, True)
    assert len(served["timeline"]) == 5 and len(served["history"]) == 5   # with the booth's purchase


def test_the_demo_scans_are_what_upload_scans_would_make_of_them():
    """The demo hands its scans to ``upload_checked_scans``, which skips ``upload_scans``'s parsing: they
    must already be what that parsing gives."""
    from datetime import date

    from core.services import common
    from plugins.exhibitions import schemas as S

    regs = [{"badge_code": f"B-{i:04d}"} for i in range(40)]
    scans, _ = demo._scans(random.Random(3), {"starts_on": date(2025, 5, 12), "ends_on": date(2025, 5, 14)}, regs,
                           show_up=0.9)
    assert scans
    for scan in scans:
        sent = {**scan, "scanned_at": scan["scanned_at"].isoformat()}
        assert common.validate(S.Scan, sent) == scan


def test_the_demo_registrations_are_what_import_registrations_would_make_of_them():
    """The demo hands its visitors to ``import_checked_registrations``, which skips
    ``import_registrations``'s parsing: they must already be what that parsing gives."""
    import uuid
    from datetime import date
    from types import SimpleNamespace

    from core.services import common
    from plugins.exhibitions import schemas as S

    edition = SimpleNamespace(id=uuid.uuid4(), starts_on=date(2025, 5, 12))
    rng = random.Random(5)
    rows = [demo._visitor_row(rng, edition) for _ in range(30)]
    rows += [demo._visitor_row(rng, edition, visitor_id=uuid.uuid4()) for _ in range(30)]
    for row in rows:
        sent = {**row, "edition_id": str(row["edition_id"]), "registered_at": row["registered_at"].isoformat()}
        if "visitor_id" in row:
            sent["visitor_id"] = str(row["visitor_id"])
        assert common.validate(S.RegistrationCreate, sent) == row


def test_the_demo_writes_a_meeting_and_survey_answers_as_the_services_do(runtime, people):
    """The demo writes meetings and survey answers in bulk (``demo._Booking.meeting`` and ``.survey``);
    what it writes for one exhibitor and one visitor — the meeting, its moves, the audit trail, the
    events, the exhibitor users' notifications, the answers and the timelines — is what request_meeting,
    change_meeting_status and submit_survey write for another pair."""
    from core.models import Interaction, Notification, WorkflowTransitionEntry
    from core.models.audit import AuditEntry, OutboxEvent
    from core.services import users
    from plugins.exhibitions import labels as L
    from plugins.exhibitions.models import ExhibitionMeeting, SurveyAnswer

    with runtime.database.unit_of_work():
        organiser = users.create_user(people.admin, {"email": "org@example.com", "name": "Org", "role": L.ORGANISER})
        show = services.create_exhibition(organiser, {"name": "Fair", "industry": "machinery"})
        edition = services.create_edition(organiser, {"exhibition_id": str(show.id), "name": "Fair 2025",
                                                      "starts_on": "2025-05-12", "ends_on": "2025-05-14"})
        sides = []
        for n, name in enumerate(("Served Co.", "Bulk Co.")):
            company = demo.customers.create(organiser, {"name": name, "source": "exhibition"})
            member = users.create_user(people.admin, {"email": f"ex{n}@example.com", "name": f"Ex {n}",
                                                      "role": L.EXHIBITOR})
            services.link_exhibitor_user(organiser, {"user_id": str(member.id), "company_id": str(company.id)})
            p = services.create_participation(organiser, {"edition_id": str(edition.id),
                                                          "company_id": str(company.id), "categories": []})
            for state in ["applied", "confirmed", "paid", "arrived", "attended"]:
                services.change_participation_status(organiser, p.id, {"to": state})
            [reg] = services.import_registrations(organiser, edition.id, {"registrations": [
                {"name": f"Visitor {n}", "category": "buyer"}]}).registrations
            sides.append((company, member, p, reg))

        (company, _, p, reg), (bulk_company, _, q, bulk_reg) = sides
        meeting = services.request_meeting(organiser, {"participation_id": str(p.id),
                                                       "registration_id": str(reg["registration_id"]),
                                                       "location": "Hall 1"})
        for to in ("accepted", "held"):
            services.change_meeting_status(organiser, meeting.id, {"to": to})
        services.submit_survey(organiser, {"edition_id": str(edition.id), "participation_id": str(p.id),
                                           "satisfaction": 4})
        services.submit_survey(organiser, {"edition_id": str(edition.id), "phase": "during",
                                           "registration_id": str(reg["registration_id"]), "satisfaction": 2})
        booking = demo._Booking(organiser)
        booking.meeting(q, bulk_reg, "Hall 1", ["accepted", "held"], bulk_company.name)
        booking.survey(edition, bulk_company.id, {"participation_id": str(q.id), "satisfaction": 4})
        booking.survey(edition, bulk_reg["visitor_id"], {"phase": "during", "satisfaction": 2,
                                                         "registration_id": str(bulk_reg["registration_id"])})
        booking.flush()

        sess = db.session()

        def written(company, member, participation, reg):
            [m] = sess.scalars(select(ExhibitionMeeting).where(ExhibitionMeeting.participation_id == participation.id))
            answers = list(sess.scalars(select(SurveyAnswer).where(SurveyAnswer.edition_id == edition.id)))
            answers = [a for a in answers if participation.id == a.participation_id
                       or a.registration_id == reg["registration_id"]]
            ids = [m.id] + [a.id for a in answers]
            anon = {company.name: "<company>", reg["badge_code"]: "<badge>"}

            def plain(text):
                for old, new in anon.items():
                    text = text.replace(old, new)
                return text

            return {
                "meeting": (m.status, m.version, m.location, m.requested_by_id),
                "history": [(h.from_state, h.to_state, h.trigger, h.actor_id) for h in sess.scalars(
                    select(WorkflowTransitionEntry).where(WorkflowTransitionEntry.record_id == m.id)
                    .order_by(WorkflowTransitionEntry.at))],
                "audit": sorted((a.action, sorted(a.changes)) for a in sess.scalars(
                    select(AuditEntry).where(AuditEntry.record_id.in_(ids)))),
                "events": sorted((e.name, e.payload["version"], e.payload.get("to"), sorted(e.payload["changes"]))
                                 for e in sess.scalars(select(OutboxEvent).where(OutboxEvent.record_id.in_(ids)))),
                "answers": sorted((a.respondent, a.phase, a.satisfaction, a.comment,
                                   sess.get(Interaction, a.interaction_id).kind) for a in answers),
                "notified": [(n.kind, n.title, n.record_type, n.record_id == m.id) for n in sess.scalars(
                    select(Notification).where(Notification.user_id == member.id))],
                "timeline": sorted((i.kind, plain(i.subject), i.status, i.source) for i in sess.scalars(
                    select(Interaction).where(Interaction.customer_id.in_([company.id, reg["visitor_id"]]),
                                              Interaction.kind.in_([L.KIND_MEETING, L.KIND_SURVEY])))),
            }

        served = written(*sides[0])
        assert written(*sides[1]) == served
    assert served["meeting"][:2] == ("held", 3) and len(served["history"]) == 2
    assert len(served["answers"]) == 2 and len(served["timeline"]) == 4 and len(served["notified"]) == 1


def test_checked_scans_are_stored_and_refused_as_upload_scans_does(runtime, people):
    """``upload_checked_scans`` (the demo's path) stores what ``upload_scans`` would: sending the same
    scans through ``upload_scans`` afterwards finds every stored one a duplicate and refuses the same."""
    from datetime import datetime, timedelta, timezone

    from core.services import users
    from plugins.exhibitions import labels as L

    cst = timezone(timedelta(hours=8))
    with runtime.database.unit_of_work():
        organiser = users.create_user(people.admin, {"email": "org@example.com", "name": "Org", "role": L.ORGANISER})
        show = services.create_exhibition(organiser, {"name": "Fair", "industry": "machinery"})
        edition = services.create_edition(organiser, {"exhibition_id": str(show.id), "name": "Fair 2025",
                                                      "starts_on": "2025-05-12", "ends_on": "2025-05-14",
                                                      "timezone": "Asia/Shanghai"})
        [reg] = services.import_registrations(organiser, edition.id, {"registrations": [
            {"name": "Visitor", "category": "buyer"}]}).registrations
        scan = {"badge_code": reg["badge_code"], "scanned_at": datetime(2025, 5, 12, 9, 30, tzinfo=cst),
                "gate": "N1", "direction": "entry", "device": "scanner-N1"}
        scans = [scan, dict(scan), {**scan, "badge_code": "NOPE-1"},
                 {**scan, "scanned_at": datetime(2025, 5, 20, 9, 30, tzinfo=cst)}]
        checked = services.upload_checked_scans(organiser, edition.id, scans)
        again = services.upload_scans(organiser, edition.id, {"scans": [
            {**s, "scanned_at": s["scanned_at"].isoformat()} for s in scans]})
    refused = [(r["index"], r["field"]) for r in checked.rejected]
    assert (checked.received, checked.accepted, checked.duplicates, refused) == (4, 1, 1, [(2, "badge_code"),
                                                                                        (3, "scanned_at")])
    assert (again.accepted, again.duplicates, [(r["index"], r["field"]) for r in again.rejected]) == (0, 2, refused)
