"""Visitors register themselves (issue #19): ``POST /editions/{id}/register`` answers without a sign-in,
rate-limited per client address, only for an edition that is not over; 422 per field with nothing
written; someone already registered is a 409 that shows nothing of their registration; the badge code is
new, unguessable and unique."""
from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import func, select

from tests.plugins.exhibitions.conftest import BASE, ok, register


@pytest.fixture
def upcoming(show):
    return ok(show.api.post(f"{BASE}/editions", json={
        "exhibition_id": show.exhibition["id"], "name": "CMF 2027", "starts_on": "2027-05-10",
        "ends_on": "2027-05-12", "venue": "Shanghai NECC", "halls": ["1"]}), 201)


def visitor_body(**extra):
    return {"name": "Zhao Min", "email": "zhao.min@visitor.example", "phone": "+86 139 0000 1111",
            "company": "Min Tools", "job_title": "Buyer", "category": "buyer", "interests": ["machinery"], **extra}


def counts(runtime):
    from core import db
    from core.models import AuditEntry, Customer, OutboxEvent
    from plugins.exhibitions.models import VisitorRegistration

    with runtime.database.unit_of_work():
        s = db.session()
        return {"registrations": s.scalar(select(func.count()).select_from(VisitorRegistration)),
                "customers": s.scalar(select(func.count()).select_from(Customer)),
                "audit": s.scalar(select(func.count()).select_from(AuditEntry)),
                "events": s.scalar(select(func.count()).select_from(OutboxEvent))}


def test_a_visitor_registers_without_signing_in(show, upcoming, client, runtime):
    response = client.post(f"{BASE}/editions/{upcoming['id']}/register", json=visitor_body())
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert set(body) == {"badge_code", "status", "name", "email", "category", "registered_at", "edition"}
    assert body["name"] == "Zhao Min" and body["status"] == "registered" and body["category"] == "buyer"
    assert body["edition"] == {"id": upcoming["id"], "name": "CMF 2027", "starts_on": "2027-05-10",
                               "ends_on": "2027-05-12", "venue": "Shanghai NECC"}
    assert body["badge_code"].startswith("B") and len(body["badge_code"]) == 11
    # the organiser sees the registration, from the web, with a new person customer
    [reg] = ok(show.api.get(f"{BASE}/registrations?edition_id={upcoming['id']}"))
    assert (reg["badge_code"], reg["source"], reg["email"], reg["company_name"]) == (
        body["badge_code"], "web", "zhao.min@visitor.example", "Min Tools")
    visitor = ok(show.api.get(f"/api/v1/customers/{reg['visitor_id']}"))
    assert visitor["name"] == "Zhao Min" and visitor["kind"] == "person"
    # audited without an actor, the event emitted, the timeline entry written
    from core import db
    from core.models import AuditEntry, OutboxEvent

    with runtime.database.unit_of_work():
        entry = db.session().scalar(select(AuditEntry).where(AuditEntry.action == "exhibitions_registration.created"))
        assert entry.actor_id is None
        events = set(db.session().scalars(select(OutboxEvent.name)))
    assert {"exhibitions_registration.created", "customer.created", "interaction.created"} <= events
    timeline = ok(show.api.get(f"/api/v1/customers/{reg['visitor_id']}/timeline"))
    assert any(t["kind"] == "exhibitions_registration" for t in timeline)


@pytest.mark.parametrize("change, field", [
    ({"name": "   "}, "name"), ({"name": None}, "name"), ({"email": "not-an-address"}, "email"),
    ({"email": None}, "email"), ({"phone": "call me"}, "phone"), ({"company": "x" * 201}, "company"),
    ({"category": "vip"}, "category"), ({"interests": ["spaceships"]}, "interests.0"), ({"badge_code": "MINE1"}, "badge_code"),
])
def test_bad_input_is_422_naming_the_field_and_writes_nothing(show, upcoming, client, runtime, change, field):
    body = {k: v for k, v in {**visitor_body(), **change}.items() if v is not None}
    before = counts(runtime)
    response = client.post(f"{BASE}/editions/{upcoming['id']}/register", json=body)
    assert response.status_code == 422, response.get_json()
    assert list(response.get_json()["errors"]["json"]) == [field]
    assert counts(runtime) == before


def test_several_bad_fields_are_named_together(upcoming, client):
    response = client.post(f"{BASE}/editions/{upcoming['id']}/register", json={"email": "x", "phone": "?"})
    assert response.status_code == 422
    assert set(response.get_json()["errors"]["json"]) == {"name", "email", "phone"}


def test_an_edition_that_is_over_or_unknown_is_refused(show, client, runtime):
    before = counts(runtime)
    over = client.post(f"{BASE}/editions/{show.second['id']}/register", json=visitor_body())   # May 2026
    assert over.status_code == 409 and list(over.get_json()["errors"]["json"]) == ["edition_id"]
    unknown = client.post(f"{BASE}/editions/00000000-0000-4000-8000-000000000000/register", json=visitor_body())
    assert unknown.status_code == 404
    assert show.api.delete(f"{BASE}/editions/{show.first['id']}").status_code == 204
    assert client.post(f"{BASE}/editions/{show.first['id']}/register", json=visitor_body()).status_code == 404
    assert counts(runtime) == {**before, "audit": before["audit"] + 1, "events": before["events"] + 1}  # the delete


def test_registering_twice_is_a_409_that_shows_nothing(show, upcoming, client, runtime):
    first = client.post(f"{BASE}/editions/{upcoming['id']}/register", json=visitor_body()).get_json()
    before = counts(runtime)
    # the same address (any case, spaces), under another name: refused, no badge, nothing of the record
    again = client.post(f"{BASE}/editions/{upcoming['id']}/register",
                        json=visitor_body(name="Someone Else", email="  ZHAO.MIN@visitor.example "))
    assert again.status_code == 409
    text = str(again.get_json())
    assert list(again.get_json()["errors"]["json"]) == ["email"]
    assert first["badge_code"] not in text and "Zhao Min" not in text and "Min Tools" not in text
    # the same phone without an e-mail that contradicts it is the same person too
    by_phone = client.post(f"{BASE}/editions/{upcoming['id']}/register",
                           json=visitor_body(email="other@visitor.example", phone="13900001111"))
    assert by_phone.status_code == 201   # another address: another person (colleagues share switchboards)
    assert counts(runtime)["registrations"] == before["registrations"] + 1


def test_a_returning_visitor_keeps_their_record_and_sees_only_what_they_sent(show, upcoming, client):
    old = register(show, show.second, "Wang Fang", email="wang.fang@buyer.example", company_name="Secret Corp")
    response = client.post(f"{BASE}/editions/{upcoming['id']}/register",
                           json=visitor_body(name="W. Fang", email="wang.fang@buyer.example", company="Fang Ltd"))
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["name"] == "W. Fang" and "Wang Fang" not in str(body) and "Secret Corp" not in str(body)
    regs = ok(show.api.get(f"{BASE}/registrations?visitor_id={old['visitor_id']}"))
    assert sorted(r["edition_id"] for r in regs) == sorted([show.second["id"], upcoming["id"]])
    assert body["badge_code"] != old["badge_code"]


def test_the_rate_limit_refuses_an_address_after_n(show, upcoming, client, app, monkeypatch):
    settings = app.extensions["trellis"].settings
    monkeypatch.setattr(app.extensions["trellis"], "settings", replace(
        settings, plugin_values={**settings.plugin_values, "exhibitions_registration_rate_limit": "3 per minute"}))
    bad = client.post(f"{BASE}/editions/{upcoming['id']}/register", json={"name": "x"})   # counts too: no free guesses
    statuses = [client.post(f"{BASE}/editions/{upcoming['id']}/register",
                            json=visitor_body(email=f"v{i}@visitor.example", phone=f"+86 139 0000 000{i}")).status_code
                for i in range(3)]
    assert [bad.status_code, *statuses] == [422, 201, 201, 429]
    refused = client.post(f"{BASE}/editions/{upcoming['id']}/register", json=visitor_body(email="late@visitor.example"))
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert "Too many registrations" in refused.get_json()["message"]
    # another address still gets in
    other = client.post(f"{BASE}/editions/{upcoming['id']}/register", json=visitor_body(email="far@visitor.example"),
                        environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert other.status_code == 201
    # signed-in staff are no exception on this endpoint; their own endpoints are not limited by it
    assert show.api.get(f"{BASE}/registrations?edition_id={upcoming['id']}").status_code == 200


def test_the_default_limit_is_ten_a_minute(app):
    assert app.extensions["trellis"].settings.exhibitions_registration_rate_limit == "10 per minute"


def test_badge_codes_are_unique_and_unguessable(show, upcoming, client):
    codes = set()
    for i in range(8):
        response = client.post(f"{BASE}/editions/{upcoming['id']}/register",
                               json=visitor_body(email=f"u{i}@visitor.example", phone=f"+86 138 0000 00{i:02d}"))
        assert response.status_code == 201, response.get_json()
        codes.add(response.get_json()["badge_code"])
    assert len(codes) == 8
    stored = {r["badge_code"] for r in ok(show.api.get(f"{BASE}/registrations?edition_id={upcoming['id']}&page_size=50"))}
    assert stored == codes
    # 40 random bits each (secrets): no sequence to walk
    assert len({int(c[1:], 16) for c in codes}) == 8 and all(len(c) == 11 for c in codes)


def test_the_endpoint_is_public_through_the_hook_and_documented_without_security(app, show, client):
    assert "exhibitions_public.self_register" in app.config["TRELLIS_PUBLIC_ENDPOINTS"]
    spec = show.api.get("/api/v1/openapi.json").get_json()
    op = spec["paths"]["/api/v1/exhibitions/editions/{edition_id}/register"]["post"]
    assert op["security"] == []
    assert "201" in op["responses"]
    # the other exhibitions endpoints still need a sign-in
    assert client.get(f"{BASE}/registrations").status_code == 401
    assert client.post(f"{BASE}/registrations", json={}).status_code == 401


def test_an_unreachable_limit_store_falls_back_to_this_process(show, upcoming, client, app, monkeypatch):
    """With Redis down the limit still holds, counted in the worker's memory (as the sign-in limit does)."""
    limits = app.extensions["trellis_rate_limits"]

    class Down:
        def hit(self, *args, **kwargs):
            raise ConnectionError("redis is down")

        test = get_window_stats = hit

    monkeypatch.setattr(limits, "_shared", Down())
    settings = app.extensions["trellis"].settings
    monkeypatch.setattr(app.extensions["trellis"], "settings", replace(
        settings, plugin_values={**settings.plugin_values, "exhibitions_registration_rate_limit": "1 per minute"}))
    first = client.post(f"{BASE}/editions/{upcoming['id']}/register", json=visitor_body())
    second = client.post(f"{BASE}/editions/{upcoming['id']}/register", json=visitor_body(email="b@visitor.example"))
    assert (first.status_code, second.status_code) == (201, 429)


def test_the_limit_counts_in_the_shared_redis_store():
    """With ``TRELLIS_RATELIMIT_STORAGE_URI=redis://…`` every worker counts together: two apps (two
    workers) sharing one Redis refuse the address once their requests together pass the limit."""
    import uuid

    import redis
    from flask import Flask

    from api.auth import RATE_LIMITS, rate_limited
    from api.rate_limits import RateLimits

    try:
        redis.Redis.from_url("redis://127.0.0.1:6379", socket_connect_timeout=1).ping()
    except redis.exceptions.RedisError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    scope = f"test-{uuid.uuid4().hex}"   # its own keys: the Redis is shared with other runs
    workers = []
    for _ in range(2):
        app = Flask(__name__)
        app.extensions[RATE_LIMITS] = RateLimits("redis://127.0.0.1:6379")
        app.add_url_rule("/r", "r", lambda: rate_limited(scope, "3 per minute") or ("ok", 200), methods=["POST"])
        workers.append(app.test_client())
    statuses = [workers[i % 2].post("/r").status_code for i in range(4)]
    assert statuses == [200, 200, 200, 429]
