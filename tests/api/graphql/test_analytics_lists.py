"""The analytics and audit lists on GraphQL answer what REST answers, with the same permissions:
latest run, segments, win-back list and tasks, refresh, a customer's satisfaction, the audit trail."""
from __future__ import annotations

import re
from decimal import Decimal

from api.graphql.inputs import json_out
from tests.api.rest.test_customers import create
from tests.core.analytics.test_service import buy, refresh, survey

RUN = "{ analyticsRun { id trigger customers purchasers params } }"
WIN_BACK = "query($limit: Int!) { winBack(limit: $limit) { name status lostReason expectedValue churnFlags { flag } } }"
TASKS = """mutation($input: WinBackTasksInput) { createWinBackTasks(input: $input) {
  subject status assigneeId customerId } }"""


def _lost(api, name, amount, reason):
    customer = create(api, name=name)
    buy(api, customer, 200, amount)
    buy(api, customer, 100, amount)
    assert api.as_("manager").post(f"/api/v1/customers/{customer['id']}/stage",
                                   json={"to": "lost", "reason": reason}).status_code == 200
    return customer


def test_refresh_and_latest_run_match_rest(api):
    customer = create(api, name="Buyer")
    buy(api, customer, 10, "250.00")
    denied = api.as_("rep").graphql("mutation { refreshAnalytics { id } }")
    assert denied["data"] == {"refreshAnalytics": None} and denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    made = api.as_("admin").graphql("mutation { refreshAnalytics(wait: true) { id status trigger customers purchasers } }")
    assert made.get("errors") is None, made
    run = made["data"]["refreshAnalytics"]
    assert (run["trigger"], run["purchasers"]) == ("api", 1)
    latest = api.as_("admin").graphql(RUN)["data"]["analyticsRun"]
    rest = api.as_("admin").get("/api/v1/analytics/runs/latest").get_json()
    assert latest["id"] == rest["id"] == run["id"] and latest["params"] == json_out(rest["params"])
    assert run["status"] == rest["status"].upper() and run["status"] in ("OK", "PARTIAL")   # an enum
    # a rep reads the figures of their own scope, as over REST
    other = api.as_("other_rep").graphql(RUN)["data"]["analyticsRun"]
    assert (other["customers"], other["purchasers"]) == (0, 0)


def test_latest_run_before_any_refresh_is_not_found(api):
    body = api.as_("admin").graphql(RUN)
    assert body["data"] == {"analyticsRun": None}
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


def test_win_back_list_and_tasks_as_over_rest(api, people):
    _lost(api, "Gone", "3000.00", "moved to a competitor")
    _lost(api, "Small and lost", "10.00", "closed")
    create(api, name="Happy")
    refresh(api)
    listed = api.as_("rep").graphql(WIN_BACK, {"limit": 10})["data"]["winBack"]
    assert [(r["name"], r["status"], r["lostReason"]) for r in listed] == [
        ("Gone", "LOST", "moved to a competitor"), ("Small and lost", "LOST", "closed")]
    # money is a decimal string (the Money scalar), never a float
    assert all(re.fullmatch(r"\d+\.\d\d", r["expectedValue"]) for r in listed)
    assert Decimal(listed[0]["expectedValue"]) > Decimal(listed[1]["expectedValue"]) > 0
    assert api.as_("other_rep").graphql(WIN_BACK, {"limit": 10})["data"]["winBack"] == []
    bad = api.as_("rep").graphql(WIN_BACK, {"limit": 0})
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT" and "limit" in str(bad["errors"][0])

    [task] = api.as_("manager").graphql(TASKS, {"input": {"limit": 1}})["data"]["createWinBackTasks"]
    assert (task["subject"], task["assigneeId"]) == ("Win back: Gone", str(people.rep.id))
    again = api.as_("manager").graphql(TASKS, {"input": None})["data"]["createWinBackTasks"]
    assert [t["subject"] for t in again] == ["Win back: Small and lost"]
    assert api.as_("manager").graphql(TASKS)["data"]["createWinBackTasks"] == []


def test_segments_and_satisfaction(api):
    for i in range(12):
        customer = create(api, name=f"Customer {i:02d}")
        for days in range(1 + i % 3):
            buy(api, customer, 20 + 30 * days, f"{100 * (1 + i)}.00")
        survey(api, customer, "csat", 1 + i % 5)
        survey(api, customer, "nps", i % 11, days_ago=2)
    refresh(api)
    segments = api.as_("admin").graphql(
        "{ analyticsSegments { number name size sizeAll centroid { feature value } } }")["data"]["analyticsSegments"]
    rest = api.as_("admin").get("/api/v1/analytics/segments").get_json()
    assert [(s["number"], s["name"], s["size"]) for s in segments] == [(s["number"], s["name"], s["size"]) for s in rest]
    assert sum(s["size"] for s in segments) == 12
    assert {m["feature"] for m in segments[0]["centroid"]} == set(rest[0]["centroid"])
    node = api.as_("admin").graphql("query($id: ID!) { node(id: $id) { __typename ... on AnalyticsSegment { name size } } }",
                                    {"id": rest[0]["id"]})["data"]["node"]
    assert node == {"__typename": "AnalyticsSegment", "name": rest[0]["name"], "size": rest[0]["size"]}
    assert api.as_("other_rep").graphql("{ analyticsSegments { size sizeAll } }")["data"]["analyticsSegments"] == [
        {"size": 0, "sizeAll": None} for _ in rest]

    body = api.as_("rep").graphql("""{ customers(first: 1, filter: {q: "Customer 03"}) { edges { node {
      satisfaction { csatAnswers csatMean npsAnswers npsLast } } } } }""")
    assert body.get("errors") is None, body
    assert body["data"]["customers"]["edges"][0]["node"]["satisfaction"] == {
        "csatAnswers": 1, "csatMean": 4.0, "npsAnswers": 1, "npsLast": 3}


def test_audit_entries_for_admins_only(api):
    customer = create(api, name="Audited")
    api.as_("admin").patch(f"/api/v1/customers/{customer['id']}", json={"name": "Audited Co", "version": 1})
    query = """query($id: ID) { auditEntries(first: 5, filter: {recordType: "customer", recordId: $id}) {
      totalCount edges { node { action recordId changes actorId } } } }"""
    body = api.as_("admin").graphql(query, {"id": customer["id"]})
    assert body.get("errors") is None, body
    entries = body["data"]["auditEntries"]
    assert entries["totalCount"] == 2
    assert [e["node"]["action"] for e in entries["edges"]] == ["customer.updated", "customer.created"]
    assert entries["edges"][0]["node"]["changes"]["name"] == ["Audited", "Audited Co"]
    denied = api.as_("manager").graphql(query, {"id": customer["id"]})
    assert denied["data"] is None or denied["data"]["auditEntries"] is None
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
