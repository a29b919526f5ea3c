"""Webhooks may not reach loopback, private, link-local or other non-public addresses (server-side
request forgery) unless TRELLIS_WEBHOOK_ALLOW_PRIVATE_TARGETS is on: refused with 422 on ``url`` when a
subscription is created or changed, and refused when a delivery's host resolves to one (DNS rebinding)."""
from __future__ import annotations

import socket

import pytest

from api.app import create_app
from core.services import webhooks
from tests.api.rest.test_customers import create as create_customer
from api.testing import app_config
from tests.core.test_webhooks import Receiver, deliveries, receiver, subscribe, tick  # noqa: F401 - fixture

PRIVATE_URLS = [
    "http://127.0.0.1:8080/hooks", "http://localhost/hooks", "http://api.localhost/hooks",
    "http://10.1.2.3/hooks", "http://192.168.0.10/hooks", "http://172.16.5.4/hooks",
    "http://169.254.169.254/latest/meta-data/", "http://[::1]/hooks", "http://[fe80::1]/hooks",
    "http://[::ffff:127.0.0.1]/hooks", "http://0.0.0.0/hooks", "http://2130706433/hooks", "http://127.1/hooks",
    "http://100.64.0.1/hooks",
]


@pytest.mark.parametrize("url", PRIVATE_URLS)
def test_a_subscription_to_a_non_public_address_is_refused_naming_url(api, url):
    response = api.as_("admin").post("/api/v1/webhooks", json={"url": url, "events": ["*"]})
    assert response.status_code == 422, response.get_json()
    assert "non-public" in response.get_json()["errors"]["json"]["url"][0]


def test_an_ipv4_mapped_address_is_judged_as_its_ipv4_and_a_zone_is_ignored():
    """A resolver may answer ``::ffff:a.b.c.d`` for an IPv4 host, or a link-local address with its zone
    (``fe80::1%eth0``): judged as the IPv4 address, and as the address without its zone."""
    assert webhooks.is_public("::ffff:8.8.8.8") and webhooks.is_public("8.8.8.8")
    assert not webhooks.is_public("::ffff:224.0.0.1")  # multicast, though Python calls it global
    assert not webhooks.is_public("::ffff:127.0.0.1")
    assert not webhooks.is_public("fe80::1%eth0") and webhooks.is_public("2606:4700::1111%eth0")


def test_changing_a_subscription_to_a_private_address_is_refused_and_changes_nothing(api):
    sub = subscribe(api, "https://hooks.example.com/trellis")
    response = api.as_("admin").patch(f"/api/v1/webhooks/{sub['id']}",
                                      json={"version": sub["version"], "url": "http://169.254.169.254/", "events": ["*"]})
    assert response.status_code == 422 and "url" in response.get_json()["errors"]["json"]
    assert api.as_("admin").get(f"/api/v1/webhooks/{sub['id']}").get_json()["url"] == "https://hooks.example.com/trellis"


def test_graphql_refuses_a_private_target_too(api):
    body = api.as_("admin").graphql('mutation { createWebhook(input: {url: "http://10.0.0.1/x", events: ["*"]}) { subscription { id } } }')
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert "non-public" in error["extensions"]["fields"]["url"][0]


def _resolving(monkeypatch, name: str, address: str):
    real = socket.getaddrinfo

    def fake(host, port, *args, **kwargs):
        if host == name:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)


def test_a_name_that_resolves_to_a_private_address_is_not_delivered_to(api, runtime, receiver, monkeypatch):
    # public-looking when subscribed; resolves to loopback when the delivery is sent
    port = receiver.server.server_address[1]
    sub = subscribe(api, f"http://hooks.example.com:{port}/hooks", ["customer.created"])
    _resolving(monkeypatch, "hooks.example.com", "127.0.0.1")
    create_customer(api)
    assert tick(runtime) == 1
    assert receiver.requests == []
    [delivery] = deliveries(api, sub)
    assert delivery["status"] == "pending" and delivery["last_status_code"] is None
    assert "127.0.0.1" in delivery["last_error"] and "non-public" in delivery["last_error"]


def test_the_admin_setting_allows_private_targets(engine, database_url, connection, receiver, monkeypatch):
    from api.testing import Api, bound, make_people
    from core.services import users

    app = create_app(app_config(database_url, WEBHOOK_ALLOW_PRIVATE_TARGETS=True))
    with bound(app, connection) as runtime:
        people = make_people(runtime)
        with runtime.database.unit_of_work():
            token = users.create_token(people.admin)[1]
        api = Api(app.test_client(), {"admin": token, "rep": token}).as_("admin")
        port = receiver.server.server_address[1]
        subscribe(api, receiver.url)
        subscribe(api, f"http://hooks.example.com:{port}/hooks")
        _resolving(monkeypatch, "hooks.example.com", "127.0.0.1")
        create_customer(api)
        assert tick(runtime) == 2 and len(receiver.requests) == 2
    app.extensions["trellis"].database.dispose()


def test_a_long_delivery_error_is_stored_cut_to_500_characters(api, runtime, monkeypatch):
    monkeypatch.setattr(webhooks, "post", lambda outgoing, **_: webhooks.Outcome(None, "x" * 5000))
    sub = subscribe(api, "https://hooks.example.com/trellis", ["customer.created"])
    create_customer(api)
    assert tick(runtime) == 1
    [delivery] = deliveries(api, sub)
    assert len(delivery["last_error"]) == 500


@pytest.mark.parametrize("address, public", [("93.184.216.34", True), ("2606:4700::1111", True),
                                             ("127.0.0.1", False), ("::ffff:10.0.0.1", False),
                                             ("224.0.0.1", False), ("fd00::1", False)])
def test_public_addresses(address, public):
    assert webhooks.is_public(address) is public
