"""The lifecycle machinery over GraphQL: the same services and rules as REST, thinly translated."""
from __future__ import annotations

from datetime import timedelta

from core.db import utcnow
from tests.api.rest.test_customers import create


def gql(api, who, query, **variables):
    body = api.as_(who).graphql(query, variables)
    return body


def ok(body):
    assert body.get("errors") is None, body["errors"]
    return body["data"]


def test_stage_moves_approvals_and_history(api, people):
    customer = create(api)
    moved = ok(gql(api, "rep", 'mutation($id: ID!) { changeStage(customerId: $id, to: INTENT, reason: "quote") '
                              '{ stage version } }', id=customer["id"]))
    assert moved["changeStage"] == {"stage": "INTENT", "version": 2}
    refused = gql(api, "rep", 'mutation($id: ID!) { changeStage(customerId: $id, to: REPEAT) { stage } }',
                  id=customer["id"])
    assert refused["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "Allowed: potential, first_purchase, lost" in refused["errors"][0]["extensions"]["fields"]["to"][0]
    forbidden = gql(api, "rep", 'mutation($id: ID!) { changeStage(customerId: $id, to: LOST) { stage } }',
                    id=customer["id"])
    assert forbidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    asked = ok(gql(api, "rep", 'mutation($id: ID!) { requestStageChange(customerId: $id, to: LOST, reason: "gone") '
                               '{ id status } }', id=customer["id"]))["requestStageChange"]
    pending = ok(gql(api, "manager", "{ approvals { totalCount edges { node { id reason } } } }"))["approvals"]
    assert pending["totalCount"] == 1 and pending["edges"][0]["node"]["reason"] == "gone"
    ok(gql(api, "manager", 'mutation($id: ID!) { decideApproval(id: $id, approve: true) { status } }', id=asked["id"]))
    # the filter: left out, pending only; a status; null, every status
    counts = ok(gql(api, "manager", "{ pending: approvals { totalCount } approved: approvals(filter: {status: APPROVED}) "
                                    "{ totalCount } every: approvals(filter: {status: null}) { totalCount } }"))
    assert {k: v["totalCount"] for k, v in counts.items()} == {"pending": 0, "approved": 1, "every": 1}
    history = ok(gql(api, "rep", 'query($id: ID!) { customer(id: $id) { stage stageHistory(last: 1) { totalCount '
                                 'edges { node { fromState toState trigger reason actor { email } approvedBy { email } '
                                 '} } } } }', id=customer["id"]))
    assert history["customer"]["stage"] == "LOST"
    assert history["customer"]["stageHistory"]["totalCount"] >= 2
    assert history["customer"]["stageHistory"]["edges"][-1]["node"] == {
        "fromState": "intent", "toState": "lost", "trigger": "MANUAL", "reason": "gone",
        "actor": {"email": "rep@example.com"}, "approvedBy": {"email": "manager@example.com"}}


def test_tasks_escalation_and_notifications(api):
    customer = create(api)
    due = (utcnow() + timedelta(days=1)).isoformat()
    task = ok(gql(api, "rep", 'mutation($c: ID!, $due: DateTime!) { createInteraction(input: {customerId: $c, '
                              'kind: VISIT, subject: "visit", dueAt: $due, reminderAt: $due}) { id status } }',
                  c=customer["id"], due=due))["createInteraction"]
    assert task["status"] == "PLANNED"
    assert gql(api, "rep2", 'mutation($id: ID!) { escalateTask(id: $id) { id } }',
               id=task["id"])["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    escalated = ok(gql(api, "manager", 'mutation($id: ID!) { escalateTask(id: $id, note: "hurry") '
                                       '{ escalationCount } }', id=task["id"]))
    assert escalated["escalateTask"]["escalationCount"] == 1
    notes = ok(gql(api, "rep", "{ notifications(filter: {unread: true}) { totalCount edges { node { id kind body } } } }"))
    [edge] = notes["notifications"]["edges"]
    assert edge["node"]["kind"] == "TASK_ESCALATED" and edge["node"]["body"] == "hurry"
    ok(gql(api, "rep", 'mutation($id: ID!) { markNotificationRead(id: $id) { readAt } }', id=edge["node"]["id"]))
    assert ok(gql(api, "rep", "{ notifications(filter: {unread: true}) { totalCount } }"))["notifications"]["totalCount"] == 0
    done = ok(gql(api, "rep", 'mutation($id: ID!) { completeTask(id: $id, input: {outcome: "met"}) '
                              '{ status outcome completedAt } }', id=task["id"]))["completeTask"]
    assert done["status"] == "DONE" and done["outcome"] == "met" and done["completedAt"]


def test_handover_and_allocation(api, people):
    customer = create(api)
    moved = ok(gql(api, "manager", 'mutation($c: ID!, $to: ID!) { handoverCustomers(input: {customerIds: [$c], '
                                   'toUserId: $to, reason: "left"}) { id owner { email } ownerHistory { edges { node { reason } } } } }',
                   c=customer["id"], to=str(people.rep2.id)))["handoverCustomers"]
    assert moved == [{"id": customer["id"], "owner": {"email": "rep2@example.com"},
                      "ownerHistory": {"edges": [{"node": {"reason": "left"}}]}}]
    api.as_("manager").post("/api/v1/customers", json={"name": "Unowned", "owner_id": None})
    plan = ok(gql(api, "manager", 'mutation { allocateCustomers(input: {}) { rule customer { name } rep { email } } }'))
    assert plan["allocateCustomers"][0]["customer"]["name"] == "Unowned"
    bad = gql(api, "manager", 'mutation { handoverCustomers(input: {toUserId: "x", reason: "r"}) { id } }')
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_workflows_and_levels(api):
    flows = ok(gql(api, "rep", "{ workflows { name states { name label { zhCn } expectedDays } transitions { source target needsApproval } } }"))
    lifecycle = next(w for w in flows["workflows"] if w["name"] == "customer.lifecycle")
    assert lifecycle["states"][0] == {"name": "potential", "label": {"zhCn": "潜在客户"}, "expectedDays": 15.0}
    customer = create(api)
    set_ = ok(gql(api, "manager", 'mutation($id: ID!) { setCustomerLevel(customerId: $id, level: A, reason: "key") '
                                  '{ level levelPinned levelHistory { edges { node { toState reason } } } } }', id=customer["id"]))
    assert set_["setCustomerLevel"]["level"] == "A" and set_["setCustomerLevel"]["levelPinned"] is True


def test_webhooks_are_admin_only_and_return_the_secret_once(api):
    created = ok(gql(api, "admin", 'mutation { createWebhook(input: {url: "https://example.com/hook", '
                                   'events: ["customer.*"]}) { secret subscription { id events active } } }'))
    assert len(created["createWebhook"]["secret"]) > 20
    assert created["createWebhook"]["subscription"]["events"] == ["customer.*"]
    listed = ok(gql(api, "admin", "{ webhooks { totalCount edges { node { url deliveries { totalCount } } } } }"))
    assert listed["webhooks"]["totalCount"] == 1
    denied = gql(api, "rep", "{ webhooks { totalCount } }")
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    bad = gql(api, "admin", 'mutation { createWebhook(input: {url: "ftp://x", events: ["*"]}) { secret } }')
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT" and "url" in bad["errors"][0]["extensions"]["fields"]
