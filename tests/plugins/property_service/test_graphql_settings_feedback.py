"""GraphQL counterparts of REST's settings and feedback-link operations (issue #13 item 7): the same
services, the same permissions, the version check and the field named in an error."""
from __future__ import annotations

BASE = "/api/v1/property-service"

SETTINGS = """{ propertySettings { timezone workdays hours { start end } holidays extraWorkdays atRiskShare
  feedbackTimeoutHours lowRatingThreshold version } }"""
UPDATE = """mutation($input: PropertySettingsUpdateInput!) { updatePropertySettings(input: $input) {
  workdays hours { start end } holidays version } }"""
LINK = "mutation($id: ID!) { createPropertyFeedbackLink(id: $id) { token path } }"


def resolved(ps):
    r = ps.new_request()
    ps.act(r["id"], "dispatch", team_id=str(ps.engineering.id), assignee_id=str(ps.eng.id))
    return ps.act(r["id"], "resolve", who="eng", resolution="Replaced the washer.")


def test_settings_are_read_by_everyone_and_changed_by_the_centre_with_the_version(ps):
    read = ps.as_("eng").graphql(SETTINGS)
    assert read.get("errors") is None, read
    rest = ps.as_("eng").get(f"{BASE}/settings").get_json()
    assert read["data"]["propertySettings"] == {
        "timezone": "Asia/Shanghai", "workdays": [0, 1, 2, 3, 4], "hours": [{"start": "09:00", "end": "18:00"}],
        "holidays": [], "extraWorkdays": [], "atRiskShare": rest["at_risk_share"],
        "feedbackTimeoutHours": rest["feedback_timeout_hours"], "lowRatingThreshold": rest["low_rating_threshold"],
        "version": None}

    refused = ps.as_("eng").graphql(UPDATE, {"input": {"version": None, "workdays": [0, 1, 2, 3, 4, 5]}})
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert ps.api.get(f"{BASE}/settings").get_json()["workdays"] == [0, 1, 2, 3, 4]

    changed = ps.as_("centre").graphql(UPDATE, {"input": {
        "version": None, "workdays": [5, 0, 1, 2, 3, 4],
        "hours": [{"start": "08:30", "end": "12:00"}, {"start": "13:00", "end": "17:30"}],
        "holidays": ["2026-05-01"]}})
    assert changed.get("errors") is None, changed
    body = changed["data"]["updatePropertySettings"]
    assert body["workdays"] == [0, 1, 2, 3, 4, 5] and body["holidays"] == ["2026-05-01"]
    assert body["hours"] == [{"start": "08:30", "end": "12:00"}, {"start": "13:00", "end": "17:30"}]
    rest = ps.api.get(f"{BASE}/settings").get_json()
    assert rest["hours"] == [["08:30", "12:00"], ["13:00", "17:30"]] and rest["version"] == body["version"]

    stale = ps.as_("centre").graphql(UPDATE, {"input": {"version": body["version"] + 5, "atRiskShare": 0.5}})
    assert stale["errors"][0]["extensions"]["code"] == "CONFLICT"
    again = ps.as_("centre").graphql(UPDATE, {"input": {"version": body["version"], "lowRatingThreshold": 9}})
    assert again["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "lowRatingThreshold" in again["errors"][0]["extensions"]["fields"]
    zone = ps.as_("centre").graphql(UPDATE, {"input": {"version": body["version"], "timezone": "Mars/Base"}})
    assert "timezone" in zone["errors"][0]["extensions"]["fields"]
    assert ps.api.get(f"{BASE}/settings").get_json()["version"] == body["version"]   # nothing changed


def test_the_centre_makes_a_feedback_link_the_owner_can_use(ps, client):
    open_request = ps.new_request()
    early = ps.as_("centre").graphql(LINK, {"id": open_request["id"]})
    assert early["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "status" in early["errors"][0]["extensions"]["fields"]

    r = resolved(ps)
    staff = ps.as_("eng").graphql(LINK, {"id": r["id"]})
    assert staff["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    missing = ps.as_("centre").graphql(LINK, {"id": "00000000-0000-4000-8000-000000000000"})
    assert missing["errors"][0]["extensions"]["code"] == "NOT_FOUND"

    made = ps.as_("centre").graphql(LINK, {"id": r["id"]})
    assert made.get("errors") is None, made
    link = made["data"]["createPropertyFeedbackLink"]
    assert link["path"] == f"{BASE}/feedback/{link['token']}"
    shown = client.get(link["path"])       # no sign-in: the token is the secret
    assert shown.status_code == 200 and shown.get_json()["resolution"] == "Replaced the washer."
    assert client.post(link["path"], json={"rating": 5}).get_json()["status"] == "closed"
