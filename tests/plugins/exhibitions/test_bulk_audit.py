"""What the bulk paths (registration import, scan upload, invitation list) leave in the audit trail and
the outbox: one audit entry per record created, one summary event per batch on the edition, and no
per-record event."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from core import db
from core.models import AuditEntry, OutboxEvent
from tests.plugins.exhibitions.conftest import BASE, ok, register


@pytest.fixture
def trail(runtime, ex_tokens):
    """``trail(action)`` runs ``action()`` and returns the audit entries and outbox events it wrote."""
    organiser_id = str(ex_tokens[1]["organiser"].id)

    def ids():
        with runtime.database.unit_of_work():
            sess = db.session()
            return set(sess.scalars(select(AuditEntry.id))), set(sess.scalars(select(OutboxEvent.id)))

    def run(action):
        audits_before, events_before = ids()
        started = datetime.now(timezone.utc)
        result = action()
        with runtime.database.unit_of_work():
            sess = db.session()
            audits = [(a.action, a.record_type, str(a.record_id), a.changes, str(a.actor_id), _utc(a.at))
                      for a in sess.scalars(select(AuditEntry)) if a.id not in audits_before]
            events = [(e.name, e.record_type, str(e.record_id), e.payload, str(e.actor_id))
                      for e in sess.scalars(select(OutboxEvent)) if e.id not in events_before]
        # every entry is the organiser's, stamped with the present (not the scan or registration time)
        assert {a[4] for a in audits} | {e[4] for e in events} <= {organiser_id}
        assert all(started - timedelta(seconds=1) <= a[5] <= datetime.now(timezone.utc) + timedelta(seconds=1)
                   for a in audits)
        return result, audits, events

    return run


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at


def _actions(audits):
    return Counter(a[0] for a in audits)


def _one(audits, action, record_id=None):
    found = [a for a in audits if a[0] == action and (record_id is None or a[2] == str(record_id))]
    assert len(found) == 1, (action, record_id, found)
    return found[0]


def test_registration_import_audits_each_record_and_emits_one_summary_event(show, trail):
    edition = show.first
    returning = register(show, show.second, "Returning Ruth")  # a person customer, not yet in CMF 2025
    already = register(show, edition, "Already Here")
    company = show.companies["alpha"]

    def run():
        return ok(show.api.post(f"{BASE}/editions/{edition['id']}/registrations/import", json={"registrations": [
            {"name": "New Nina", "category": "buyer", "interests": ["machinery"], "badge_code": "IMP-0001",
             "company_id": company["id"]},
            {"name": "New Ned", "category": "general"},
            {"visitor_id": returning["visitor_id"], "category": "media", "badge_code": "IMP-0003"},
            {"visitor_id": already["visitor_id"]}]}))

    result, audits, events = trail(run)
    assert (result["created"], result["existing"]) == (3, 1)
    assert _actions(audits) == {"customer.created": 2, "exhibitions_registration.created": 3,
                                "interaction.created": 3, "exhibitions_edition.registrations_imported": 1}
    rows = {r["badge_code"]: r for r in result["registrations"]}
    nina = rows["IMP-0001"]
    customer = _one(audits, "customer.created", nina["visitor_id"])
    assert customer[1:4] == ("customer", str(nina["visitor_id"]),
                             {"kind": [None, "person"], "name": [None, "New Nina"], "source": [None, "exhibition"]})
    registration = _one(audits, "exhibitions_registration.created", rows["IMP-0003"]["registration_id"])
    assert registration[1] == "exhibitions_registration" and registration[3] == {
        "edition_id": [None, edition["id"]], "visitor_id": [None, returning["visitor_id"]],
        "category": [None, "media"], "badge_code": [None, "IMP-0003"]}
    timeline = [a for a in audits if a[0] == "interaction.created" and a[3]["customer_id"][1] == nina["visitor_id"]]
    assert len(timeline) == 1 and timeline[0][1] == "interaction" and timeline[0][3] == {
        "customer_id": [None, nina["visitor_id"]], "kind": [None, "exhibitions_registration"],
        "subject": [None, "Registered for CMF 2025 (buyer)"]}
    summary = _one(audits, "exhibitions_edition.registrations_imported")
    assert summary[1:4] == ("exhibitions_edition", edition["id"], {})
    # one event for the batch, none per record
    assert [e[:3] for e in events] == [("exhibitions_edition.registrations_imported", "exhibitions_edition",
                                        edition["id"])]
    payload = events[0][3]
    assert {k: payload[k] for k in ("id", "changes", "created", "existing", "new_customers")} == {
        "id": edition["id"], "changes": {}, "created": 3, "existing": 1, "new_customers": 2}


def test_scan_upload_audits_timeline_entries_only_and_emits_one_summary_event(show, trail):
    edition = show.first
    a, b = register(show, edition, "Scan Ann"), register(show, edition, "Scan Bob")
    batch = {"scans": [
        {"badge_code": a["badge_code"], "scanned_at": "2025-05-10T01:00:00Z", "gate": "N1"},
        {"badge_code": a["badge_code"], "scanned_at": "2025-05-10T03:00:00Z", "gate": "N2"},  # same day again
        {"badge_code": a["badge_code"], "scanned_at": "2025-05-10T06:00:00Z", "direction": "exit"},
        {"badge_code": a["badge_code"], "scanned_at": "2025-05-11T01:00:00Z"},
        {"badge_code": b["badge_code"], "scanned_at": "2025-05-11T02:00:00Z", "gate": "S1"},
        {"badge_code": b["badge_code"], "scanned_at": "2025-05-11T02:00:00Z", "gate": "S1"},  # double read
        {"badge_code": "NOPE-0000", "scanned_at": "2025-05-11T02:00:00Z"}]}

    result, audits, events = trail(lambda: ok(show.api.post(f"{BASE}/editions/{edition['id']}/scans", json=batch)))
    assert (result["accepted"], result["duplicates"], len(result["rejected"])) == (5, 1, 1)
    # check-ins are audited only by the summary; the first entry of each day goes on the timeline
    assert _actions(audits) == {"interaction.created": 3, "exhibitions_edition.scans_uploaded": 1}
    bob = [x for x in audits if x[0] == "interaction.created" and x[3]["customer_id"][1] == b["visitor_id"]]
    assert len(bob) == 1 and bob[0][3] == {"customer_id": [None, b["visitor_id"]], "kind": [None, "exhibitions_check_in"],
                                           "subject": [None, "Entered CMF 2025 on 2025-05-11 at gate S1"]}
    assert _one(audits, "exhibitions_edition.scans_uploaded")[1:4] == ("exhibitions_edition", edition["id"], {})
    assert [e[:3] for e in events] == [("exhibitions_edition.scans_uploaded", "exhibitions_edition", edition["id"])]
    payload = events[0][3]
    assert {k: payload[k] for k in ("received", "accepted", "duplicates", "rejected", "changes")} == {
        "received": 7, "accepted": 5, "duplicates": 1, "rejected": 1, "changes": {}}

    # sent again: nothing new but the summary
    _, audits, events = trail(lambda: ok(show.api.post(f"{BASE}/editions/{edition['id']}/scans", json=batch)))
    assert _actions(audits) == {"exhibitions_edition.scans_uploaded": 1}
    assert [e[0] for e in events] == ["exhibitions_edition.scans_uploaded"]


def test_invitation_batch_audits_each_invitation_and_emits_one_summary_event(show, trail):
    past = {name: register(show, show.first, name, category=cat)
            for name, cat in (("Inv Ann", "buyer"), ("Inv Bob", "buyer"), ("Inv Cy", "general"))}
    ok(show.api.post(f"{BASE}/registrations", json={"edition_id": show.second["id"],
                                                    "visitor_id": past["Inv Ann"]["visitor_id"]}), 201)
    url = f"{BASE}/editions/{show.second['id']}/invitations"

    result, audits, events = trail(lambda: ok(show.api.post(url, json={"categories": ["buyer", "general"]})))
    assert (result["selected"], result["created"], result["already_registered"]) == (3, 2, 1)
    assert _actions(audits) == {"exhibitions_invitation.created": 2, "interaction.created": 2,
                                "exhibitions_edition.invitations_built": 1}
    invitations = {i["visitor_id"]: i for i in ok(show.api.get(url))}
    bob = invitations[past["Inv Bob"]["visitor_id"]]
    entry = _one(audits, "exhibitions_invitation.created", bob["id"])
    assert entry[1:4] == ("exhibitions_invitation", bob["id"], {
        "visitor_id": [None, bob["visitor_id"]], "reason": [None, "Registered for CMF 2025 as buyer"]})
    timeline = [a for a in audits if a[0] == "interaction.created" and a[3]["customer_id"][1] == bob["visitor_id"]]
    assert len(timeline) == 1 and timeline[0][3] == {"customer_id": [None, bob["visitor_id"]],
                                                     "kind": [None, "exhibitions_invitation"],
                                                     "subject": [None, "Invited to CMF 2026"]}
    assert _one(audits, "exhibitions_edition.invitations_built")[1:4] == ("exhibitions_edition", show.second["id"], {})
    assert [e[:3] for e in events] == [("exhibitions_edition.invitations_built", "exhibitions_edition",
                                        show.second["id"])]
    assert {k: events[0][3][k] for k in ("selected", "created")} == {"selected": 3, "created": 2}

    # a dry run writes nothing at all
    _, audits, events = trail(lambda: ok(show.api.post(url, json={"categories": ["buyer"], "dry_run": True})))
    assert audits == [] and events == []
