"""Webhook delivery in parallel (#18): a receiver that never answers delays only its own deliveries;
each subscription is sent one delivery at a time, one record's events in order; a circuit breaker
backs off a receiver that keeps failing, and its state is shown over REST and GraphQL; the timeout,
the concurrency and the breaker are settings, refused with one line when malformed."""
from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from api.app import create_app
from api.testing import app_config, scratch_database
from core.config import load_settings
from core.db import utcnow
from core.errors import ConfigError
from core.models import User, WebhookDelivery
from core.services import webhooks
from tests.api.rest.test_customers import create as create_customer
from tests.core.test_webhooks import Receiver, deliveries, subscribe


@pytest.fixture(scope="module")
def app(engine, database_url):
    """Receivers listen on 127.0.0.1, a target only this setting allows."""
    app = create_app(app_config(database_url, WEBHOOK_ALLOW_PRIVATE_TARGETS=True))
    app.config["TESTING"] = True
    yield app
    app.extensions["trellis"].database.dispose()


@pytest.fixture
def receiver():
    server = Receiver()
    try:
        yield server
    finally:
        server.stop()


def configure(monkeypatch, runtime, **settings):
    monkeypatch.setattr(runtime, "settings", replace(runtime.settings, **settings))


def send(runtime, now):
    return webhooks.deliver_due(now, runtime=runtime)


def read(api, sub):
    response = api.as_("admin").get(f"/api/v1/webhooks/{sub['id']}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def names(receiver):
    """What each request was about: (event, customer name) — the name as the event's change set it."""
    out = []
    for request in receiver.requests:
        body = json.loads(request.body)
        out.append((body["event"], body["payload"]["changes"].get("name", [None, None])[1]))
    return out


# --- one receiver that never answers -------------------------------------------------------------------

@pytest.fixture
def own_runtime(tmp_path):
    """A function that builds an app with ``settings`` on a database of its own (real connections:
    worker threads and writers run at once) and returns its runtime."""
    from core.migrate import upgrade

    with contextlib.ExitStack() as stack:
        def build(**settings):
            url = stack.enter_context(scratch_database(tmp_path / "webhooks.db", name="trellis_wh"))
            app = create_app(app_config(url, PLUGINS="none", WEBHOOK_ALLOW_PRIVATE_TARGETS=True, **settings))
            runtime = app.extensions["trellis"]
            stack.callback(runtime.database.dispose)
            upgrade(runtime)
            return runtime

        yield build


def test_a_receiver_that_never_answers_delays_only_its_own_deliveries(own_runtime):
    """The issue's setup: a worker sends webhooks while customers are created, one receiver never
    answers (each POST to it times out after 1 s), another is healthy. Every customer reaches the
    healthy receiver within 2 s of its event (measured by the receiver's clock against the event's
    ``occurred_at``), also those created while a POST to the dead receiver was hanging."""
    from core.services import customers, users

    runtime = own_runtime(WEBHOOK_TIMEOUT=1.0, WEBHOOK_BREAKER_THRESHOLD=100)
    dead, healthy = Receiver(), Receiver()
    dead.delay = 600  # never answers (until the test stops it)
    try:
        with runtime.database.unit_of_work():
            admin = users.create_user(None, {"email": "admin@example.com", "role": "admin"})
            webhooks.create(admin, {"url": dead.url, "events": ["customer.created"]})   # queued first
            webhooks.create(admin, {"url": healthy.url, "events": ["customer.created"]})
        stop = threading.Event()
        runs = []

        def worker():  # what `trellis worker` does: deliver_due, again and again
            while not stop.is_set():
                runs.append(webhooks.deliver_due(runtime=runtime))
                stop.wait(0.05)

        thread = threading.Thread(target=worker, daemon=True)
        thread.start()
        try:
            for i in range(6):
                with runtime.database.unit_of_work():
                    customers.create(admin, {"name": f"Customer {i}"})
                time.sleep(0.4)
            deadline = time.monotonic() + 30
            while len(healthy.requests) < 6 and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            stop.set()
            thread.join(timeout=30)
        assert not thread.is_alive()

        assert sorted(n for _e, n in names(healthy)) == [f"Customer {i}" for i in range(6)]
        lags = [r.at - datetime.fromisoformat(json.loads(r.body)["occurred_at"]).timestamp() for r in healthy.requests]
        assert max(lags) < 2.0, lags
        # the dead receiver was being waited on all along: several POSTs, each given up after 1 s…
        assert len(dead.requests) >= 2 and all(r.answered_at is None for r in dead.requests)
        # …and healthy deliveries arrived while one of them hung
        hanging = [(r.at, r.at + 1.0) for r in dead.requests]
        assert any(start < h.at < end for h in healthy.requests for start, end in hanging)
    finally:
        dead.stop()
        healthy.stop()


def test_two_workers_at_once_send_every_delivery_exactly_once(own_runtime):
    """Two workers (threads with connections of their own) run deliver_due at the same time over 3
    subscriptions × 15 customers: every delivery reaches its receiver once, after one attempt."""
    from core.services import customers, users

    runtime = own_runtime(WEBHOOK_TIMEOUT=60)   # no attempt fails, however busy the machine
    receivers = [Receiver() for _ in range(3)]
    try:
        for r in receivers:
            r.delay = 0.01
        with runtime.database.unit_of_work():
            admin = users.create_user(None, {"email": "admin@example.com", "role": "admin"})
            for r in receivers:
                webhooks.create(admin, {"url": r.url, "events": ["customer.created"]})
            for i in range(15):
                customers.create(admin, {"name": f"Customer {i}"})
        barrier, sent = threading.Barrier(2), []

        def worker():
            barrier.wait()
            while (count := webhooks.deliver_due(runtime=runtime, limit=7)):
                sent.append(count)

        threads = [threading.Thread(target=worker) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert sum(sent) == 45
        for r in receivers:
            ids = [request.headers["X-Trellis-Delivery"] for request in r.requests]
            assert len(ids) == len(set(ids)) == 15
        with runtime.database.unit_of_work() as s:
            rows = s.execute(select(WebhookDelivery.status, WebhookDelivery.attempts)).all()
        assert sorted(set(rows)) == [("delivered", 1)] and len(rows) == 45
    finally:
        for r in receivers:
            r.stop()


def test_several_subscriptions_are_sent_to_at_once_and_each_one_at_a_time(api, runtime, monkeypatch):
    """Two slow receivers (0.3 s each answer), three customers: the two receive at the same time, each
    one its three deliveries one after another, in the order they were queued."""
    configure(monkeypatch, runtime, webhook_timeout=5)
    first, second = Receiver(), Receiver()
    try:
        first.delay = second.delay = 0.3
        subscribe(api, first.url, ["customer.created"])
        subscribe(api, second.url, ["customer.created"])
        for name in ("One", "Two", "Three"):
            create_customer(api, name=name)
        assert send(runtime, utcnow()) == 6
        for receiver_ in (first, second):
            assert [n for _e, n in names(receiver_)] == ["One", "Two", "Three"]
            one, two, three = receiver_.requests
            assert one.answered_at <= two.at and two.answered_at <= three.at  # never two at once
        # the two receivers overlap: the second's first request came before the first's was answered
        assert second.requests[0].at < first.requests[0].answered_at
        assert first.requests[0].at < second.requests[0].answered_at
    finally:
        first.stop()
        second.stop()


def test_with_concurrency_1_subscriptions_take_turns(api, runtime, monkeypatch):
    configure(monkeypatch, runtime, webhook_concurrency=1)
    first, second = Receiver(), Receiver()
    try:
        first.delay = second.delay = 0.2
        subscribe(api, first.url, ["customer.created"])
        subscribe(api, second.url, ["customer.created"])
        create_customer(api, name="Only")
        assert send(runtime, utcnow()) == 2
        a, b = sorted([first.requests[0], second.requests[0]], key=lambda r: r.at)
        assert a.answered_at <= b.at
    finally:
        first.stop()
        second.stop()


# --- order per record --------------------------------------------------------------------------------

def test_a_records_later_events_wait_for_its_earlier_one_others_do_not(api, runtime, receiver):
    """Customer R is created, then renamed; customer S is created. The receiver refuses the first
    request (R's creation): R's rename is not sent before R's creation is delivered, S's creation is
    sent meanwhile; when R's creation is retried, R's rename follows it in the same run."""
    sub = subscribe(api, receiver.url, ["customer.*"])
    receiver.status = 500
    r = create_customer(api, name="R")
    renamed = api.as_("rep").patch(f"/api/v1/customers/{r['id']}", json={"name": "R2", "version": r["version"]})
    assert renamed.status_code == 200, renamed.get_json()
    now = utcnow()
    assert send(runtime, now) == 1                    # R's creation fails: nothing more to it in this run
    receiver.status = 200
    create_customer(api, name="S")
    assert send(runtime, now + timedelta(seconds=1)) == 1   # R's creation waits (backoff), so its rename waits
    assert names(receiver) == [("customer.created", "R"), ("customer.created", "S")]
    pending = deliveries(api, sub, "pending")
    assert sorted((d["event"], d["attempts"]) for d in pending) == [("customer.created", 1), ("customer.updated", 0)]

    retry = now + webhooks.backoff(1, runtime.settings.webhook_retry_base_seconds)
    assert send(runtime, retry) == 2
    assert names(receiver)[2:] == [("customer.created", "R"), ("customer.updated", "R2")]
    assert deliveries(api, sub, "pending") == []


def test_events_of_one_record_in_one_change_are_queued_in_order(api, runtime, receiver):
    """A record created and changed in one unit of work: the two deliveries get strictly increasing
    queue times however fast the clock, and go out in that order."""
    from core.services import customers

    sub = subscribe(api, receiver.url, ["customer.*"])
    with runtime.database.unit_of_work() as s:
        admin = s.scalars(select(User).where(User.email == "admin@example.com")).one()
        for i in range(3):
            customer = customers.create(admin, {"name": f"Quick {i}"})
            customers.update(admin, customer.id, {"name": f"Quick {i}b", "version": customer.version})
        queued = s.scalars(select(WebhookDelivery.created_at).where(WebhookDelivery.subscription_id == uuid.UUID(sub["id"]))
                           .order_by(WebhookDelivery.created_at)).all()
        assert len(set(queued)) == 6
    assert send(runtime, utcnow()) == 6
    got = names(receiver)
    for i in range(3):
        assert got.index(("customer.created", f"Quick {i}")) < got.index(("customer.updated", f"Quick {i}b"))


# --- the circuit breaker -----------------------------------------------------------------------------

BREAKER = """query($id: ID!) { webhook(id: $id) { breaker { state consecutiveFailures openUntil lastError } } }"""


def gql_breaker(api, sub):
    body = api.as_("admin").graphql(BREAKER, {"id": sub["id"]})
    assert "errors" not in body, body
    return body["data"]["webhook"]["breaker"]


def audit_actions(api, sub):
    response = api.as_("admin").get(f"/api/v1/audit?record_type=webhook_subscription&record_id={sub['id']}&sort=at")
    assert response.status_code == 200
    return [(e["action"], e["changes"].get("breaker_state")) for e in response.get_json()]


def test_the_breaker_opens_skips_half_opens_and_closes(api, runtime, receiver, monkeypatch):
    configure(monkeypatch, runtime, webhook_breaker_threshold=3, webhook_breaker_cooldown_seconds=60,
              webhook_retry_base_seconds=1)
    receiver.status = 500
    sub = subscribe(api, receiver.url, ["customer.created"])
    assert read(api, sub)["breaker"] == {"state": "closed", "consecutive_failures": 0, "open_until": None,
                                         "last_error": None}
    for name in "ABCD":
        create_customer(api, name=name)
    now = utcnow()
    for run in range(3):  # a failing receiver gets one attempt a run
        assert send(runtime, now) == 1, run
        if run < 2:
            assert read(api, sub)["breaker"]["state"] == "closed"
            now += timedelta(seconds=10)     # the failed delivery is due again (backoff 2 s, 4 s)
    opened = read(api, sub)
    assert opened["version"] == sub["version"]   # the breaker is not an edit: no 409 for an admin
    breaker = opened["breaker"]
    assert (breaker["state"], breaker["consecutive_failures"]) == ("open", 3)
    assert breaker["open_until"] == (now + timedelta(seconds=60)).isoformat()
    assert breaker["last_error"].startswith("HTTP 500")
    assert gql_breaker(api, sub) == {"state": "OPEN", "consecutiveFailures": 3, "openUntil": breaker["open_until"],
                                     "lastError": breaker["last_error"]}

    # open: nothing is sent, though deliveries are due
    assert send(runtime, now + timedelta(seconds=59)) == 0 and len(receiver.requests) == 3

    # the cooldown has passed: one trial; it fails, so the breaker opens again, for twice as long
    now += timedelta(seconds=60)
    assert send(runtime, now) == 1 and len(receiver.requests) == 4
    breaker = read(api, sub)["breaker"]
    assert (breaker["state"], breaker["consecutive_failures"]) == ("open", 4)
    assert breaker["open_until"] == (now + timedelta(seconds=120)).isoformat()

    # the receiver recovers: the next trial succeeds, the breaker closes and the rest follow at once
    receiver.status = 200
    now += timedelta(seconds=120)
    assert send(runtime, now) == 4
    assert sorted(n for _e, n in names(receiver)[4:]) == ["A", "B", "C", "D"]
    assert read(api, sub)["breaker"] == {"state": "closed", "consecutive_failures": 0, "open_until": None,
                                         "last_error": None}
    assert gql_breaker(api, sub)["state"] == "CLOSED"
    assert audit_actions(api, sub) == [
        ("webhook_subscription.created", None),
        ("webhook_subscription.breaker_opened", ["closed", "open"]),
        ("webhook_subscription.breaker_half_opened", ["open", "half_open"]),
        ("webhook_subscription.breaker_opened", ["half_open", "open"]),
        ("webhook_subscription.breaker_half_opened", ["open", "half_open"]),
        ("webhook_subscription.breaker_closed", ["half_open", "closed"]),
    ]
    assert deliveries(api, sub, "pending") == []


def test_only_one_worker_sends_the_trial(api, runtime, receiver, monkeypatch):
    """Two workers find the cooldown over at once: the first takes the trial (half-open); the second,
    ticking while the trial is in flight, sends nothing to that receiver."""
    configure(monkeypatch, runtime, webhook_breaker_threshold=1, webhook_breaker_cooldown_seconds=60)
    receiver.status = 500
    sub = subscribe(api, receiver.url, ["customer.created"])
    for name in ("One", "Two"):
        create_customer(api, name=name)
    now = utcnow()
    assert send(runtime, now) == 1 and read(api, sub)["breaker"]["state"] == "open"
    receiver.status = 200
    real_post, other = webhooks.post, []

    def post_while_another_worker_ticks(outgoing, **kwargs):
        if not other:
            other.append(send(runtime, later))
        return real_post(outgoing, **kwargs)

    monkeypatch.setattr(webhooks, "post", post_while_another_worker_ticks)
    later = now + timedelta(days=1)
    assert send(runtime, later) == 2          # the trial, then (closed again) the other delivery
    assert other == [0]
    assert len(receiver.requests) == 3 and read(api, sub)["breaker"]["state"] == "closed"


def test_a_new_url_or_switching_back_on_closes_the_breaker(api, runtime, receiver, monkeypatch):
    configure(monkeypatch, runtime, webhook_breaker_threshold=1)
    receiver.status = 500
    sub = subscribe(api, receiver.url, ["customer.created"])
    create_customer(api)
    send(runtime, utcnow())
    assert read(api, sub)["breaker"]["state"] == "open"
    response = api.as_("admin").patch(f"/api/v1/webhooks/{sub['id']}",
                                      json={"url": receiver.url + "/v2", "version": sub["version"]})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["breaker"] == {"state": "closed", "consecutive_failures": 0, "open_until": None,
                                              "last_error": None}
    assert audit_actions(api, sub)[-1] == ("webhook_subscription.updated", ["open", "closed"])


def test_the_breaker_is_described_in_openapi(api):
    spec = api.as_("admin").get("/api/v1/openapi.json").get_json()
    breaker = spec["components"]["schemas"]["WebhookBreakerOut"]["properties"]
    assert set(breaker) == {"state", "consecutive_failures", "open_until", "last_error"}
    assert breaker["state"]["enum"] == ["closed", "open", "half_open"]


# --- settings ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("variable, value, message", [
    ("TRELLIS_WEBHOOK_TIMEOUT", "slow", "TRELLIS_WEBHOOK_TIMEOUT: 'slow' is not a number, e.g. 2.5."),
    ("TRELLIS_WEBHOOK_TIMEOUT", "0", "TRELLIS_WEBHOOK_TIMEOUT: 0.0 is not a number of seconds more than 0 and at most"),
    ("TRELLIS_WEBHOOK_TIMEOUT", "600", "TRELLIS_WEBHOOK_TIMEOUT: 600.0 is not a number of seconds"),
    ("TRELLIS_WEBHOOK_CONCURRENCY", "0", "TRELLIS_WEBHOOK_CONCURRENCY: 0 is not a whole number from 1 to 64."),
    ("TRELLIS_WEBHOOK_CONCURRENCY", "4.5", "TRELLIS_WEBHOOK_CONCURRENCY: '4.5' is not a whole number, e.g. 8."),
    ("TRELLIS_WEBHOOK_BREAKER_THRESHOLD", "-1", "TRELLIS_WEBHOOK_BREAKER_THRESHOLD: -1 is not a whole number from 1"),
    ("TRELLIS_WEBHOOK_BREAKER_COOLDOWN_SECONDS", "a minute",
     "TRELLIS_WEBHOOK_BREAKER_COOLDOWN_SECONDS: 'a minute' is not a whole number, e.g. 8."),
    ("TRELLIS_WEBHOOK_MAX_ATTEMPTS", "eight", "TRELLIS_WEBHOOK_MAX_ATTEMPTS: 'eight' is not a whole number, e.g. 8."),
    ("TRELLIS_WEBHOOK_SUBSCRIPTIONS_CACHE_SECONDS", "-1",
     "TRELLIS_WEBHOOK_SUBSCRIPTIONS_CACHE_SECONDS: -1 is not a whole number of seconds from 0 to 3600"),
    ("TRELLIS_WEBHOOK_SUBSCRIPTIONS_CACHE_SECONDS", "3601",
     "TRELLIS_WEBHOOK_SUBSCRIPTIONS_CACHE_SECONDS: 3601 is not a whole number of seconds from 0 to 3600"),
])
def test_a_bad_webhook_setting_is_refused_naming_the_variable(variable, value, message):
    with pytest.raises(ConfigError) as caught:
        load_settings({}, environ={variable: value})
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)


def test_webhook_settings_are_read(monkeypatch):
    settings = load_settings({}, environ={"TRELLIS_WEBHOOK_TIMEOUT": "2.5", "TRELLIS_WEBHOOK_CONCURRENCY": "3",
                                          "TRELLIS_WEBHOOK_BREAKER_THRESHOLD": "7",
                                          "TRELLIS_WEBHOOK_BREAKER_COOLDOWN_SECONDS": "30",
                                          "TRELLIS_WEBHOOK_SUBSCRIPTIONS_CACHE_SECONDS": "0"})
    assert (settings.webhook_timeout, settings.webhook_concurrency, settings.webhook_breaker_threshold,
            settings.webhook_breaker_cooldown_seconds, settings.webhook_subscriptions_cache_seconds) == (2.5, 3, 7, 30, 0)
    defaults = load_settings({}, environ={})
    assert (defaults.webhook_timeout, defaults.webhook_concurrency, defaults.webhook_subscriptions_cache_seconds) \
        == (5.0, 8, 5)


def test_a_bad_setting_stops_a_command_with_one_line(tmp_path):
    from click.testing import CliRunner

    from api.cli import build_cli

    result = CliRunner().invoke(build_cli(), ["config", "check"], catch_exceptions=False, env={
        "TRELLIS_DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "TRELLIS_WEBHOOK_MAX_ATTEMPTS": "eight"})
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == (
        "Error: TRELLIS_WEBHOOK_MAX_ATTEMPTS: 'eight' is not a whole number, e.g. 8.")
    assert "Traceback" not in result.output


def test_cooldown_doubles_after_each_failed_trial_and_is_capped_at_an_hour():
    assert [webhooks.cooldown(n, 60).total_seconds() for n in (0, 1, 2)] == [60, 120, 240]
    assert webhooks.cooldown(30, 60) == timedelta(hours=1)
    assert webhooks.cooldown(3, 7200) == timedelta(hours=2)   # a longer configured cooldown stands
