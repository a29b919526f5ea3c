"""Leads captured at the booth, kept private per exhibitor with the organiser's visible-field setting;
supply–demand matching; meetings between exhibitors and buyers."""
from __future__ import annotations

import pytest

from tests.plugins.exhibitions.conftest import BASE, ok, participate, register


@pytest.fixture
def booked(show):
    show.participations["alpha"] = participate(show, "alpha", show.first, categories=("machinery", "software"))
    show.participations["beta"] = participate(show, "beta", show.first, categories=("textiles",), is_key=True)
    show.visitors["wang"] = register(show, show.first, "Wang Wei", company_name="Pudong Trading",
                                     interests=["machinery", "software"], purchase_intent="high")
    show.visitors["li"] = register(show, show.first, "Li Na", interests=["machinery"], purchase_intent="low")
    show.visitors["zhou"] = register(show, show.first, "Zhou Min", category="general", interests=["machinery"])
    show.visitors["xu"] = register(show, show.first, "Xu Jie", category="vip", interests=["textiles"])
    return show


def capture(s, who, visitor, rating="hot", **extra):
    return s.as_(who).post(f"{BASE}/leads", json={"participation_id": s.participations[who]["id"],
                                                  "badge_code": s.visitors[visitor]["badge_code"],
                                                  "rating": rating, **extra})


def test_exhibitor_captures_a_lead_and_sees_only_the_allowed_visitor_fields(booked):
    lead = ok(capture(booked, "alpha", "wang", tags=["sample"], notes="wants a quote"), 201)
    assert lead["new"] is True and lead["rating"] == "hot" and lead["tags"] == ["sample"]
    assert lead["visitor"] == {"registration_id": booked.visitors["wang"]["id"],
                               "badge_code": booked.visitors["wang"]["badge_code"], "name": "Wang Wei",
                               "company": "Pudong Trading", "job_title": "Buyer", "category": "buyer",
                               "interests": ["machinery", "software"]}
    # the organiser sees every field of the same lead
    full = ok(booked.api.get(f"{BASE}/leads/{lead['id']}"))["visitor"]
    assert full["email"] == "wang.wei@buyer.example" and full["phone"] and full["purchase_intent"] == "high"


def test_scanning_the_same_badge_again_returns_the_same_lead(booked):
    first = ok(capture(booked, "alpha", "wang"), 201)
    again = ok(capture(booked, "alpha", "wang", rating="cold"), 200)   # found, not created (issue #19)
    assert again["id"] == first["id"] and again["new"] is False and again["rating"] == "hot"


def test_an_exhibitor_never_reads_another_exhibitors_leads(booked):
    mine = ok(capture(booked, "alpha", "wang"), 201)
    ok(capture(booked, "beta", "xu"), 201)
    beta = booked.as_("beta")
    assert beta.get(f"{BASE}/leads/{mine['id']}").status_code == 404
    assert beta.patch(f"{BASE}/leads/{mine['id']}", json={"version": 1, "rating": "cold"}).status_code == 404
    assert beta.delete(f"{BASE}/leads/{mine['id']}").status_code == 404
    assert [lead["visitor"]["name"] for lead in ok(beta.get(f"{BASE}/leads"))] == ["Xu Jie"]
    # nor captures leads for another exhibitor's participation
    response = beta.post(f"{BASE}/leads", json={"participation_id": booked.participations["alpha"]["id"],
                                                "badge_code": booked.visitors["li"]["badge_code"]})
    assert response.status_code == 422 and "participation_id" in response.get_json()["errors"]["json"]
    assert ok(booked.as_("loose").get(f"{BASE}/leads")) == []
    assert ok(booked.as_("rep").get(f"{BASE}/leads")) == []


def test_organiser_setting_decides_which_visitor_fields_exhibitors_see(booked):
    lead = ok(capture(booked, "alpha", "wang"), 201)
    edition = ok(booked.api.get(f"{BASE}/editions/{booked.first['id']}"))
    ok(booked.api.patch(f"{BASE}/editions/{edition['id']}", json={"version": edition["version"],
                                                                   "lead_visible_fields": ["company", "email"]}))
    seen = ok(booked.as_("alpha").get(f"{BASE}/leads/{lead['id']}"))["visitor"]
    assert set(seen) == {"registration_id", "badge_code", "company", "email"}
    edition = ok(booked.api.get(f"{BASE}/editions/{edition['id']}"))
    ok(booked.api.patch(f"{BASE}/editions/{edition['id']}", json={"version": edition["version"],
                                                                   "lead_visible_fields": []}))
    listed = ok(booked.as_("alpha").get(f"{BASE}/leads"))
    assert set(listed[0]["visitor"]) == {"registration_id", "badge_code"}
    bad = booked.api.patch(f"{BASE}/editions/{edition['id']}", json={"version": edition["version"] + 1,
                                                                      "lead_visible_fields": ["salary"]})
    assert bad.status_code == 422 and "lead_visible_fields.0" in bad.get_json()["errors"]["json"]


def test_exhibitor_rates_tags_and_filters_its_leads(booked):
    lead = ok(capture(booked, "alpha", "wang", rating="warm"), 201)
    ok(capture(booked, "alpha", "li", rating="cold", tags=["catalogue"]), 201)
    alpha = booked.as_("alpha")
    changed = ok(alpha.patch(f"{BASE}/leads/{lead['id']}", json={"version": lead["version"], "rating": "hot",
                                                                 "tags": ["sample", "sample", "price"]}))
    assert changed["rating"] == "hot" and changed["tags"] == ["sample", "price"]
    assert alpha.patch(f"{BASE}/leads/{lead['id']}", json={"version": lead["version"], "notes": "x"}).status_code == 409
    assert [x["visitor"]["name"] for x in ok(alpha.get(f"{BASE}/leads?rating=hot"))] == ["Wang Wei"]
    assert [x["visitor"]["name"] for x in ok(alpha.get(f"{BASE}/leads?tag=catalogue"))] == ["Li Na"]
    assert alpha.get(f"{BASE}/leads?colour=red").status_code == 422


def test_lead_needs_a_known_live_badge_and_a_booked_exhibitor(booked):
    assert capture(booked, "alpha", "wang").status_code == 201
    ok(booked.api.post(f"{BASE}/registrations/{booked.visitors['li']['id']}/cancel"))
    cancelled = capture(booked, "alpha", "li")
    assert cancelled.status_code == 422 and "cancelled" in cancelled.get_json()["errors"]["json"]["badge_code"][0]
    unknown = booked.as_("alpha").post(f"{BASE}/leads", json={"participation_id": booked.participations["alpha"]["id"],
                                                              "badge_code": "NOPE-0000"})
    assert unknown.status_code == 422
    applied = participate(booked, "alpha", booked.second, status="applied")
    other = register(booked, booked.second, "Next Year", interests=["machinery"])
    response = booked.as_("alpha").post(f"{BASE}/leads", json={"participation_id": applied["id"],
                                                               "badge_code": other["badge_code"]})
    assert response.status_code == 422 and "booked" in response.get_json()["errors"]["json"]["participation_id"][0]


def test_lead_goes_on_the_visitors_timeline(booked):
    ok(capture(booked, "alpha", "wang"), 201)
    timeline = ok(booked.api.get(f"/api/v1/customers/{booked.visitors['wang']['visitor_id']}/timeline"))
    assert "Visited the booth of Alpha Machines Ltd" in [t["subject"] for t in timeline]


# --- matching -------------------------------------------------------------------------------------

def test_buyers_are_ranked_for_an_exhibitor_with_reasons_and_private_fields(booked):
    matches = ok(booked.as_("alpha").get(f"{BASE}/participations/{booked.participations['alpha']['id']}/matches"))
    assert [m["visitor"]["name"] for m in matches] == ["Wang Wei", "Li Na"]  # the general visitor is no buyer
    top = matches[0]
    assert top["common_categories"] == ["machinery", "software"] and top["score"] > matches[1]["score"]
    assert top["reasons"] == ["Needs Machinery, Software and services, which you offer", "High purchase intent"]
    assert "email" not in top["visitor"] and "phone" not in top["visitor"]
    assert booked.as_("beta").get(
        f"{BASE}/participations/{booked.participations['alpha']['id']}/matches").status_code == 404


def test_exhibitors_are_ranked_for_a_buyer(booked):
    participate(booked, "beta", booked.second, categories=("machinery",))
    wang = ok(booked.api.get(f"{BASE}/registrations/{booked.visitors['wang']['id']}/matches"))
    assert [(m["exhibitor_name"], m["common_categories"]) for m in wang] == [
        ("Alpha Machines Ltd", ["machinery", "software"])]
    xu = ok(booked.api.get(f"{BASE}/registrations/{booked.visitors['xu']['id']}/matches"))
    assert xu[0]["reasons"] == ["Offers Textiles, which the buyer needs", "Key exhibitor"]


def test_sending_matches_notifies_exhibitor_users_once(booked):
    sent = ok(booked.api.post(f"{BASE}/editions/{booked.first['id']}/matches/send"))
    assert sent == {"exhibitors": 2, "notified": 2, "buyers": 3, "buyers_notified": 3}
    assert ok(booked.api.post(f"{BASE}/editions/{booked.first['id']}/matches/send"))["notified"] == 0
    notes = ok(booked.as_("alpha").get("/api/v1/notifications"))
    assert [n["title"] for n in notes] == ["2 buyers at CMF 2025 match your offer"]


# --- meetings -------------------------------------------------------------------------------------

def test_meeting_is_requested_answered_by_the_other_side_and_held(booked):
    alpha = booked.as_("alpha")
    meeting = ok(alpha.post(f"{BASE}/meetings", json={
        "participation_id": booked.participations["alpha"]["id"], "registration_id": booked.visitors["wang"]["id"],
        "starts_at": "2025-05-11T02:00:00Z", "location": "Booth 1-001"}), 201)
    assert meeting["status"] == "requested" and meeting["visitor"]["name"] == "Wang Wei"
    assert "email" not in meeting["visitor"] and meeting["exhibitor_name"] == "Alpha Machines Ltd"
    # the exhibitor asked, so the buyer's side (the organiser) answers
    assert alpha.post(f"{BASE}/meetings/{meeting['id']}/status", json={"to": "accepted"}).status_code == 403
    ok(booked.api.post(f"{BASE}/meetings/{meeting['id']}/status", json={"to": "accepted"}))
    bad = booked.api.post(f"{BASE}/meetings/{meeting['id']}/status", json={"to": "declined"})
    assert bad.status_code == 422
    assert ok(alpha.post(f"{BASE}/meetings/{meeting['id']}/status", json={"to": "held"}))["status"] == "held"
    history = ok(alpha.get(f"{BASE}/meetings/{meeting['id']}/history"))
    assert [h["to_state"] for h in history] == ["accepted", "held"]
    subjects = [t["subject"] for t in ok(booked.api.get(
        f"/api/v1/customers/{booked.visitors['wang']['visitor_id']}/timeline"))]
    assert "Met Alpha Machines Ltd" in subjects
    assert booked.as_("beta").get(f"{BASE}/meetings/{meeting['id']}").status_code == 404
    assert ok(booked.as_("beta").get(f"{BASE}/meetings")) == []


def test_organiser_books_a_meeting_for_a_buyer_and_the_exhibitor_is_told(booked):
    meeting = ok(booked.api.post(f"{BASE}/meetings", json={
        "participation_id": booked.participations["beta"]["id"], "registration_id": booked.visitors["xu"]["id"]}), 201)
    assert [n["kind"] for n in ok(booked.as_("beta").get("/api/v1/notifications"))] == ["exhibitions.meeting_requested"]
    assert ok(booked.as_("beta").post(f"{BASE}/meetings/{meeting['id']}/status",
                                      json={"to": "declined"}))["status"] == "declined"


def test_meeting_needs_a_registration_of_the_same_edition(booked):
    other = register(booked, booked.second, "Next Year")
    response = booked.as_("alpha").post(f"{BASE}/meetings", json={
        "participation_id": booked.participations["alpha"]["id"], "registration_id": other["id"]})
    assert response.status_code == 422 and "registration_id" in response.get_json()["errors"]["json"]


def test_a_rep_who_sees_the_exhibitor_company_writes_nothing_for_it(booked, people):
    """Reps and managers only read participations of their customers: no leads, meetings, surveys,
    status moves, nor buyer matches (visitor cards of customers they do not own)."""
    company = booked.companies["alpha"]
    ok(booked.as_("admin").patch(f"/api/v1/customers/{company['id']}",
                                 json={"version": company["version"], "owner_id": str(people.rep.id)}))
    rep, pid = booked.as_("rep"), booked.participations["alpha"]["id"]
    ok(rep.get(f"{BASE}/participations/{pid}"))
    assert rep.post(f"{BASE}/leads", json={"participation_id": pid,
                                           "badge_code": booked.visitors["wang"]["badge_code"]}).status_code == 403
    assert rep.post(f"{BASE}/meetings", json={"participation_id": pid,
                                              "registration_id": booked.visitors["wang"]["id"]}).status_code == 403
    assert rep.post(f"{BASE}/surveys", json={"edition_id": booked.first["id"], "participation_id": pid,
                                             "phase": "after", "satisfaction": 3}).status_code == 403
    assert rep.post(f"{BASE}/participations/{pid}/status", json={"to": "cancelled"}).status_code == 403
    assert rep.get(f"{BASE}/participations/{pid}/matches").status_code == 403
    assert ok(booked.api.get(f"{BASE}/participations/{pid}"))["status"] == "paid"
    assert ok(booked.api.get(f"{BASE}/leads")) == [] and ok(booked.api.get(f"{BASE}/meetings")) == []
