"""Issue #19 item 4: a returning visitor is recognised by e-mail or phone (normalised), within an edition
(the same registration, no second badge) and across editions (the same customer, a new registration);
an import refuses a badge code in use as a single registration does."""
from __future__ import annotations

from tests.plugins.exhibitions.conftest import BASE, ok


def import_(show, edition, *rows):
    return ok(show.api.post(f"{BASE}/editions/{edition['id']}/registrations/import",
                            json={"registrations": list(rows)}))


def customers_named(show, name):
    return [c for c in ok(show.api.get(f"/api/v1/customers?q={name.replace(' ', '+')}&page_size=50"))
            if c["name"] == name]


def test_reimporting_the_same_visitor_reuses_the_registration_and_badge(show):
    first = import_(show, show.first, {"name": "Wang General", "email": "wang@x.test"})
    again = import_(show, show.first, {"name": "Wang General", "email": "  Wang@X.test "})
    assert (again["created"], again["existing"]) == (0, 1)
    [a], [b] = first["registrations"], again["registrations"]
    assert (b["registration_id"], b["visitor_id"], b["badge_code"], b["created"]) == (
        a["registration_id"], a["visitor_id"], a["badge_code"], False)
    assert len(ok(show.api.get(f"{BASE}/registrations?edition_id={show.first['id']}"))) == 1
    assert len(customers_named(show, "Wang General")) == 1


def test_the_same_email_at_the_next_edition_is_the_same_customer_with_a_new_registration(show):
    [a] = import_(show, show.first, {"name": "Wang General", "email": "wang@x.test"})["registrations"]
    nxt = import_(show, show.second, {"name": "Wang General", "email": "WANG@x.test"})
    [b] = nxt["registrations"]
    assert nxt["created"] == 1 and b["created"] is True
    assert b["visitor_id"] == a["visitor_id"] and b["registration_id"] != a["registration_id"]
    assert b["badge_code"] != a["badge_code"]
    assert len(customers_named(show, "Wang General")) == 1


def test_a_phone_number_matches_whatever_way_the_country_code_is_written(show):
    [a] = import_(show, show.first, {"name": "Li Lei", "phone": "+86 138-0013-8000"})["registrations"]
    nxt = import_(show, show.second, {"name": "Li Lei", "phone": "13800138000"},
                  {"name": "Lei Li", "phone": "0086 138 0013 8000"})
    assert [r["visitor_id"] for r in nxt["registrations"]] == [a["visitor_id"], a["visitor_id"]]
    assert (nxt["created"], nxt["existing"]) == (1, 1)   # the second row is the same person again


def test_colleagues_sharing_a_switchboard_number_stay_different_people(show):
    rows = import_(show, show.first, {"name": "Zhang San", "email": "zhang@pudong.test", "phone": "021 5555 0000"},
                   {"name": "Li Si", "email": "li@pudong.test", "phone": "+86 21 5555 0000"})
    assert rows["created"] == 2 and len({r["visitor_id"] for r in rows["registrations"]}) == 2


def test_a_single_registration_finds_the_returning_visitor(show):
    first = ok(show.api.post(f"{BASE}/registrations", json={"edition_id": show.first["id"], "name": "Wang General",
                                                            "email": "wang@x.test"}), 201)
    same = show.api.post(f"{BASE}/registrations", json={"edition_id": show.first["id"], "name": "Wang G.",
                                                        "email": "WANG@x.test"})
    assert same.status_code == 409 and "email" in same.get_json()["errors"]["json"]
    nxt = ok(show.api.post(f"{BASE}/registrations", json={"edition_id": show.second["id"], "name": "Wang General",
                                                          "email": "wang@x.test"}), 201)
    assert nxt["visitor_id"] == first["visitor_id"] and nxt["badge_code"] != first["badge_code"]


def test_an_imported_badge_code_already_in_use_is_409_as_for_a_single_registration(show):
    ok(show.api.post(f"{BASE}/registrations", json={"edition_id": show.first["id"], "name": "First Holder",
                                                    "badge_code": "CMF-0001"}), 201)
    response = show.api.post(f"{BASE}/editions/{show.first['id']}/registrations/import", json={"registrations": [
        {"name": "Own Badge", "category": "buyer", "badge_code": "CMF-0002"},
        {"name": "Second Holder", "category": "buyer", "badge_code": "CMF-0001"}]})
    assert response.status_code == 409
    assert response.get_json()["errors"]["json"] == {"registrations.1.badge_code": ["Already in use."]}
    assert [r["visitor_name"] for r in ok(show.api.get(f"{BASE}/registrations?edition_id={show.first['id']}"))] == [
        "First Holder"]
