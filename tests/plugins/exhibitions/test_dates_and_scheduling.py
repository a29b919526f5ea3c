"""Issue #19 items 9 and 10 (exhibitions): a lead's or a meeting's time within the edition's days (± a
margin), no double-booked slot for a buyer or an exhibitor, matches told to buyers too, booth prices
fixed once sold, and exhibitors shown the booths still available."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from core import db
from core.models import OutboxEvent
from tests.plugins.exhibitions.conftest import BASE, ok, participate, register


@pytest.fixture
def booked(show):
    show.participations["alpha"] = participate(show, "alpha", show.first, categories=("machinery",))
    show.participations["beta"] = participate(show, "beta", show.first, categories=("machinery",))
    show.visitors["wang"] = register(show, show.first, "Wang Wei", interests=["machinery"])
    show.visitors["li"] = register(show, show.first, "Li Na", interests=["machinery"])
    return show


def fields(response, status):
    assert response.status_code == status, (response.status_code, response.get_json())
    return response.get_json()["errors"]["json"]


def test_a_lead_or_meeting_dated_9999_is_422_naming_the_field(booked):
    lead = {"participation_id": booked.participations["alpha"]["id"], "badge_code": booked.visitors["wang"]["badge_code"]}
    assert "captured_at" in fields(booked.as_("alpha").post(f"{BASE}/leads", json={
        **lead, "captured_at": "9999-05-10T02:00:00Z"}), 422)
    assert "captured_at" in fields(booked.as_("alpha").post(f"{BASE}/leads", json={
        **lead, "captured_at": "2025-04-01T02:00:00Z"}), 422)   # weeks before the show
    ok(booked.as_("alpha").post(f"{BASE}/leads", json={**lead, "captured_at": "2025-05-10T02:00:00Z"}), 201)
    meeting = {"participation_id": booked.participations["alpha"]["id"], "registration_id": booked.visitors["wang"]["id"]}
    assert "starts_at" in fields(booked.as_("alpha").post(f"{BASE}/meetings", json={
        **meeting, "starts_at": "9999-05-10T02:00:00Z"}), 422)
    ok(booked.as_("alpha").post(f"{BASE}/meetings", json={**meeting, "starts_at": "2025-05-09T02:00:00Z"}), 201)


def request(s, who, visitor, at):
    return s.as_(who).post(f"{BASE}/meetings", json={"participation_id": s.participations[who]["id"],
                                                     "registration_id": s.visitors[visitor]["id"], "starts_at": at})


def answer(s, meeting, to, who="organiser"):
    return s.as_(who).post(f"{BASE}/meetings/{meeting['id']}/status", json={"to": to})


def test_a_buyer_holds_one_accepted_meeting_per_slot(booked):
    first = ok(request(booked, "alpha", "wang", "2025-05-10T02:00:00Z"), 201)
    second = ok(request(booked, "beta", "wang", "2025-05-10T02:15:00Z"), 201)   # asked before any answer
    ok(answer(booked, first, "accepted"))
    problem = fields(answer(booked, second, "accepted"), 409)
    assert "starts_at" in problem and "buyer" in problem["starts_at"][0]
    assert "starts_at" in fields(request(booked, "beta", "wang", "2025-05-10T02:20:00Z"), 409)
    ok(request(booked, "beta", "wang", "2025-05-10T02:30:00Z"), 201)   # the next slot is free


def test_an_exhibitor_holds_one_accepted_meeting_per_slot(booked):
    first = ok(request(booked, "alpha", "wang", "2025-05-10T02:00:00Z"), 201)
    second = ok(request(booked, "alpha", "li", "2025-05-10T02:00:00Z"), 201)
    ok(answer(booked, first, "accepted"))
    problem = fields(answer(booked, second, "accepted"), 409)
    assert "starts_at" in problem and "exhibitor" in problem["starts_at"][0]


def test_matches_are_announced_to_buyers_too_once(booked, runtime):
    sent = ok(booked.api.post(f"{BASE}/editions/{booked.first['id']}/matches/send"))
    assert sent["buyers_notified"] == 2
    timeline = ok(booked.api.get(f"/api/v1/customers/{booked.visitors['wang']['visitor_id']}/timeline"))
    [entry] = [t for t in timeline if t["kind"] == "exhibitions_matches"]
    assert "2 exhibitors" in entry["subject"] and "Alpha Machines Ltd" in entry["notes"]
    with runtime.database.unit_of_work():
        events = list(db.session().scalars(select(OutboxEvent).where(
            OutboxEvent.name == "exhibitions_registration.matches_sent")))
    assert len(events) == 2
    assert {e["company_name"] for e in events[0].payload["exhibitors"]} == {"Alpha Machines Ltd", "Beta Machines Ltd"}
    assert ok(booked.api.post(f"{BASE}/editions/{booked.first['id']}/matches/send"))["buyers_notified"] == 0


def test_a_sold_booths_price_is_fixed(show):
    b = ok(show.api.post(f"{BASE}/booths", json={"edition_id": show.first["id"], "number": "1-001", "area": "18",
                                                 "price": "36000"}), 201)
    b = ok(show.api.patch(f"{BASE}/booths/{b['id']}", json={"version": b["version"], "price": "30000"}))
    p = participate(show, "alpha", show.first, status="confirmed")
    ok(show.api.post(f"{BASE}/participations/{p['id']}/booths", json={"booth_id": b["id"]}))
    ok(show.api.post(f"{BASE}/participations/{p['id']}/status", json={"to": "paid"}))
    b = ok(show.api.get(f"{BASE}/booths/{b['id']}"))
    assert "price" in fields(show.api.patch(f"{BASE}/booths/{b['id']}", json={"version": b["version"],
                                                                             "price": "1"}), 409)
    assert ok(show.api.patch(f"{BASE}/booths/{b['id']}", json={"version": b["version"], "hall": "1"}))["price"] == "30000.00"


def test_an_exhibitor_sees_the_available_booths_but_not_other_exhibitors(show):
    free = ok(show.api.post(f"{BASE}/booths", json={"edition_id": show.first["id"], "number": "1-001", "area": "9"}), 201)
    taken = ok(show.api.post(f"{BASE}/booths", json={"edition_id": show.first["id"], "number": "1-002", "area": "9"}), 201)
    q = participate(show, "beta", show.first, status="confirmed")
    ok(show.api.post(f"{BASE}/participations/{q['id']}/booths", json={"booth_id": taken["id"]}))
    alpha = show.as_("alpha")
    assert [b["number"] for b in ok(alpha.get(f"{BASE}/booths?status=available&edition_id={show.first['id']}"))] == [
        "1-001"]
    assert ok(alpha.get(f"{BASE}/booths/{free['id']}"))["status"] == "available"
    assert alpha.get(f"{BASE}/booths/{taken['id']}").status_code == 404
