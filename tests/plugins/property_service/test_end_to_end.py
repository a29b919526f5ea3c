"""The issue's "done when": a request posted over Open311 is dispatched, escalated when overdue,
resolved, rated, and shows in the metrics and on the owner's timeline — over REST and GraphQL."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from core.jobs import run_all
from tests.plugins.property_service.test_open311 import BASE, GeoReportClient


def test_open311_to_rating_and_metrics(ps, client):
    key = ps.as_("admin").post("/api/v1/property-service/api-keys", json={"user_id": str(ps.centre.id)}).get_json()["key"]
    open311 = GeoReportClient(client, BASE, key)
    status, body = open311.post_request(service_code="repair", address_id=str(ps.unit.id),
                                        **{"attribute[location_type]": "unit"}, email="wang.fang@example.org",
                                        first_name="Fang", last_name="Wang", description="Water heater broken")
    assert status == 201, body
    rid = body[0]["service_request_id"]

    ps.act(rid, "dispatch", team_id=str(ps.engineering.id), assignee_id=str(ps.eng.id))
    results = dict(run_all(ps.runtime, datetime.now(timezone.utc) + timedelta(days=8)))
    assert results["property_service.sla"] == 2  # as measured: what the job reports for this one late request
    escalated = ps.as_("eng_manager").get("/api/v1/notifications").get_json()
    assert [n["kind"] for n in escalated if n["record_id"] == rid] == ["property_service.escalated"]

    ps.act(rid, "resolve", who="eng", resolution="Replaced the heating element.")
    rated = ps.as_("centre").graphql('mutation($id: ID!) { ratePropertyServiceRequest(id: $id, rating: 4) { status rating } }',
                                     {"id": rid})
    assert rated["data"]["ratePropertyServiceRequest"] == {"status": "CLOSED", "rating": 4}
    _, [public] = open311.request(rid)
    assert public["status"] == "closed" and public["status_notes"] == "Replaced the heating element."

    request = ps.as_("centre").get(f"/api/v1/property-service/requests/{rid}").get_json()
    assert (request["sla_state"], request["escalation_level"]) == ("breached", 2)  # 8 days late: the team manager (1), then the centre (2)
    timeline = ps.as_("centre").get(f"/api/v1/customers/{request['requester_id']}/timeline").get_json()
    assert {e["kind"] for e in timeline} == {"property_service_request", "property_service_feedback"}
    body = ps.as_("centre").graphql('query($id: ID!) { customer(id: $id) { serviceRequests { edges { node { id rating } } } } }',
                                    {"id": request["requester_id"]})
    assert body["data"]["customer"]["serviceRequests"]["edges"] == [{"node": {"id": rid, "rating": 4}}]

    satisfaction = ps.as_("centre").get("/api/v1/metrics/property_service_satisfaction").get_json()["rows"]
    assert satisfaction[0]["value"] == 4.0
    breach = ps.as_("centre").get("/api/v1/metrics/property_service_sla_breach_rate?group_by=channel").get_json()
    assert {"group": {"channel": "open311"}, "value": 1.0, "extra": {"n": 1, "hits": 1}} in breach["rows"]
    body = ps.as_("centre").graphql('{ metric(name: "property_service_requests", groupBy: "kind") { rows { value } } }')
    assert body.get("errors") is None, body
    assert body["data"]["metric"]["rows"][0]["value"] == 1
