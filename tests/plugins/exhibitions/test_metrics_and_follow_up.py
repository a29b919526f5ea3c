"""Edition-over-edition metrics (UFI unique visitors, show-up, rebooking and churn, new visitors …),
invitation lists built from past editions, post-show follow-up tasks, surveys."""
from __future__ import annotations

from datetime import datetime, timezone

from core.jobs import run_all
from tests.plugins.exhibitions.conftest import BASE, ok, participate, register


def scan(s, edition, reg, when, direction="entry", gate="N1"):
    return ok(s.api.post(f"{BASE}/editions/{edition['id']}/scans", json={"scans": [
        {"badge_code": reg["badge_code"], "scanned_at": when, "direction": direction, "gate": gate}]}))


def two_editions(s):
    """2025: alpha and beta exhibit; four visitors registered, three come (one of them every day).
    2026: alpha rebooks, beta does not, gamma is new; two returning visitors and one new come."""
    for key in ("alpha", "beta"):
        participate(s, key, s.first)
    gamma = ok(s.api.post("/api/v1/customers", json={"name": "Gamma Tools"}), 201)
    s.companies["gamma"] = gamma
    participate(s, "alpha", s.second)
    ok(s.api.post(f"{BASE}/participations", json={"edition_id": s.second["id"], "company_id": gamma["id"]}), 201)
    p = ok(s.api.get(f"{BASE}/participations?company_id={gamma['id']}"))[0]
    for state in ("applied", "confirmed"):
        ok(s.api.post(f"{BASE}/participations/{p['id']}/status", json={"to": state}))
    v = {name: register(s, s.first, name, category=cat) for name, cat in
         (("Ann", "buyer"), ("Bob", "buyer"), ("Cy", "general"), ("Di", "buyer"))}
    for day in ("2025-05-10", "2025-05-11", "2025-05-12"):
        scan(s, s.first, v["Ann"], f"{day}T02:00:00Z")
        scan(s, s.first, v["Ann"], f"{day}T03:00:00Z", gate="N2")  # re-entry the same day
        scan(s, s.first, v["Ann"], f"{day}T08:00:00Z", direction="exit")
    scan(s, s.first, v["Bob"], "2025-05-10T02:00:00Z")
    scan(s, s.first, v["Cy"], "2025-05-11T02:00:00Z")
    w = {"Ann": ok(s.api.post(f"{BASE}/registrations", json={"edition_id": s.second["id"],
                                                             "visitor_id": v["Ann"]["visitor_id"],
                                                             "category": "buyer"}), 201),
         "Di": ok(s.api.post(f"{BASE}/registrations", json={"edition_id": s.second["id"],
                                                            "visitor_id": v["Di"]["visitor_id"],
                                                            "category": "buyer"}), 201),
         "Eve": register(s, s.second, "Eve", category="general")}
    for name in ("Ann", "Di", "Eve"):
        scan(s, s.second, w[name], "2026-05-10T02:00:00Z")
    return v, w


def test_edition_metrics_count_unique_visitors_ufi_style_and_compare_editions(show):
    two_editions(show)
    first = ok(show.api.get(f"{BASE}/editions/{show.first['id']}/metrics"))
    assert first["registrations"] == 4 and first["visitors"] == 3  # Ann counted once, however often scanned
    assert first["show_up_rate"] == 0.75 and first["professional_share"] == round(2 / 3, 4)
    assert first["visitors_by_day"] == [{"day": "2025-05-10", "visitors": 2}, {"day": "2025-05-11", "visitors": 2},
                                        {"day": "2025-05-12", "visitors": 1}]
    assert first["rebooking_rate"] is None and first["new_visitor_share"] == 1.0
    second = ok(show.api.get(f"{BASE}/editions/{show.second['id']}/metrics"))
    assert second["exhibitors"] == 2 and second["rebooking_rate"] == 0.5 and second["churn_rate"] == 0.5
    # Di registered in 2025 but never came: she is a new visitor in 2026, like Eve
    assert second["visitors"] == 3 and second["new_visitor_share"] == round(2 / 3, 4)
    assert second["previous_edition_id"] == show.first["id"]


def test_metrics_registry_serves_the_same_numbers_per_edition(show):
    two_editions(show)
    rows = ok(show.api.get("/api/v1/metrics/exhibitions_visitors"))["rows"]
    assert [(r["extra"]["edition_name"], r["value"]) for r in rows] == [("CMF 2025", 3), ("CMF 2026", 3)]
    by_day = ok(show.api.get("/api/v1/metrics/exhibitions_visitors?group_by=day"))["rows"]
    assert [r["value"] for r in by_day] == [2, 2, 1, 3]
    churn = ok(show.api.get("/api/v1/metrics/exhibitions_churn_rate?from=2026-01-01"))["rows"]
    assert [(r["group"]["edition"], r["value"]) for r in churn] == [(show.second["id"], 0.5)]
    names = {m["name"] for m in ok(show.api.get("/api/v1/metrics"))}
    assert {"exhibitions_show_up_rate", "exhibitions_rebooking_rate", "exhibitions_new_visitor_share",
            "exhibitions_leads_per_exhibitor", "exhibitions_visitor_satisfaction", "exhibitions_exhibitor_satisfaction",
            "exhibitions_booth_revenue"} <= names


def test_exhibitors_and_reps_get_no_edition_figures(show):
    two_editions(show)
    assert ok(show.as_("alpha").get("/api/v1/metrics/exhibitions_visitors"))["rows"] == []
    assert ok(show.as_("rep").get("/api/v1/metrics/exhibitions_visitors"))["rows"] == []
    assert show.as_("alpha").get(f"{BASE}/editions/{show.first['id']}/metrics").status_code == 403
    assert ok(show.as_("manager").get(f"{BASE}/editions/{show.first['id']}/metrics"))["visitors"] == 3


def test_invitation_list_from_past_attendees_skips_the_registered_and_is_rebuildable(show):
    v, w = two_editions(show)
    url = f"{BASE}/editions/{show.second['id']}/invitations"
    dry = ok(show.api.post(url, json={"attended": True, "dry_run": True}))
    # Ann, Bob and Cy came in 2025; Ann is already registered for 2026
    assert (dry["selected"], dry["created"], dry["already_registered"]) == (3, 2, 1)
    assert ok(show.api.get(url)) == []
    built = ok(show.api.post(url, json={"attended": True}))
    assert built["created"] == 2
    invited = ok(show.api.get(url))
    assert {i["visitor_id"] for i in invited} == {v["Bob"]["visitor_id"], v["Cy"]["visitor_id"]}
    assert invited[0]["reason"].startswith("Attended CMF 2025")
    assert ok(show.api.post(url, json={"attended": True}))["already_invited"] == 2
    # Bob registers: his invitation is marked registered
    ok(show.api.post(f"{BASE}/registrations", json={"edition_id": show.second["id"],
                                                    "visitor_id": v["Bob"]["visitor_id"]}), 201)
    assert [i["visitor_id"] for i in ok(show.api.get(url + "?status=registered"))] == [v["Bob"]["visitor_id"]]
    timeline = ok(show.api.get(f"/api/v1/customers/{v['Cy']['visitor_id']}/timeline"))
    assert "Invited to CMF 2026" in [t["subject"] for t in timeline]


def test_invitation_criteria_category_no_shows_and_lapsed(show):
    v, w = two_editions(show)
    third = ok(show.api.post(f"{BASE}/editions", json={"exhibition_id": show.exhibition["id"], "name": "CMF 2027",
                                                       "starts_on": "2027-05-10", "ends_on": "2027-05-12"}), 201)
    url = f"{BASE}/editions/{third['id']}/invitations"
    no_shows = ok(show.api.post(url, json={"attended": False, "categories": ["buyer"], "dry_run": True}))
    assert no_shows["selected"] == 1  # Di, in 2025 (she came in 2026, but not in 2025)
    lapsed = ok(show.api.post(url, json={"lapsed": True, "dry_run": True}))
    assert lapsed["selected"] == 2  # Bob and Cy came in 2025 and skipped 2026
    bad = show.api.post(url, json={"categories": ["alien"]})
    assert bad.status_code == 422
    assert show.api.post(f"{BASE}/editions/{show.first['id']}/invitations", json={}).status_code == 422
    assert show.as_("alpha").post(url, json={}).status_code == 403


def test_hot_leads_get_one_follow_up_task_for_the_exhibitor_after_the_show(show, ex_tokens, runtime):
    _, made = ex_tokens
    p = participate(show, "alpha", show.first)
    hot = register(show, show.first, "Hot Prospect")
    warm = register(show, show.first, "Warm Prospect")
    for reg, rating in ((hot, "hot"), (warm, "warm")):
        ok(show.as_("alpha").post(f"{BASE}/leads", json={"participation_id": p["id"], "badge_code": reg["badge_code"],
                                                         "rating": rating}), 201)
    assert ok(show.api.post(f"{BASE}/editions/{show.first['id']}/follow-ups")) == {"created": 1}
    assert ok(show.api.post(f"{BASE}/editions/{show.first['id']}/follow-ups")) == {"created": 0}
    tasks = ok(show.as_("alpha").get("/api/v1/interactions?mine=true"))
    assert [(t["kind"], t["status"], t["subject"]) for t in tasks] == [
        ("exhibitions_follow_up", "planned", "Follow up hot lead Hot Prospect from CMF 2025")]
    assert tasks[0]["assignee_id"] == str(made["alpha"].id)
    assert [n["kind"] for n in ok(show.as_("alpha").get("/api/v1/notifications"))] == ["exhibitions.follow_up"]
    leads = ok(show.as_("alpha").get(f"{BASE}/leads?rating=hot"))
    assert leads[0]["follow_up_task_id"] == tasks[0]["id"]
    # the exhibitor does the task through the core
    done = show.as_("alpha").post(f"/api/v1/interactions/{tasks[0]['id']}/complete", json={"outcome": "quote sent"})
    assert done.status_code == 200


def test_a_follow_up_goes_to_the_exhibitor_who_captured_the_lead_while_they_are_active(show, ex_tokens):
    _, made = ex_tokens
    ok(show.api.post(f"{BASE}/exhibitor-users", json={"user_id": str(made["loose"].id),
                                                      "company_id": show.companies["alpha"]["id"]}))
    p = participate(show, "alpha", show.first)
    url = f"{BASE}/editions/{show.first['id']}/follow-ups"
    for name in ("First Prospect", "Second Prospect"):
        reg = register(show, show.first, name)
        ok(show.as_("loose").post(f"{BASE}/leads", json={"participation_id": p["id"], "badge_code": reg["badge_code"],
                                                         "rating": "hot"}), 201)
        if name == "First Prospect":  # captured by loose, a colleague of alpha (alpha sorts first)
            assert ok(show.api.post(url)) == {"created": 1}
    loose = ok(show.as_("admin").get(f"/api/v1/users/{made['loose'].id}"))
    ok(show.as_("admin").patch(f"/api/v1/users/{made['loose'].id}", json={"version": loose["version"],
                                                                          "is_active": False}))
    assert ok(show.api.post(url)) == {"created": 1}  # loose has left: the company's first active user
    tasks = ok(show.as_("admin").get("/api/v1/interactions?kind=exhibitions_follow_up&sort=created_at"))
    assert [(t["subject"], t["assignee_id"]) for t in tasks] == [
        ("Follow up hot lead First Prospect from CMF 2025", str(made["loose"].id)),
        ("Follow up hot lead Second Prospect from CMF 2025", str(made["alpha"].id))]

def test_scheduled_job_creates_follow_ups_for_ended_editions_once(show, runtime):
    p = participate(show, "alpha", show.first)
    reg = register(show, show.first, "Job Prospect")
    ok(show.as_("alpha").post(f"{BASE}/leads", json={"participation_id": p["id"], "badge_code": reg["badge_code"],
                                                     "rating": "hot"}), 201)
    now = datetime(2025, 6, 1, tzinfo=timezone.utc)
    results = dict(run_all(runtime, now))
    assert results["exhibitions.follow_ups"] == 1
    assert dict(run_all(runtime, now))["exhibitions.follow_ups"] == 0


def test_scheduled_follow_ups_wait_for_the_day_after_the_last_show_day(show, runtime):
    p = participate(show, "alpha", show.first)  # CMF 2025 ends on 2025-05-12
    reg = register(show, show.first, "Late Prospect")
    ok(show.as_("alpha").post(f"{BASE}/leads", json={"participation_id": p["id"], "badge_code": reg["badge_code"],
                                                     "rating": "hot"}), 201)
    last_evening = datetime(2025, 5, 12, 23, 59, tzinfo=timezone.utc)
    assert dict(run_all(runtime, last_evening))["exhibitions.follow_ups"] == 0
    assert ok(show.as_("alpha").get(f"{BASE}/leads?rating=hot"))[0]["follow_up_task_id"] is None
    assert dict(run_all(runtime, datetime(2025, 5, 13, tzinfo=timezone.utc)))["exhibitions.follow_ups"] == 1

def test_survey_answers_go_on_the_timeline_and_into_satisfaction(show):
    p = participate(show, "alpha", show.first)
    reg = register(show, show.first, "Happy Visitor")
    answer = ok(show.api.post(f"{BASE}/surveys", json={"edition_id": show.first["id"], "registration_id": reg["id"],
                                                       "phase": "during", "satisfaction": 5, "comment": "great"}), 201)
    assert answer["respondent"] == "visitor" and answer["interaction_id"]
    ok(show.as_("alpha").post(f"{BASE}/surveys", json={"edition_id": show.first["id"], "participation_id": p["id"],
                                                       "satisfaction": 3}), 201)
    assert show.as_("alpha").post(f"{BASE}/surveys", json={"edition_id": show.first["id"], "registration_id": reg["id"],
                                                           "satisfaction": 1}).status_code == 403
    bad = show.api.post(f"{BASE}/surveys", json={"edition_id": show.first["id"], "registration_id": reg["id"],
                                                 "satisfaction": 9})
    assert bad.status_code == 422 and list(bad.get_json()["errors"]["json"]) == ["satisfaction"]
    nobody = show.api.post(f"{BASE}/surveys", json={"edition_id": show.first["id"], "satisfaction": 4})
    assert nobody.status_code == 422 and list(nobody.get_json()["errors"]["json"]) == ["registration_id"]
    timeline = ok(show.api.get(f"/api/v1/customers/{reg['visitor_id']}/timeline"))
    assert [t["notes"] for t in timeline if t["kind"] == "exhibitions_survey"] == ["great"]
    metrics = ok(show.api.get(f"{BASE}/editions/{show.first['id']}/metrics"))
    assert (metrics["visitor_satisfaction"], metrics["exhibitor_satisfaction"]) == (5.0, 3.0)   # never mixed
