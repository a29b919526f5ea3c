"""Webhooks: admin-managed subscriptions that receive domain events as signed JSON POSTs.

Queueing happens in-process and in the transaction of the change: :func:`on_event` (subscribed to
``*``) adds a pending :class:`WebhookDelivery` for every active subscription whose patterns match the
event, so a rolled-back change queues nothing. Sending happens later, outside any long transaction:
:func:`deliver_due` (the ``webhooks.deliver`` job of ``trellis tick``, or a worker loop) claims one due
delivery at a time in a short unit of work, POSTs it, then records the outcome in another.

Every function takes the acting user first, plain data in and records out, so REST and GraphQL are thin
layers over the same rules. Only admins manage webhooks; anyone else gets Forbidden.
"""
from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import re
import secrets
import socket
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Mapping
from urllib.parse import urlsplit

from marshmallow import ValidationError, fields, validate
from sqlalchemy import select
from sqlalchemy import update as sql_update

from core import db
from core import runtime as runtime_module
from core.db import utcnow
from core.errors import NotFound, ValidationFailed
from core.models import OutboxEvent, Role
from core.models.webhooks import WebhookDelivery, WebhookSubscription
from core.schemas import BoundedList, StrictSchema
from core.services import audit, common
from core.services.permissions import require_role

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
STATUSES = (PENDING, DELIVERED, FAILED)
PING_EVENT = "webhook.ping"
SECRET_PREFIX = "whsec_"
SIGNATURE_HEADER = "X-Trellis-Signature"
#: seconds a POST may take to connect, and then between bytes of the answer
TIMEOUT_SECONDS = 5
#: how long a claimed delivery stays hidden from other workers while it is being sent
CLAIM_SECONDS = 300
MAX_BACKOFF_SECONDS = 24 * 3600
#: the longest delivery error stored (and shown); longer ones are cut
MAX_ERROR_LENGTH = 500
USER_AGENT = "Trellis-Webhooks/1"
#: changes to the webhook machinery itself are audited but never sent to webhooks
UNSENT_RECORD_TYPES = frozenset({"webhook_subscription", "webhook_delivery"})

AUDITED = ["url", "description", "events", "active"]  # never the secret
SORTABLE = {
    "created_at": WebhookSubscription.created_at,
    "updated_at": WebhookSubscription.updated_at,
    "url": WebhookSubscription.url,
}
#: the orderings of a subscription's :func:`deliveries` (``sort``)
DELIVERY_SORTABLE = {
    "created_at": WebhookDelivery.created_at,
    "status": WebhookDelivery.status,
    "attempts": WebhookDelivery.attempts,
    "next_attempt_at": WebhookDelivery.next_attempt_at,
    "delivered_at": WebhookDelivery.delivered_at,
}


# --- input -------------------------------------------------------------------------------------------

def check_url(value: str) -> None:
    """An absolute http(s) URL with a host, at most 2000 characters, no spaces."""
    if len(value) > 2000:
        raise ValidationError("At most 2000 characters.")
    if any(c.isspace() or ord(c) < 32 for c in value):
        raise ValidationError("Must not contain spaces or control characters.")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        raise ValidationError("Not a valid URL.") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValidationError("Must be an http:// or https:// URL with a host.")


# --- targets (server-side request forgery) -------------------------------------------------------------

PRIVATE_TARGET = ("Must not target a loopback, private, link-local or other non-public address "
                  "(an administrator may allow that with TRELLIS_WEBHOOK_ALLOW_PRIVATE_TARGETS).")


def is_public(address: str) -> bool:
    """Whether an IP address is one the public internet routes to (not loopback, private, link-local,
    shared, reserved, unspecified or multicast; an IPv4-mapped IPv6 address is judged as its IPv4)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def literal_address(host: str) -> str | None:
    """The IP address ``host`` spells without DNS (``10.0.0.1``, ``::1``, and what the C library also
    reads as IPv4: ``2130706433``, ``127.1``, ``0x7f.1``), or None for a name."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    try:
        return socket.inet_ntoa(socket.inet_aton(host))
    except OSError:
        return None


def check_target(url: str, *, allow_private: bool) -> None:
    """At create/update: refuse a URL whose host is a non-public address or ``localhost`` (422 on
    ``url``). A name is resolved only when a delivery is sent (:func:`post`), and checked then."""
    if allow_private:
        return
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    address = literal_address(host)
    if host == "localhost" or host.endswith(".localhost") or (address is not None and not is_public(address)):
        raise ValidationFailed(fields={"url": [PRIVATE_TARGET]})


class TargetRefused(OSError):
    """A delivery's host resolved to an address webhooks may not reach."""


def _public_connection(address, timeout=socket._GLOBAL_DEFAULT_TIMEOUT, source_address=None):
    """``socket.create_connection`` that resolves the host once, refuses it if any of its addresses is
    non-public, and connects to the addresses it checked — a name that resolves to a public address
    when checked and a private one when connecting (DNS rebinding) cannot slip through."""
    host, port = address
    infos = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
    refused = sorted({info[4][0] for info in infos if not is_public(info[4][0])})
    if refused:
        raise TargetRefused(f"{host} resolves to {', '.join(refused)}, a non-public address; not sent "
                            "(TRELLIS_WEBHOOK_ALLOW_PRIVATE_TARGETS allows it).")
    last: OSError | None = None
    for family, kind, proto, _name, sockaddr in infos:
        sock = socket.socket(family, kind, proto)
        try:
            if timeout is not socket._GLOBAL_DEFAULT_TIMEOUT:
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            sock.close()
            last = exc
    raise last or OSError(f"{host} has no address.")


def _guarded(connection_class):
    def make(host, **kwargs):
        connection = connection_class(host, **kwargs)
        connection._create_connection = _public_connection  # what HTTP(S)Connection.connect calls
        return connection

    return make


class _PublicHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(_guarded(http.client.HTTPConnection), req)


class _PublicHTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req):
        return self.do_open(_guarded(http.client.HTTPSConnection), req, context=self._context)


_PATTERN = validate.Regexp(r"^\S+$", error="Must not contain spaces.")


class WebhookCreate(StrictSchema):
    url = fields.String(required=True, validate=check_url,
                        metadata={"description": "Where events are POSTed (http or https).", "maxLength": 2000})
    description = fields.String(load_default="", validate=validate.Length(max=500))
    events = BoundedList(fields.String(validate=[validate.Length(min=1, max=120), _PATTERN]), required=True,
                         min_items=1, max_items=100,
                         metadata={"description": "Event name patterns: 'customer.created', 'customer.*' or '*'."})
    active = fields.Boolean(load_default=True)


class WebhookUpdate(WebhookCreate):
    version = fields.Integer(required=True, metadata={"description": "The version you read; a stale one is 409."})


class WebhookFilter(StrictSchema):
    active = fields.Boolean()
    deleted = fields.Boolean(load_default=False, metadata={"description": "List deleted subscriptions instead."})


class DeliveryFilter(StrictSchema):
    status = fields.String(validate=validate.OneOf(STATUSES))


# --- patterns ----------------------------------------------------------------------------------------

def matches(patterns: list[str], event_name: str) -> bool:
    """Whether an event name matches any pattern: ``*`` matches every event, ``customer.*`` every
    event starting with ``customer.``, anything else only itself (``*`` may stand anywhere)."""
    for pattern in patterns or []:
        if pattern == "*" or pattern == event_name:
            return True
        if "*" in pattern and re.fullmatch(".*".join(map(re.escape, pattern.split("*"))), event_name):
            return True
    return False


# --- subscriptions -----------------------------------------------------------------------------------

def _admin(actor: Any):
    return require_role(actor, Role.ADMIN.value)


def get(actor: Any, subscription_id: Any, *, deleted: bool = False) -> WebhookSubscription:
    _admin(actor)
    sid = common.parse_uuid(subscription_id)
    sub = db.session().scalars(select(WebhookSubscription).where(
        WebhookSubscription.id == sid, common.not_deleted(WebhookSubscription, deleted))).first()
    if sub is None:
        raise NotFound("No webhook subscription with this id.")
    return sub


def list_subscriptions(actor: Any, filters: Mapping[str, Any] | None = None, *,
                       page: common.PageRequest = common.PageRequest(),
                       sort: str | None = None) -> common.Page[WebhookSubscription]:
    _admin(actor)
    f = common.validate(WebhookFilter, dict(filters or {}))
    stmt = select(WebhookSubscription).where(common.not_deleted(WebhookSubscription, f.pop("deleted")))
    if "active" in f:
        stmt = stmt.where(WebhookSubscription.active.is_(f["active"]))
    order = common.parse_sort(sort, SORTABLE, "created_at")
    return common.paginate(stmt, page, order, WebhookSubscription.id)


def _dedupe(patterns: list[str]) -> list[str]:
    return list(dict.fromkeys(patterns))


def create(actor: Any, data: Mapping[str, Any]) -> WebhookSubscription:
    """Create a subscription with a fresh signing secret. The returned record carries ``secret``: show
    it to the admin now — list and read responses never include it."""
    user = _admin(actor)
    values = common.validate(WebhookCreate, data)
    check_target(values["url"], allow_private=_allow_private())
    values["events"] = _dedupe(values["events"])
    sub = WebhookSubscription(**values, secret=SECRET_PREFIX + secrets.token_urlsafe(32))
    db.session().add(sub)
    db.session().flush()
    audit.record_change(user, "created", sub, audit.created_fields(sub, AUDITED))
    return sub


def update(actor: Any, subscription_id: Any, data: Mapping[str, Any]) -> WebhookSubscription:
    sub = get(actor, subscription_id)
    values = common.validate_update(WebhookUpdate, data)
    common.check_version(sub, values.pop("version"))
    if "url" in values:
        check_target(values["url"], allow_private=_allow_private())
    if "events" in values:
        values["events"] = _dedupe(values["events"])
    changes = common.apply_changes(sub, values)
    db.session().flush()
    if changes:
        audit.record_change(actor, "updated", sub, changes)
    return sub


def delete(actor: Any, subscription_id: Any) -> None:
    """Soft delete: the subscription stops receiving events; its pending deliveries wait for a restore."""
    sub = get(actor, subscription_id)
    common.soft_delete(sub)
    audit.record_change(actor, "deleted", sub)


def restore(actor: Any, subscription_id: Any) -> WebhookSubscription:
    sub = get(actor, subscription_id, deleted=True)
    common.restore(sub)
    audit.record_change(actor, "restored", sub)
    return sub


# --- deliveries --------------------------------------------------------------------------------------

def deliveries(actor: Any, subscription_id: Any, filters: Mapping[str, Any] | None = None, *,
               page: common.PageRequest = common.PageRequest(),
               sort: str | None = None) -> common.Page[WebhookDelivery]:
    """A subscription's deliveries, newest first (``sort``: keys of ``DELIVERY_SORTABLE``, "-" for
    descending); ``filters`` may hold ``status``."""
    sub = get(actor, subscription_id)
    stmt = _deliveries(filters).where(WebhookDelivery.subscription_id == sub.id)
    return common.paginate(stmt, page, common.parse_sort(sort, DELIVERY_SORTABLE, "-created_at"),
                           WebhookDelivery.id)


def _deliveries(filters: Mapping[str, Any] | None) -> Any:
    """The deliveries matching ``filters`` (validated: ``status``), for a list or a batch of lists."""
    f = common.validate(DeliveryFilter, dict(filters or {}))
    stmt = select(WebhookDelivery)
    return stmt.where(WebhookDelivery.status == f["status"]) if "status" in f else stmt


def delivery_pages_for(actor: Any, subscription_ids: list, page: Any, filters: Mapping[str, Any] | None = None,
                       sort: str | None = None) -> dict:
    """A keyset page of each subscription's deliveries (as :func:`deliveries`: newest first, ``filters``
    may hold ``status``), for many subscriptions in one statement (a window): GraphQL's nested
    ``WebhookSubscription.deliveries``. Admins only; the subscriptions were read through :func:`get` or
    the list."""
    from core.services import paging

    _admin(actor)
    return paging.seek_windows(db.session(), _deliveries(filters), WebhookDelivery.subscription_id, subscription_ids, page,
                               common.parse_sort(sort, DELIVERY_SORTABLE, "-created_at"), WebhookDelivery.id)


def delivery_counts_for(actor: Any, subscription_ids: list, filters: Mapping[str, Any] | None = None) -> dict:
    """How many deliveries (matching ``filters``) each subscription has, in one grouped COUNT."""
    from core.services import paging

    _admin(actor)
    return paging.count_windows(db.session(), _deliveries(filters), WebhookDelivery.subscription_id, subscription_ids)


def get_delivery(actor: Any, delivery_id: Any) -> WebhookDelivery:
    _admin(actor)
    delivery = db.session().get(WebhookDelivery, common.parse_uuid(delivery_id))
    if delivery is None:
        raise NotFound("No webhook delivery with this id.")
    return delivery


def replay(actor: Any, delivery_id: Any) -> WebhookDelivery:
    """Send a failed (or already delivered) delivery again: pending, attempts back to 0, due now."""
    delivery = get_delivery(actor, delivery_id)
    if delivery.status == PENDING:
        raise ValidationFailed("This delivery is already pending.",
                               fields={"status": ["Already pending: it is sent when it is due."]})
    before = delivery.status
    delivery.status, delivery.attempts = PENDING, 0
    delivery.next_attempt_at, delivery.delivered_at = utcnow(), None
    db.session().flush()
    audit.record_change(actor, "replayed", delivery, {"status": (before, PENDING)})
    return delivery


def _queue(sub: WebhookSubscription, event: OutboxEvent) -> WebhookDelivery:
    delivery = WebhookDelivery(subscription_id=sub.id, event_id=event.id, event_name=event.name,
                               status=PENDING, attempts=0, next_attempt_at=utcnow())
    db.session().add(delivery)
    return delivery


def ping(actor: Any, subscription_id: Any) -> WebhookDelivery:
    """Queue a ``webhook.ping`` delivery to this subscription only (to test the receiver)."""
    user = _admin(actor)
    sub = get(actor, subscription_id)
    # stored like every event so the delivery is built and signed the same way, but not published:
    # no other subscriber or subscription sees it
    event = OutboxEvent(id=uuid.uuid4(), at=utcnow(), name=PING_EVENT, record_type=sub.__table__.name,
                        record_id=sub.id, actor_id=user.id,
                        payload={"id": str(sub.id), "message": "Ping from Trellis."})
    db.session().add(event)
    db.session().flush()
    delivery = _queue(sub, event)
    db.session().flush()
    return delivery


_CACHE_KEY = "trellis.webhooks.active"


def _active_subscriptions() -> list[WebhookSubscription]:
    """The active subscriptions, read once per unit of work (see :func:`on_event`)."""
    sess = db.session()
    subs = sess.info.get(_CACHE_KEY)
    if subs is None:
        subs = sess.info[_CACHE_KEY] = sess.scalars(select(WebhookSubscription).where(
            WebhookSubscription.active.is_(True), WebhookSubscription.deleted_at.is_(None))).all()
    return subs


def any_subscription() -> bool:
    """Whether any webhook subscription is active: with none, no event needs queueing (a bulk import
    skips building its thousands of events into objects for :func:`on_event`)."""
    return bool(_active_subscriptions())


def on_event(event: OutboxEvent, actor: Any = None) -> None:
    """The ``*`` subscriber: queue the event for every active subscription whose patterns match it.

    The active subscriptions are read once per unit of work (a batch of thousands of events costs one
    query), and forgotten when a subscription changes in it (every change emits an event through here)."""
    sess = db.session()
    if event.record_type in UNSENT_RECORD_TYPES:
        sess.info.pop(_CACHE_KEY, None)
        return
    targets = [sub for sub in _active_subscriptions() if matches(sub.events, event.name)]
    if not targets:
        return
    if event.id is None:
        sess.flush()  # the event row first: its id is assigned on insert, and deliveries refer to it
    for sub in targets:
        _queue(sub, event)
    sess.flush()


# --- sending -----------------------------------------------------------------------------------------

def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``f"{timestamp}.{body}"`` with the subscription's secret."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def body_of(delivery: WebhookDelivery, event: OutboxEvent) -> bytes:
    return json.dumps({
        "id": str(event.id),
        "event": delivery.event_name,
        "occurred_at": event.at.isoformat() if event.at else None,
        "record_type": event.record_type,
        "record_id": str(event.record_id),
        "payload": event.payload or {},
    }, ensure_ascii=False, separators=(",", ":"), default=str).encode()


def backoff(attempts: int, base_seconds: float) -> timedelta:
    """The wait after the ``attempts``-th failed attempt: base * 2**attempts, at most a day."""
    return timedelta(seconds=min(base_seconds * 2 ** min(attempts, 40), MAX_BACKOFF_SECONDS))


@dataclass(frozen=True)
class Outgoing:
    delivery_id: uuid.UUID
    url: str
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer like any non-2xx: reported, never followed (nor its new target POSTed)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def _allow_private(rt=None) -> bool:
    return bool((rt or runtime_module.current()).settings.webhook_allow_private_targets)


def post(outgoing: Outgoing, *, timeout: float = TIMEOUT_SECONDS, allow_private: bool = False) -> Outcome:
    """POST one delivery; never raises (every problem is an outcome to record).

    Unless ``allow_private``, the host is resolved once and refused if any of its addresses is
    non-public; the connection goes to the addresses checked. No proxy from the environment is used
    (a proxy would resolve the name itself, out of the check's sight)."""
    request = urllib.request.Request(outgoing.url, data=outgoing.body, headers=outgoing.headers, method="POST")
    handlers = [_NoRedirect] if allow_private else \
        [_NoRedirect, urllib.request.ProxyHandler({}), _PublicHTTPHandler, _PublicHTTPSHandler]
    try:
        with urllib.request.build_opener(*handlers).open(request, timeout=timeout) as response:
            response.read(64 * 1024)
            return Outcome(response.status, None)
    except urllib.error.HTTPError as exc:
        try:
            detail = exc.read(300).decode("utf-8", "replace").strip()
        except Exception:
            detail = ""
        finally:
            exc.close()
        return Outcome(exc.code, f"HTTP {exc.code} {exc.reason}" + (f": {detail}" if detail else ""))
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TargetRefused):
            return Outcome(None, f"Refused: {exc.reason}")
        return Outcome(None, f"{type(exc.reason).__name__}: {exc.reason}")
    except Exception as exc:  # timeouts, resets, malformed answers: all a failed attempt
        return Outcome(None, f"{type(exc).__name__}: {exc}")


def _claim(rt, delivery_id: uuid.UUID, now: datetime) -> Outgoing | None:
    """Take one due delivery (hide it from other workers for a while) and build its request."""
    with rt.database.unit_of_work() as sess:
        row = sess.execute(
            select(WebhookDelivery, WebhookSubscription, OutboxEvent)
            .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
            .join(OutboxEvent, OutboxEvent.id == WebhookDelivery.event_id)
            .where(WebhookDelivery.id == delivery_id)).first()
        if row is None:
            return None
        delivery, sub, event = row
        if not sub.active or sub.deleted_at is not None:
            return None
        claimed = sess.execute(
            sql_update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id, WebhookDelivery.status == PENDING,
                   WebhookDelivery.next_attempt_at <= now)
            .values(next_attempt_at=now + timedelta(seconds=CLAIM_SECONDS))
            .execution_options(synchronize_session=False))
        if claimed.rowcount != 1:  # another worker took it, or it is no longer due
            return None
        body = body_of(delivery, event)
        timestamp = int(time.time())
        return Outgoing(delivery_id=delivery.id, url=sub.url, body=body, headers={
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-Trellis-Event": delivery.event_name,
            "X-Trellis-Delivery": str(delivery.id),
            SIGNATURE_HEADER: f"t={timestamp},v1={sign(sub.secret, timestamp, body)}",
        })


def _record(rt, delivery_id: uuid.UUID, outcome: Outcome, now: datetime) -> None:
    settings = rt.settings
    with rt.database.unit_of_work() as sess:
        delivery = sess.get(WebhookDelivery, delivery_id)
        if delivery is None or delivery.status != PENDING:
            return
        delivery.attempts += 1
        delivery.last_status_code = outcome.status_code
        if outcome.ok:
            delivery.status, delivery.delivered_at = DELIVERED, now
            delivery.next_attempt_at, delivery.last_error = None, None
        else:
            delivery.last_error = (outcome.error or "Failed.")[:MAX_ERROR_LENGTH]
            if delivery.attempts >= settings.webhook_max_attempts:
                delivery.status, delivery.next_attempt_at = FAILED, None
            else:
                delivery.next_attempt_at = now + backoff(delivery.attempts, settings.webhook_retry_base_seconds)


def deliver_due(now: datetime | None = None, *, limit: int = 100, runtime=None) -> int:
    """Send up to ``limit`` due deliveries; return how many were attempted.

    Each delivery is claimed in a short unit of work, POSTed with no transaction open, and its
    outcome recorded in another short one. ``runtime`` defaults to the runtime of the open unit of
    work (``trellis tick``); a worker loop without one passes the app's runtime."""
    rt = runtime or runtime_module.current()
    now = now or utcnow()
    with rt.database.unit_of_work() as sess:
        due = sess.scalars(
            select(WebhookDelivery.id)
            .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
            .where(WebhookDelivery.status == PENDING, WebhookDelivery.next_attempt_at <= now,
                   WebhookSubscription.active.is_(True), WebhookSubscription.deleted_at.is_(None))
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.created_at, WebhookDelivery.id)
            .limit(limit)).all()
    attempted = 0
    for delivery_id in due:
        outgoing = _claim(rt, delivery_id, now)
        if outgoing is None:
            continue
        _record(rt, delivery_id, post(outgoing, allow_private=_allow_private(rt)), now)
        attempted += 1
    return attempted


def delivery_job():
    """The ``webhooks.deliver`` job of ``trellis tick``."""
    from core.jobs import Job

    return Job("webhooks.deliver", lambda now: deliver_due(now),
               "POST due webhook deliveries; retry failures with backoff.")


__all__ = [
    "DELIVERED", "DELIVERY_SORTABLE", "FAILED", "PENDING", "PING_EVENT", "SORTABLE", "WebhookCreate", "WebhookUpdate", "backoff", "create",
    "delete", "deliver_due", "deliveries", "delivery_job", "get", "get_delivery", "list_subscriptions",
    "matches", "on_event", "ping", "post", "replay", "restore", "sign", "update",
]
