"""Webhooks: subscriptions over REST, deliveries queued in the change's transaction, signed POSTs to a
real HTTP server on 127.0.0.1, retries with backoff, failures listed and replayed."""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import replace
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from api.app import create_app
from core import db
from core.db import utcnow
from core.errors import ValidationFailed
from core.hookspecs import hookimpl
from core.jobs import run_all
from core.models import WebhookDelivery, WebhookSubscription
from core.services import webhooks
from tests.api.rest.test_customers import create as create_customer
from api.testing import Api, app_config, bound, make_people


@pytest.fixture(scope="module")
def app(engine, database_url):
    """These tests' receivers listen on 127.0.0.1, a target only this setting allows
    (tests/core/test_webhook_targets.py shows it refused by default)."""
    app = create_app(app_config(database_url, WEBHOOK_ALLOW_PRIVATE_TARGETS=True))
    app.config["TESTING"] = True
    yield app
    app.extensions["trellis"].database.dispose()


class Receiver:
    """An HTTP endpoint on 127.0.0.1 that records every request and answers ``status``."""

    def __init__(self):
        self.requests: list[SimpleNamespace] = []
        self.status = 200
        self.location: str | None = None
        self.delay = 0.0  # seconds to wait before answering (cut short by stop())
        self.reply: bytes | None = None  # the body of the answer (a default one when None)
        self.stopping = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                # at: when the request arrived, answered_at: when the answer went out (time.time())
                request = SimpleNamespace(path=self.path, headers=dict(self.headers), body=body, at=time.time(),
                                          answered_at=None)
                receiver.requests.append(request)
                if receiver.delay:
                    receiver.stopping.wait(receiver.delay)
                    try:
                        self._answer()
                    except OSError:  # the sender gave up and closed the connection
                        pass
                    request.answered_at = time.time()
                    return
                self._answer()
                request.answered_at = time.time()

            def _answer(self):
                self.send_response(receiver.status)
                if receiver.location:
                    self.send_header("Location", receiver.location)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(receiver.reply if receiver.reply is not None
                                 else b"ok" if receiver.status < 300 else b"receiver says no")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.stopping.set()
        if self.thread.is_alive():
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(timeout=5)

    def events(self) -> list[str]:
        return [json.loads(r.body)["event"] for r in self.requests]


@pytest.fixture
def receiver():
    server = Receiver()
    try:
        yield server
    finally:
        server.stop()


def verify(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    """What a receiver does (as docs/webhooks.md shows), written independently of the service."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    timestamp = int(parts["t"])
    expected = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("utf-8") + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"]) and abs(time.time() - timestamp) <= tolerance


def subscribe(api, url, events=("*",), **extra):
    response = api.as_("admin").post("/api/v1/webhooks", json={"url": url, "events": list(events), **extra})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def tick(runtime, now=None):
    return dict(run_all(runtime, now or utcnow()))["webhooks.deliver"]


def deliveries(api, subscription, status=None):
    url = f"/api/v1/webhooks/{subscription['id']}/deliveries" + (f"?status={status}" if status else "")
    response = api.as_("admin").get(url)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_customer_created_over_rest_reaches_the_endpoint_signed(api, runtime, receiver):
    sub = subscribe(api, receiver.url, ["customer.created"], description="ERP sync")
    assert sub["secret"].startswith("whsec_") and sub["events"] == ["customer.created"] and sub["active"] is True
    customer = create_customer(api, name="Signed Corp")
    [queued] = deliveries(api, sub)
    assert (queued["status"], queued["event"], queued["attempts"]) == ("pending", "customer.created", 0)

    assert tick(runtime) == 1
    [request] = receiver.requests
    assert request.path == "/hooks"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Trellis-Event"] == "customer.created"
    assert request.headers["X-Trellis-Delivery"] == queued["id"]
    assert verify(sub["secret"], request.headers["X-Trellis-Signature"], request.body)
    assert not verify(sub["secret"], request.headers["X-Trellis-Signature"], request.body + b" ")
    body = json.loads(request.body)
    assert set(body) == {"id", "event", "occurred_at", "record_type", "record_id", "payload"}
    assert body["id"] == queued["event_id"] and body["event"] == "customer.created"
    assert (body["record_type"], body["record_id"]) == ("customer", customer["id"])
    assert body["payload"]["changes"]["name"] == [None, "Signed Corp"] and body["payload"]["version"] == 1

    [done] = deliveries(api, sub, "delivered")
    assert done["attempts"] == 1 and done["last_status_code"] == 200 and done["delivered_at"]
    # idempotent: a second tick right after sends nothing
    assert tick(runtime) == 0 and len(receiver.requests) == 1


def test_pattern_filter_skips_non_matching_events(api, runtime, receiver):
    sub = subscribe(api, receiver.url, ["contact.*", "customer.deleted"])
    everything = subscribe(api, receiver.url, ["*"])
    customer = create_customer(api)
    assert deliveries(api, sub) == [] and len(deliveries(api, everything)) == 1
    assert api.as_("rep").delete(f"/api/v1/customers/{customer['id']}").status_code == 204
    assert [d["event"] for d in deliveries(api, sub)] == ["customer.deleted"]
    assert tick(runtime) == 3
    assert sorted(receiver.events()) == ["customer.created", "customer.deleted", "customer.deleted"]


def test_patterns_match_exact_names_prefixes_and_everything():
    assert webhooks.matches(["*"], "membership.tier_changed")
    assert webhooks.matches(["customer.*"], "customer.stage_changed")
    assert not webhooks.matches(["customer.*"], "customer_tag.created")
    assert not webhooks.matches(["customer.*"], "customer")
    assert webhooks.matches(["contact.created", "customer.updated"], "customer.updated")
    assert not webhooks.matches(["customer.created"], "customer.created.extra")
    assert webhooks.matches(["*.deleted"], "contact.deleted") and not webhooks.matches([], "contact.deleted")


def test_a_failing_receiver_is_retried_with_backoff_then_marked_failed(api, runtime, receiver):
    receiver.status = 500
    sub = subscribe(api, receiver.url, ["customer.created"])
    create_customer(api)
    base = runtime.settings.webhook_retry_base_seconds
    max_attempts = runtime.settings.webhook_max_attempts
    now = utcnow()
    for attempt in range(1, max_attempts + 1):
        assert tick(runtime, now) == 1, attempt
        [delivery] = deliveries(api, sub)
        assert delivery["attempts"] == attempt and delivery["last_status_code"] == 500
        assert "500" in delivery["last_error"] and "receiver says no" in delivery["last_error"]
        if attempt == max_attempts:
            break
        assert delivery["status"] == "pending"
        wait = timedelta(seconds=min(base * 2 ** attempt, 86400))
        assert delivery["next_attempt_at"] == (now + wait).isoformat()
        assert tick(runtime, now + wait - timedelta(seconds=1)) == 0  # not due yet
        now += wait
    assert len(receiver.requests) == max_attempts
    [failed] = deliveries(api, sub, "failed")
    assert failed["next_attempt_at"] is None and failed["delivered_at"] is None
    assert deliveries(api, sub, "pending") == []
    assert tick(runtime, now + timedelta(days=30)) == 0  # failed for good, until replayed


def test_a_failed_attempt_keeps_the_first_300_bytes_of_the_receivers_answer(api, runtime, receiver):
    receiver.status, receiver.reply = 500, ("a" * 299 + "bc").encode()
    sub = subscribe(api, receiver.url, ["customer.created"])
    create_customer(api)
    assert tick(runtime) == 1
    [delivery] = deliveries(api, sub)
    assert delivery["last_error"] == "HTTP 500 Internal Server Error: " + "a" * 299 + "b"


def test_backoff_doubles_and_is_capped_at_a_day():
    assert [webhooks.backoff(n, 60).total_seconds() for n in (1, 2, 3)] == [120, 240, 480]
    assert webhooks.backoff(20, 60) == timedelta(days=1) and webhooks.backoff(10_000, 60) == timedelta(days=1)


def test_replay_sends_a_failed_or_delivered_delivery_again(api, runtime, receiver):
    sub = subscribe(api, receiver.url, ["customer.created"])
    create_customer(api)
    tick(runtime)
    [delivery] = deliveries(api, sub, "delivered")
    replay = api.as_("admin").post(f"/api/v1/webhook-deliveries/{delivery['id']}/replay")
    assert replay.status_code == 200
    assert (replay.get_json()["status"], replay.get_json()["attempts"]) == ("pending", 0)
    again = api.as_("admin").post(f"/api/v1/webhook-deliveries/{delivery['id']}/replay")
    assert again.status_code == 422 and "status" in again.get_json()["errors"]["json"]  # already pending
    assert tick(runtime) == 1
    first, second = receiver.requests
    assert first.body == second.body  # the same event, the same delivery id, a fresh signature
    assert second.headers["X-Trellis-Delivery"] == delivery["id"]
    assert verify(sub["secret"], second.headers["X-Trellis-Signature"], second.body)
    assert deliveries(api, sub, "delivered")[0]["attempts"] == 1
    audit = api.as_("admin").get(f"/api/v1/audit?record_type=webhook_delivery&record_id={delivery['id']}")
    assert [e["action"] for e in audit.get_json()] == ["webhook_delivery.replayed"]


def test_replay_of_a_failed_delivery_after_the_receiver_is_fixed(api, runtime, receiver):
    receiver.status = 503
    sub = subscribe(api, receiver.url, ["customer.created"])
    create_customer(api)
    now = utcnow()
    for _ in range(runtime.settings.webhook_max_attempts):
        tick(runtime, now)
        now += timedelta(days=1)
    [failed] = deliveries(api, sub, "failed")
    receiver.status = 204
    assert api.as_("admin").post(f"/api/v1/webhook-deliveries/{failed['id']}/replay").status_code == 200
    assert tick(runtime, now) == 1
    [done] = deliveries(api, sub, "delivered")
    assert done["id"] == failed["id"] and done["last_status_code"] == 204 and done["last_error"] is None


def test_redirects_are_failures_and_never_followed(api, runtime, receiver):
    receiver.status, receiver.location = 302, receiver.url + "/elsewhere"
    sub = subscribe(api, receiver.url, ["customer.created"])
    create_customer(api)
    assert tick(runtime) == 1
    assert [r.path for r in receiver.requests] == ["/hooks"]
    [delivery] = deliveries(api, sub)
    assert delivery["status"] == "pending" and delivery["last_status_code"] == 302


def test_an_unreachable_receiver_is_a_failed_attempt(api, runtime, receiver):
    url = receiver.url
    receiver.stop()  # nothing listens on that port any more
    sub = subscribe(api, url, ["customer.created"])
    create_customer(api)
    assert tick(runtime) == 1
    [delivery] = deliveries(api, sub)
    assert delivery["attempts"] == 1 and delivery["last_status_code"] is None and delivery["last_error"]


def test_a_receiver_slower_than_the_timeout_is_a_failed_attempt_retried_later(api, runtime, receiver,
                                                                              monkeypatch):
    # the receiver answers after 2 s; the sender gives up after 0.3 s (TRELLIS_WEBHOOK_TIMEOUT, shortened here)
    monkeypatch.setattr(runtime, "settings", replace(runtime.settings, webhook_timeout=0.3))
    receiver.delay = 2.0
    sub = subscribe(api, receiver.url, ["customer.created"])
    create_customer(api)
    now = utcnow()
    assert tick(runtime, now) == 1
    [delivery] = deliveries(api, sub)
    assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == ("pending", 1, None)
    assert "timed out" in delivery["last_error"], delivery["last_error"]
    wait = webhooks.backoff(1, runtime.settings.webhook_retry_base_seconds)
    assert delivery["next_attempt_at"] == (now + wait).isoformat() and delivery["delivered_at"] is None
    assert tick(runtime, now + wait - timedelta(seconds=1)) == 0  # not due yet

    receiver.delay = 0.0  # the receiver recovers: the retry gets through
    assert tick(runtime, now + wait) == 1
    [done] = deliveries(api, sub)
    assert (done["status"], done["attempts"], done["last_status_code"], done["last_error"]) == (
        "delivered", 2, 200, None)
    first, second = receiver.requests
    assert first.body == second.body and first.headers["X-Trellis-Delivery"] == done["id"]


def test_ping_queues_a_webhook_ping_for_that_subscription_only(api, runtime, receiver):
    sub = subscribe(api, receiver.url, ["customer.*"])
    other = subscribe(api, receiver.url, ["*"])
    response = api.as_("admin").post(f"/api/v1/webhooks/{sub['id']}/ping")
    assert response.status_code == 202 and response.get_json()["event"] == "webhook.ping"
    assert deliveries(api, other) == []
    assert tick(runtime) == 1
    [request] = receiver.requests
    assert request.headers["X-Trellis-Event"] == "webhook.ping"
    assert verify(sub["secret"], request.headers["X-Trellis-Signature"], request.body)
    assert json.loads(request.body)["record_id"] == sub["id"]


def test_inactive_and_deleted_subscriptions_receive_nothing(api, runtime, receiver):
    inactive = subscribe(api, receiver.url, active=False)
    deleted = subscribe(api, receiver.url)
    create_customer(api)  # queued for `deleted` while it was live
    assert api.as_("admin").delete(f"/api/v1/webhooks/{deleted['id']}").status_code == 204
    create_customer(api, name="Second")
    assert deliveries(api, inactive) == []
    assert tick(runtime) == 0 and receiver.requests == []
    # restored, its delivery that waited is sent
    assert api.as_("admin").post(f"/api/v1/webhooks/{deleted['id']}/restore").status_code == 200
    assert tick(runtime) == 1 and receiver.events() == ["customer.created"]


def test_secret_is_shown_only_on_creation_and_changes_are_audited_without_it(api):
    sub = subscribe(api, "https://example.com/hook", ["customer.created"])
    read = api.as_("admin").get(f"/api/v1/webhooks/{sub['id']}").get_json()
    listed = api.as_("admin").get("/api/v1/webhooks").get_json()
    assert "secret" not in read and all("secret" not in s for s in listed) and [s["id"] for s in listed] == [sub["id"]]
    [entry] = api.as_("admin").get(f"/api/v1/audit?record_id={sub['id']}").get_json()
    assert entry["action"] == "webhook_subscription.created" and "secret" not in entry["changes"]
    assert sub["secret"] not in json.dumps(entry)


def test_update_checks_the_version_and_delete_restore_round_trip(api):
    sub = subscribe(api, "https://example.com/hook")
    url = f"/api/v1/webhooks/{sub['id']}"
    changed = api.as_("admin").patch(url, json={"version": 1, "events": ["contact.*"], "active": False})
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["events"] == ["contact.*"] and changed.get_json()["version"] == 2
    assert api.as_("admin").patch(url, json={"version": 1, "description": "x"}).status_code == 409
    assert api.as_("admin").patch(url, json={"version": 2, "secret": "mine"}).status_code == 422
    assert api.as_("admin").get("/api/v1/webhooks?active=false").get_json()[0]["id"] == sub["id"]
    assert api.as_("admin").get("/api/v1/webhooks?active=true").get_json() == []
    assert api.as_("admin").delete(url).status_code == 204
    assert api.as_("admin").get(url).status_code == 404
    assert [s["id"] for s in api.as_("admin").get("/api/v1/webhooks?deleted=true").get_json()] == [sub["id"]]
    assert api.as_("admin").post(f"{url}/restore").status_code == 200
    assert api.as_("admin").get(url).status_code == 200


@pytest.mark.parametrize("who", ["manager", "rep"])
def test_only_admins_manage_webhooks(api, who):
    sub = subscribe(api, "https://example.com/hook")
    caller = api.as_(who)
    assert caller.get("/api/v1/webhooks").status_code == 403
    assert caller.post("/api/v1/webhooks", json={"url": "https://example.com/x", "events": ["*"]}).status_code == 403
    assert caller.get(f"/api/v1/webhooks/{sub['id']}").status_code == 403
    assert caller.patch(f"/api/v1/webhooks/{sub['id']}", json={"version": 1, "active": False}).status_code == 403
    assert caller.delete(f"/api/v1/webhooks/{sub['id']}").status_code == 403
    assert caller.get(f"/api/v1/webhooks/{sub['id']}/deliveries").status_code == 403
    assert caller.post(f"/api/v1/webhooks/{sub['id']}/ping").status_code == 403
    assert api.as_("admin").post(f"/api/v1/webhooks/{sub['id']}/ping").status_code == 202
    [delivery] = deliveries(api, sub)
    assert caller.post(f"/api/v1/webhook-deliveries/{delivery['id']}/replay").status_code == 403
    assert api.as_(None).get("/api/v1/webhooks").status_code == 401


@pytest.mark.parametrize("body, field", [
    ({"url": "ftp://example.com/hook", "events": ["*"]}, "url"),
    ({"url": "not a url", "events": ["*"]}, "url"),
    ({"url": "http://", "events": ["*"]}, "url"),
    ({"url": "https://example.com:99999/x", "events": ["*"]}, "url"),
    ({"url": "https://example.com/" + "x" * 2000, "events": ["*"]}, "url"),
    ({"events": ["*"]}, "url"),
    ({"url": "https://example.com/hook", "events": []}, "events"),
    ({"url": "https://example.com/hook", "events": [""]}, "events"),
    ({"url": "https://example.com/hook", "events": [7]}, "events"),
    ({"url": "https://example.com/hook", "events": "customer.*"}, "events"),
    ({"url": "https://example.com/hook"}, "events"),
    ({"url": "https://example.com/hook", "events": ["*"], "secret": "chosen"}, "secret"),
])
def test_bad_input_is_422_naming_the_field_and_writes_nothing(api, body, field):
    response = api.as_("admin").post("/api/v1/webhooks", json=body)
    assert response.status_code == 422, response.get_json()
    errors = response.get_json()["errors"]["json"]
    assert any(key == field or key.startswith(field + ".") for key in errors), errors
    assert api.as_("admin").get("/api/v1/webhooks").get_json() == []


def test_a_url_of_exactly_2000_characters_is_accepted_and_one_more_is_not(api):
    base = "https://example.com/"
    subscribe(api, base + "x" * (2000 - len(base)))
    longer = api.as_("admin").post("/api/v1/webhooks", json={"url": base + "x" * (2001 - len(base)), "events": ["*"]})
    assert longer.status_code == 422 and longer.get_json()["errors"]["json"]["url"] == ["At most 2000 characters."]


def test_a_description_of_500_characters_is_kept_and_one_more_is_422(api):
    sub = subscribe(api, "https://example.com/hook", description="d" * 500)
    assert api.as_("admin").get(f"/api/v1/webhooks/{sub['id']}").get_json()["description"] == "d" * 500
    longer = api.as_("admin").post("/api/v1/webhooks", json={"url": "https://example.com/hook", "events": ["*"],
                                                            "description": "d" * 501})
    assert longer.status_code == 422 and "description" in longer.get_json()["errors"]["json"]


def test_an_event_pattern_of_120_characters_is_kept_and_one_more_is_422(api):
    pattern = "customer." + "x" * 111
    assert subscribe(api, "https://example.com/hook", [pattern])["events"] == [pattern]
    longer = api.as_("admin").post("/api/v1/webhooks", json={"url": "https://example.com/hook", "events": [pattern + "x"]})
    assert longer.status_code == 422
    assert longer.get_json()["errors"]["json"] == {"events.0": ["Length must be between 1 and 120."]}


def test_deliveries_status_filter_is_validated(api):
    sub = subscribe(api, "https://example.com/hook")
    response = api.as_("admin").get(f"/api/v1/webhooks/{sub['id']}/deliveries?status=lost")
    assert response.status_code == 422 and "status" in response.get_json()["errors"]["json"]


# --- the transaction ---------------------------------------------------------------------------------

@pytest.fixture
def app_with(engine, database_url, connection):
    """An app with extra plugins, bound to this test's transaction; returns (api, runtime)."""
    stack = []

    def build(*plugins):
        app = create_app(app_config(database_url, WEBHOOK_ALLOW_PRIVATE_TARGETS=True), extra_plugins=plugins)
        ctx = bound(app, connection)
        runtime = ctx.__enter__()
        stack.append(ctx)
        people = make_people(runtime)
        from core.services import users

        with runtime.database.unit_of_work():
            tokens = {r: users.create_token(getattr(people, r))[1] for r in ("admin", "rep")}
        return Api(app.test_client(), tokens), runtime

    yield build
    for ctx in reversed(stack):
        ctx.__exit__(None, None, None)


def test_a_rolled_back_request_queues_nothing(app_with, receiver):
    queued_before_failure = []

    def refuse(event, actor):
        # runs after the webhook subscriber (core's subscribers come first): the delivery is queued…
        if event.name == "customer.created" and event.payload["changes"]["name"][1] == "Forbidden Corp":
            queued_before_failure.append(db.session().scalar(
                select(func.count()).select_from(WebhookDelivery).where(WebhookDelivery.event_id == event.id)))
            raise ValidationFailed(fields={"name": ["Refused by a plugin."]})  # …and the request fails

    plugin = SimpleNamespace(name="refuser", version="1", trellis_event_subscribers=hookimpl(lambda: {"*": [refuse]}))
    api, runtime = app_with(plugin)
    sub = subscribe(api, receiver.url, ["customer.*"])
    refused = api.as_("rep").post("/api/v1/customers", json={"name": "Forbidden Corp"})
    assert refused.status_code == 422 and queued_before_failure == [1]
    assert deliveries(api, sub) == []
    with runtime.database.unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(WebhookDelivery)) == 0
    assert tick(runtime) == 0 and receiver.requests == []
    # and a change that commits is delivered as usual
    assert api.as_("rep").post("/api/v1/customers", json={"name": "Fine Corp"}).status_code == 201
    assert tick(runtime) == 1 and receiver.events() == ["customer.created"]


def test_network_io_happens_outside_any_transaction(api, runtime, receiver, monkeypatch):
    """The POST is made with no transaction open (tick's own unit of work has not begun one); the
    claim and the outcome each use a short unit of work of their own."""
    seen = []
    real_post = webhooks.post

    def spy(outgoing, **kwargs):
        seen.append(db.has_session() and db.session().in_transaction())
        return real_post(outgoing, **kwargs)

    monkeypatch.setattr(webhooks, "post", spy)
    subscribe(api, receiver.url)
    create_customer(api)
    assert tick(runtime) == 1
    assert seen == [False] and len(receiver.requests) == 1


def test_deliver_due_respects_the_limit(api, runtime, receiver):
    subscribe(api, receiver.url)
    for name in ("One", "Two", "Three"):
        create_customer(api, name=name)
    assert webhooks.deliver_due(utcnow(), limit=2, runtime=runtime) == 2
    assert webhooks.deliver_due(utcnow(), limit=2, runtime=runtime) == 1
    assert webhooks.deliver_due(utcnow(), limit=2, runtime=runtime) == 0
    assert len(receiver.requests) == 3
    with runtime.database.unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(WebhookSubscription)) == 1


def test_subscriptions_are_read_once_per_unit_of_work_and_changes_are_seen(api, runtime, count_queries):
    from core.services import customers, webhooks
    from core.models import User
    from sqlalchemy import select

    with runtime.database.unit_of_work() as s:
        admin = s.scalars(select(User).where(User.email == "admin@example.com")).one()
        customers.create(admin, {"name": "Warm-up"})
        with count_queries() as counter:
            for i in range(5):
                customers.create(admin, {"name": f"C{i}"})
        assert not any("webhook_subscription" in q for q in counter.statements)
        sub = webhooks.create(admin, {"url": "https://example.com/h", "events": ["customer.*"]})
        customers.create(admin, {"name": "After"})
        assert len(webhooks.deliveries(admin, sub.id).items) == 1


# --- the process's copy of the active subscriptions ---------------------------------------------------

@pytest.fixture
def clock(monkeypatch):
    """The clock the copy's age is read from, standing still until a test moves it (``clock[0] += s``)."""
    now = [1000.0]
    monkeypatch.setattr(webhooks, "_clock", lambda: now[0])
    return now


def made_elsewhere(monkeypatch):
    """From here on, changes to subscriptions are not announced to this process's copy when they
    commit: as if another process (a gunicorn worker, a command) made them."""
    monkeypatch.setattr(webhooks, "_forget_on_commit", lambda sess: sess.info.pop(webhooks._CHANGED_KEY, None))


def switch_off(api, sub):
    response = api.as_("admin").patch(f"/api/v1/webhooks/{sub['id']}", json={"version": sub["version"], "active": False})
    assert response.status_code == 200, response.get_json()


def test_a_create_reads_no_subscription_and_still_queues_its_delivery(api, runtime, receiver, clock, count_queries):
    sub = subscribe(api, receiver.url, ["customer.*"])
    create_customer(api, name="First")  # this process reads the active subscriptions once
    with count_queries() as counter:
        create_customer(api, name="Second")
    assert not any("webhook_subscription" in q for q in counter.statements)
    assert len(deliveries(api, sub)) == 2
    assert tick(runtime) == 2 and receiver.events() == ["customer.created", "customer.created"]


def test_a_change_committed_in_this_process_is_seen_at_once(api, runtime, receiver, clock):
    create_customer(api, name="Before")  # the copy: no subscription
    sub = subscribe(api, receiver.url, ["customer.*"])
    create_customer(api, name="Subscribed")  # the clock has not moved: the copy was emptied by the commit
    assert [d["event"] for d in deliveries(api, sub)] == ["customer.created"]
    switch_off(api, sub)
    create_customer(api, name="Switched off")
    assert len(deliveries(api, sub)) == 1
    assert tick(runtime) == 0 and receiver.requests == []  # switched off: its earlier delivery waits


def test_a_subscription_made_in_another_process_is_seen_within_the_bound(api, runtime, receiver, clock,
                                                                          monkeypatch):
    bound_seconds = runtime.settings.webhook_subscriptions_cache_seconds
    assert bound_seconds == 5  # the default
    create_customer(api, name="Before")  # the copy: no subscription
    made_elsewhere(monkeypatch)
    sub = subscribe(api, receiver.url, ["customer.*"])
    clock[0] += bound_seconds - 0.5
    create_customer(api, name="Within the bound")  # not seen yet
    assert deliveries(api, sub) == []
    clock[0] += 0.5
    create_customer(api, name="After the bound")
    assert [d["event"] for d in deliveries(api, sub)] == ["customer.created"]
    assert tick(runtime) == 1
    assert json.loads(receiver.requests[0].body)["payload"]["changes"]["name"][1] == "After the bound"


def test_a_subscription_switched_off_or_deleted_in_another_process_never_sends(api, runtime, receiver, clock,
                                                                                monkeypatch):
    off = subscribe(api, receiver.url, ["customer.*"])
    gone = subscribe(api, receiver.url, ["customer.*"])
    create_customer(api, name="Live")
    assert tick(runtime) == 2
    made_elsewhere(monkeypatch)
    switch_off(api, off)
    assert api.as_("admin").delete(f"/api/v1/webhooks/{gone['id']}").status_code == 204
    create_customer(api, name="Stale copy")  # this process still has both in its copy: queued…
    assert [d["status"] for d in deliveries(api, off)] == ["pending", "delivered"]
    with runtime.database.unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(WebhookDelivery)
                        .where(WebhookDelivery.status == "pending")) == 2
    assert tick(runtime) == 0 and len(receiver.requests) == 2  # …but never sent: checked at send time
    clock[0] += runtime.settings.webhook_subscriptions_cache_seconds
    create_customer(api, name="Fresh copy")  # read again: neither is active
    with runtime.database.unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(WebhookDelivery)
                        .where(WebhookDelivery.status == "pending")) == 2
    assert tick(runtime) == 0 and len(receiver.requests) == 2


def test_with_the_setting_at_0_every_unit_of_work_reads_the_subscriptions(engine, database_url, connection,
                                                                        receiver, monkeypatch, count_queries):
    app = create_app(app_config(database_url, WEBHOOK_ALLOW_PRIVATE_TARGETS=True,
                                WEBHOOK_SUBSCRIPTIONS_CACHE_SECONDS=0))
    with bound(app, connection) as rt:
        people = make_people(rt)
        from core.services import customers

        with rt.database.unit_of_work():
            customers.create(people.admin, {"name": "Before"})
        made_elsewhere(monkeypatch)
        with rt.database.unit_of_work():
            sub = webhooks.create(people.admin, {"url": receiver.url, "events": ["customer.*"]})
        with count_queries() as counter, rt.database.unit_of_work():
            customers.create(people.admin, {"name": "After"})
        assert sum("webhook_subscription" in q for q in counter.statements) == 1
        with rt.database.unit_of_work():
            assert len(webhooks.deliveries(people.admin, sub.id).items) == 1


# --- several workers, and the tick's batch -----------------------------------------------------------

def test_a_tick_sends_a_hundred_due_deliveries_and_the_next_tick_the_rest(api, runtime, receiver):
    """``trellis tick`` sends up to 100 deliveries a run: a receiver with 101 queued pings gets 100 from
    the first tick and the last one from the next."""
    from core.models import User

    sub = subscribe(api, receiver.url)
    with runtime.database.unit_of_work() as s:
        admin = s.scalars(select(User).where(User.email == "admin@example.com")).one()
        for _ in range(101):
            webhooks.ping(admin, sub["id"])
    now = utcnow()
    assert tick(runtime, now) == 100
    assert len(receiver.requests) == 100 and len(deliveries(api, sub, "pending")) == 1
    assert tick(runtime, now) == 1
    assert len(receiver.requests) == 101 and deliveries(api, sub, "pending") == []
    assert len({r.headers["X-Trellis-Delivery"] for r in receiver.requests}) == 101


def test_a_delivery_another_worker_took_is_skipped_and_the_rest_are_still_sent(api, runtime, receiver,
                                                                              monkeypatch):
    """Two workers tick at once: while this one POSTs its first delivery, the other takes the second.
    This one skips the second (its claim finds it gone) and still sends the third; each event reaches
    the receiver once."""
    sub = subscribe(api, receiver.url, ["customer.created"])
    for name in ("One", "Two", "Three"):
        create_customer(api, name=name)
    now = utcnow()
    real_post = webhooks.post
    other_worker = []

    def post_while_another_worker_ticks(outgoing, **kwargs):
        if not other_worker:
            other_worker.append("ticking")  # its own POST goes straight out
            # its select sees the two deliveries not yet claimed and takes the first of them
            other_worker[0] = webhooks.deliver_due(now, limit=1, runtime=runtime)
        return real_post(outgoing, **kwargs)

    monkeypatch.setattr(webhooks, "post", post_while_another_worker_ticks)
    assert webhooks.deliver_due(now, runtime=runtime) == 2
    assert other_worker == [1]
    names = sorted(json.loads(r.body)["payload"]["changes"]["name"][1] for r in receiver.requests)
    assert names == ["One", "Three", "Two"]
    sent = deliveries(api, sub)
    assert [(d["status"], d["attempts"]) for d in sent] == [("delivered", 1)] * 3


def test_a_post_that_outlives_its_claim_does_not_undo_the_other_workers_delivery(api, runtime, receiver,
                                                                                 monkeypatch):
    """A worker's POST hangs past the claim; another worker, ticking after the claim expired, sends the
    delivery and records it delivered. When the first POST finally times out, its failure is not
    recorded over the delivery: it stays delivered, after one attempt, with no error and no retry."""
    sub = subscribe(api, receiver.url, ["customer.created"])
    create_customer(api, name="Raced Corp")
    now = utcnow()
    real_post = webhooks.post
    calls = []

    def hanging_post(outgoing, **kwargs):
        calls.append(outgoing.delivery_id)
        if len(calls) == 1:
            later = now + timedelta(seconds=webhooks.CLAIM_SECONDS + 1)
            assert webhooks.deliver_due(later, runtime=runtime) == 1  # the other worker
            return webhooks.Outcome(status_code=None, error="Timed out.")
        return real_post(outgoing, **kwargs)

    monkeypatch.setattr(webhooks, "post", hanging_post)
    assert webhooks.deliver_due(now, runtime=runtime) == 1
    assert len(calls) == 2 and calls[0] == calls[1] and len(receiver.requests) == 1
    [delivery] = deliveries(api, sub)
    assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == ("delivered", 1, 200)
    assert delivery["last_error"] is None and delivery["next_attempt_at"] is None


# --- statement-count pin -----------------------------------------------------------------------------

SUBSCRIPTION_DELIVERIES = """query($first: Int!) { webhooks(first: $first) { edges { node {
  url deliveries { edges { node { eventName status subscriptionId } } } } } } }"""


def test_subscription_deliveries_nested_in_the_list_are_pinned(api, count_queries):
    """Each subscription's deliveries, nested in the list, cost no statement per subscription."""
    from api.testing import graphql_list, pin_statements

    def grow(have, want):
        for i in range(have, want):
            subscribe(api, f"https://example.com/hooks/{i:03d}", ["customer.created"])
        create_customer(api, name=f"Queued for {want}")    # one delivery to each subscription so far

    edges = pin_statements(count_queries, grow=grow, fetch=lambda n: graphql_list(
        api.as_("admin").graphql(SUBSCRIPTION_DELIVERIES, {"first": n}), "webhooks.edges"))
    # the first five saw both customers, the other 45 only the second
    got = {edge["node"]["url"]: [(d["node"]["eventName"], d["node"]["status"]) for d in edge["node"]["deliveries"]["edges"]]
           for edge in edges}
    assert got == {f"https://example.com/hooks/{i:03d}": [("customer.created", "PENDING")] * (2 if i < 5 else 1)
                   for i in range(50)}
