"""Visitor registration with badge codes, bulk import, and gate scans (single and idempotent bulk)."""
from __future__ import annotations

from tests.plugins.exhibitions.conftest import BASE, ok, register


def scans_url(show, edition=None):
    return f"{BASE}/editions/{(edition or show.first)['id']}/scans"


def test_registration_creates_the_visitor_with_a_unique_badge_and_a_timeline_entry(show):
    reg = register(show, show.first, "Wang Wei", company_name="Pudong Trading")
    assert reg["badge_code"] and reg["visitor_name"] == "Wang Wei" and reg["status"] == "registered"
    visitor = ok(show.api.get(f"/api/v1/customers/{reg['visitor_id']}"))
    assert visitor["kind"] == "person" and visitor["source"] == "exhibition"
    timeline = ok(show.api.get(f"/api/v1/customers/{reg['visitor_id']}/timeline"))
    assert [(t["kind"], t["source"]) for t in timeline] == [("exhibitions_registration", "exhibitions")]


def test_same_visitor_twice_and_reused_badge_are_409(show):
    reg = register(show, show.first, "Li Na", badge_code="CMF-0001")
    again = show.api.post(f"{BASE}/registrations", json={"edition_id": show.first["id"], "visitor_id": reg["visitor_id"]})
    assert again.status_code == 409
    clash = show.api.post(f"{BASE}/registrations", json={"edition_id": show.first["id"], "name": "Other",
                                                         "badge_code": "CMF-0001"})
    assert clash.status_code == 409 and "badge_code" in clash.get_json()["errors"]["json"]
    # the same person registers for the next edition with a new badge
    nxt = ok(show.api.post(f"{BASE}/registrations", json={"edition_id": show.second["id"],
                                                          "visitor_id": reg["visitor_id"]}), 201)
    assert nxt["badge_code"] != "CMF-0001"


def test_bad_registration_is_422_naming_the_field(show):
    bad = show.api.post(f"{BASE}/registrations", json={"edition_id": show.first["id"], "name": "X",
                                                       "category": "alien", "interests": ["spaceships"]})
    fields = bad.get_json()["errors"]["json"]
    assert bad.status_code == 422 and "category" in fields and "interests.0" in fields
    missing = show.api.post(f"{BASE}/registrations", json={"edition_id": show.first["id"]})
    assert missing.status_code == 422 and "visitor_id" in missing.get_json()["errors"]["json"]


def test_only_staff_register_visitors_and_exhibitors_cannot_read_registrations(show):
    reg = register(show, show.first, "Zhao Lei")
    assert show.as_("alpha").post(f"{BASE}/registrations", json={"edition_id": show.first["id"],
                                                                 "name": "Sneaky"}).status_code == 403
    assert ok(show.as_("alpha").get(f"{BASE}/registrations")) == []
    assert show.as_("alpha").get(f"{BASE}/registrations/{reg['id']}").status_code == 404
    assert show.as_("alpha").get(f"/api/v1/customers/{reg['visitor_id']}").status_code == 404


def test_a_deleted_registration_is_restored_with_its_badge(show):
    reg = register(show, show.first, "Back Again")
    url = f"{BASE}/registrations/{reg['id']}"
    assert show.api.delete(url).status_code == 204
    assert show.api.get(url).status_code == 404
    restored = show.api.post(f"{url}/restore")
    assert restored.status_code == 200 and restored.get_json()["badge_code"] == reg["badge_code"]
    assert [r["id"] for r in ok(show.api.get(f"{BASE}/registrations?edition_id={show.first['id']}"))] == [reg["id"]]

def test_import_rejects_everything_when_one_row_is_bad(show):
    response = show.api.post(f"{BASE}/editions/{show.first['id']}/registrations/import", json={"registrations": [
        {"name": "Good One", "category": "buyer"}, {"name": "Bad One", "category": "martian"}]})
    assert response.status_code == 422
    assert list(response.get_json()["errors"]["json"]) == ["registrations.1.category"]
    assert ok(show.api.get(f"{BASE}/registrations?edition_id={show.first['id']}")) == []


def test_import_is_safe_to_send_again(show):
    first = ok(show.api.post(f"{BASE}/editions/{show.first['id']}/registrations/import", json={"registrations": [
        {"name": f"Visitor {i}", "category": "buyer", "interests": ["machinery"]} for i in range(5)]}))
    assert first["created"] == 5 and len({r["badge_code"] for r in first["registrations"]}) == 5
    again = ok(show.api.post(f"{BASE}/editions/{show.first['id']}/registrations/import", json={"registrations": [
        {"visitor_id": str(r["visitor_id"])} for r in first["registrations"]]}))
    assert again["created"] == 0 and again["existing"] == 5
    assert {r["badge_code"] for r in again["registrations"]} == {r["badge_code"] for r in first["registrations"]}
    listed = show.api.get(f"{BASE}/registrations?edition_id={show.first['id']}")
    assert len(listed.get_json()) == 5 and '"total": 5' in listed.headers["X-Pagination"]


def test_an_import_and_a_scan_upload_past_the_900_row_chunks_are_safe_to_send_again(show):
    n = 950  # the import reads back in chunks of 900 (SQLite's bound-parameter limit)
    url = f"{BASE}/editions/{show.first['id']}/registrations/import"
    first = ok(show.api.post(url, json={"registrations": [
        {"name": f"Visitor {i}", "category": "buyer", "badge_code": f"BULK-{i:04d}"} for i in range(n)]}))
    assert first["created"] == n
    again = ok(show.api.post(url, json={"registrations": [
        {"visitor_id": str(r["visitor_id"])} for r in first["registrations"]]}))
    assert (again["created"], again["existing"]) == (0, n)
    assert [r["badge_code"] for r in again["registrations"]] == [f"BULK-{i:04d}" for i in range(n)]
    scans = {"scans": [{"badge_code": f"BULK-{i:04d}", "scanned_at": "2025-05-10T01:00:00Z"} for i in range(n)]}
    uploaded = ok(show.api.post(scans_url(show), json=scans))  # the badges are looked up 900 at a time too
    assert (uploaded["accepted"], uploaded["rejected"]) == (n, [])
    assert ok(show.api.post(scans_url(show), json=scans))["duplicates"] == n

def test_bulk_scan_upload_is_idempotent(show):
    a, b = register(show, show.first, "Alpha Buyer"), register(show, show.first, "Beta Buyer")
    batch = {"scans": [
        {"badge_code": a["badge_code"], "scanned_at": "2025-05-10T01:00:00Z", "gate": "N1"},
        {"badge_code": a["badge_code"], "scanned_at": "2025-05-10T06:00:00Z", "gate": "N1", "direction": "exit"},
        {"badge_code": b["badge_code"], "scanned_at": "2025-05-11T02:00:00Z", "gate": "S1"},
        {"badge_code": b["badge_code"], "scanned_at": "2025-05-11T02:00:00Z", "gate": "S1"},  # scanner double-read
    ]}
    first = ok(show.api.post(scans_url(show), json=batch))
    assert (first["received"], first["accepted"], first["duplicates"], first["rejected"]) == (4, 3, 1, [])
    again = ok(show.api.post(scans_url(show), json=batch))
    assert (again["accepted"], again["duplicates"]) == (0, 4)
    stored = show.api.get(f"{BASE}/editions/{show.first['id']}/checkins")
    assert '"total": 3' in stored.headers["X-Pagination"]
    # the same instant written with another offset is the same scan
    shifted = ok(show.api.post(scans_url(show), json={"scans": [
        {"badge_code": a["badge_code"], "scanned_at": "2025-05-10T09:00:00+08:00", "gate": "N1"}]}))
    assert (shifted["accepted"], shifted["duplicates"]) == (0, 1)


def test_unknown_cancelled_and_out_of_show_scans_are_rejected_with_the_reason(show):
    good = register(show, show.first, "Good Badge")
    gone = register(show, show.first, "Cancelled Badge")
    ok(show.api.post(f"{BASE}/registrations/{gone['id']}/cancel"))
    other = register(show, show.second, "Next Year")
    result = ok(show.api.post(scans_url(show), json={"scans": [
        {"badge_code": "NOPE-1234", "scanned_at": "2025-05-10T01:00:00Z"},
        {"badge_code": gone["badge_code"], "scanned_at": "2025-05-10T01:00:00Z"},
        {"badge_code": good["badge_code"], "scanned_at": "2025-06-01T01:00:00Z"},
        {"badge_code": other["badge_code"], "scanned_at": "2025-05-10T01:00:00Z"},
        {"badge_code": good["badge_code"], "scanned_at": "yesterday"},
        {"badge_code": good["badge_code"], "scanned_at": "2025-05-10T01:00:00Z"},
    ]}))
    assert result["accepted"] == 1
    reasons = {r["index"]: (r["field"], r["message"]) for r in result["rejected"]}
    assert reasons[0] == ("badge_code", "Unknown badge code for this edition.")
    assert reasons[1] == ("badge_code", "This badge's registration is cancelled.")
    assert reasons[2][0] == "scanned_at" and "Outside the show days" in reasons[2][1]
    assert reasons[3][1] == "Unknown badge code for this edition."  # another edition's badge
    assert reasons[4][0] == "scanned_at"


def test_single_scan_answers_201_then_200_and_422_for_a_bad_badge(show):
    reg = register(show, show.first, "Gate Person")
    url = f"{BASE}/editions/{show.first['id']}/scan"
    body = {"badge_code": reg["badge_code"], "scanned_at": "2025-05-12T03:00:00Z", "gate": "E1"}
    created = show.api.post(url, json=body)
    assert created.status_code == 201 and created.get_json()["day"] == "2025-05-12"
    again = show.api.post(url, json=body)
    assert again.status_code == 200 and again.get_json()["id"] == created.get_json()["id"]
    bad = show.api.post(url, json={**body, "badge_code": "UNKNOWN-1"})
    assert bad.status_code == 422 and bad.get_json()["errors"]["json"]["badge_code"] == [
        "Unknown badge code for this edition."]


def test_show_day_is_the_local_date_at_the_venue(show):
    reg = register(show, show.first, "Early Bird")
    # 23:30 UTC on the 9th is 07:30 on the 10th in Shanghai: the first show day
    checkin = ok(show.api.post(f"{BASE}/editions/{show.first['id']}/scan", json={
        "badge_code": reg["badge_code"], "scanned_at": "2025-05-09T23:30:00Z"}), 201)
    assert checkin["day"] == "2025-05-10"


def test_first_entry_of_each_day_goes_on_the_timeline(show):
    reg = register(show, show.first, "Daily Visitor")
    ok(show.api.post(scans_url(show), json={"scans": [
        {"badge_code": reg["badge_code"], "scanned_at": "2025-05-10T01:00:00Z", "gate": "N1"},
        {"badge_code": reg["badge_code"], "scanned_at": "2025-05-10T05:00:00Z", "gate": "N2"},
        {"badge_code": reg["badge_code"], "scanned_at": "2025-05-10T06:00:00Z", "direction": "exit"}]}))
    ok(show.api.post(scans_url(show), json={"scans": [
        {"badge_code": reg["badge_code"], "scanned_at": "2025-05-11T01:00:00Z", "gate": "N1"}]}))
    timeline = ok(show.api.get(f"/api/v1/customers/{reg['visitor_id']}/timeline"))
    assert sorted(t["subject"] for t in timeline if t["kind"] == "exhibitions_check_in") == [
        "Entered CMF 2025 on 2025-05-10 at gate N1", "Entered CMF 2025 on 2025-05-11 at gate N1"]


def test_only_staff_upload_scans(show):
    reg = register(show, show.first, "Someone")
    body = {"scans": [{"badge_code": reg["badge_code"], "scanned_at": "2025-05-10T01:00:00Z"}]}
    assert show.as_("alpha").post(scans_url(show), json=body).status_code == 403
    assert show.as_("rep").post(scans_url(show), json=body).status_code == 403
    assert show.api.post(scans_url(show), json={"scans": "nope"}).status_code == 422
