"""One user, one API token, one webhook delivery, and an admin setting a password: on GraphQL as on
REST, in the caller's scope (out of scope reads as not found)."""
from __future__ import annotations

from core.services import users


def test_one_user_in_scope(api, people):
    query = "query($id: ID!) { user(id: $id) { id name email } }"
    mine = api.as_("rep").graphql(query, {"id": str(people.rep2.id)})
    assert mine["data"]["user"] == {"id": str(people.rep2.id), "name": people.rep2.name, "email": people.rep2.email}
    foreign = api.as_("rep").graphql(query, {"id": str(people.other_rep.id)})
    assert foreign["data"]["user"] is None and foreign["errors"][0]["extensions"]["code"] == "NOT_FOUND"


def test_one_api_token_yours_or_an_admins(api, people, runtime):
    with runtime.database.unit_of_work():
        row, _plain = users.create_token(people.rep, "laptop")
        token_id = str(row.id)
    query = "query($id: ID!) { apiToken(id: $id) { id name } }"
    assert api.as_("rep").graphql(query, {"id": token_id})["data"]["apiToken"] == {"id": token_id, "name": "laptop"}
    assert api.as_("admin").graphql(query, {"id": token_id})["data"]["apiToken"]["name"] == "laptop"
    other = api.as_("rep2").graphql(query, {"id": token_id})
    assert other["data"]["apiToken"] is None and other["errors"][0]["extensions"]["code"] == "NOT_FOUND"


def test_one_webhook_delivery_for_admins(api):
    sub = api.as_("admin").post("/api/v1/webhooks", json={"url": "https://erp.example/hook", "events": ["*"]})
    assert sub.status_code == 201, sub.get_json()
    ping = api.as_("admin").graphql("mutation($id: ID!) { pingWebhook(id: $id) { id } }", {"id": sub.get_json()["id"]})
    delivery_id = ping["data"]["pingWebhook"]["id"]
    query = "query($id: ID!) { webhookDelivery(id: $id) { id eventName status attempts } }"
    body = api.as_("admin").graphql(query, {"id": delivery_id})
    assert body["data"]["webhookDelivery"] == {"id": delivery_id, "eventName": "webhook.ping", "status": "PENDING",
                                               "attempts": 0}
    denied = api.as_("manager").graphql(query, {"id": delivery_id})
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_an_admin_sets_a_password_and_the_user_signs_in_with_it(api, people, client):
    mutation = "mutation($id: ID!, $p: String!) { setUserPassword(id: $id, password: $p) { id } }"
    short = api.as_("admin").graphql(mutation, {"id": str(people.rep.id), "p": "short"})
    assert short["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "password" in short["errors"][0]["extensions"]["fields"]
    denied = api.as_("manager").graphql(mutation, {"id": str(people.rep.id), "p": "long enough now"})
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    done = api.as_("admin").graphql(mutation, {"id": str(people.rep.id), "p": "a new secret 42"})
    assert done["data"]["setUserPassword"] == {"id": str(people.rep.id)}
    login = client.post("/auth/login", json={"email": people.rep.email, "password": "a new secret 42"})
    assert login.status_code == 200, login.get_json()
