"""Webhooks: admin-managed subscriptions that receive domain events as signed JSON POSTs.

Queueing happens in-process and in the transaction of the change: :func:`on_event` (subscribed to
``*``) adds a pending :class:`WebhookDelivery` for every active subscription whose patterns match the
event, so a rolled-back change queues nothing (the active subscriptions are the process's copy, read
again every ``TRELLIS_WEBHOOK_SUBSCRIPTIONS_CACHE_SECONDS``: :func:`_active_subscriptions`). Sending
happens later, outside any long transaction: :func:`deliver_due` (the ``webhooks.deliver`` job of ``trellis tick``, or a worker loop) claims each due
delivery in a short unit of work, POSTs it on a thread pool — several subscriptions at once, each one
delivery at a time, one record's events in order — then records the outcome in another; a circuit
breaker per subscription backs off a receiver that keeps failing (docs/webhooks.md).

Every function takes the acting user first, plain data in and records out, so REST and GraphQL are thin
layers over the same rules. Only admins manage webhooks; anyone else gets Forbidden.
"""
from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import re
import secrets
import socket
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Mapping
from urllib.parse import urlsplit

from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy import and_, func, or_, select
from sqlalchemy import event as sqla_event
from sqlalchemy import update as sql_update
from sqlalchemy.orm import aliased

from core import db, prometheus
from core import runtime as runtime_module
from core.db import new_id, utcnow
from core.errors import NotFound, ValidationFailed
from core.models import OutboxEvent, Role
from core.models.webhooks import WebhookDelivery, WebhookSubscription
from core.schemas import BoundedList, RecordOut, StrictSchema
from core.services import audit, common
from core.services.permissions import require_role

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
STATUSES = (PENDING, DELIVERED, FAILED)
PING_EVENT = "webhook.ping"
SECRET_PREFIX = "whsec_"
SIGNATURE_HEADER = "X-Trellis-Signature"
#: seconds a POST may take to connect, and then between bytes of the answer, unless told otherwise
#: (``deliver_due`` passes ``TRELLIS_WEBHOOK_TIMEOUT``)
TIMEOUT_SECONDS = 5
#: how long a claimed delivery stays hidden from other workers while it is being sent
CLAIM_SECONDS = 300
MAX_BACKOFF_SECONDS = 24 * 3600
#: the longest delivery error stored (and shown); longer ones are cut
MAX_ERROR_LENGTH = 500
USER_AGENT = "Trellis-Webhooks/1"
#: a subscription's circuit breaker: ``closed`` (sent to), ``open`` (paused until ``breaker_open_until``),
#: ``half_open`` (one trial delivery in flight)
CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"
BREAKER_STATES = (CLOSED, OPEN, HALF_OPEN)
#: the audit actions of the breaker's changes (``webhook_subscription.breaker_opened`` …)
BREAKER_VERBS = {OPEN: "breaker_opened", HALF_OPEN: "breaker_half_opened", CLOSED: "breaker_closed"}
#: the longest an open breaker waits for its trial (unless the configured cooldown is longer)
MAX_COOLDOWN_SECONDS = 3600
#: how often a run waiting on POSTs in flight looks for newly due deliveries to other subscriptions
POLL_SECONDS = 0.25
#: the most deliveries of one subscription one look at the due deliveries takes (the rest come later)
QUEUE_PER_SUBSCRIPTION = 10
#: changes to the webhook machinery itself are audited but never sent to webhooks
UNSENT_RECORD_TYPES = frozenset({"webhook_subscription", "webhook_delivery"})

log = logging.getLogger("trellis.webhooks")

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


class DeliveryListFilter(DeliveryFilter):
    """A subscription's deliveries as a list's filters (``trellis export webhook_deliveries``; REST has the
    subscription in the path)."""

    subscription_id = fields.UUID(required=True, metadata={
        "description": "The subscription whose deliveries are listed."})


# --- output (REST items; `trellis export webhooks` writes the same fields, never the secret) --------

class WebhookBreakerOut(Schema):
    """The subscription's circuit breaker (docs/webhooks.md, "Slow and failing receivers")."""

    class Meta:
        ordered = True

    state = fields.String(metadata={"enum": list(BREAKER_STATES), "description": (
        "closed: deliveries are sent; open: nothing is sent until open_until; half_open: one trial "
        "delivery is being sent (a success closes the breaker, a failure opens it again)")})
    consecutive_failures = fields.Integer(metadata={"description": "Failed attempts in a row; 0 after a success."})
    open_until = fields.DateTime(allow_none=True, metadata={
        "description": "While open, when the trial delivery may be sent; null when closed."})
    last_error = fields.String(allow_none=True, metadata={
        "description": "Why the last of the failures in a row failed; null once a delivery succeeds."})


class WebhookOut(RecordOut):
    url = fields.String()
    description = fields.String()
    events = fields.List(fields.String())
    active = fields.Boolean()
    breaker = fields.Nested(WebhookBreakerOut, dump_only=True)


class DeliveryOut(Schema):
    class Meta:
        ordered = True

    id = fields.UUID()
    subscription_id = fields.UUID()
    event_id = fields.UUID()
    event = fields.String(attribute="event_name")
    status = fields.String(metadata={"description": "pending, delivered or failed"})
    attempts = fields.Integer()
    next_attempt_at = fields.DateTime(allow_none=True)
    last_status_code = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    delivered_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


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
    stmt = filtered_subscriptions(actor, filters)
    return common.paginate(stmt, page, common.parse_sort(sort, SORTABLE, "created_at"), WebhookSubscription.id)


def filtered_subscriptions(actor: Any, filters: Mapping[str, Any] | None = None):
    """The SELECT of the subscriptions :func:`list_subscriptions` lists with ``filters`` (``WebhookFilter``,
    checked: a bad one is a ValidationFailed naming it), unordered; admins only (anyone else: Forbidden)."""
    _admin(actor)
    f = common.validate(WebhookFilter, dict(filters or {}))
    stmt = select(WebhookSubscription).where(common.not_deleted(WebhookSubscription, f.pop("deleted")))
    if "active" in f:
        stmt = stmt.where(WebhookSubscription.active.is_(f["active"]))
    return stmt


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
    if ("url" in changes or changes.get("active") == (False, True)) and \
            (sub.breaker_state != CLOSED or sub.breaker_failures):
        # a new address, or a subscription switched back on: its receiver gets a fresh start
        changes["breaker_state"] = (sub.breaker_state, CLOSED)
        sub.breaker_state, sub.breaker_failures, sub.breaker_open_until, sub.breaker_last_error = CLOSED, 0, None, None
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


def filtered_deliveries(actor: Any, filters: Mapping[str, Any] | None = None):
    """The SELECT of the deliveries :func:`deliveries` lists, its subscription a filter
    (``DeliveryListFilter``: ``subscription_id`` required, ``status``; a bad one is a ValidationFailed naming
    it, and so is a subscription that is missing or deleted), unordered; admins only (anyone else:
    Forbidden). What ``trellis export webhook_deliveries`` reads."""
    _admin(actor)
    f = common.validate(DeliveryListFilter, dict(filters or {}))
    try:
        sub = get(actor, f.pop("subscription_id"))
    except NotFound:
        # a filter, where the list has it in its path: unseen is a bad value, not a missing page
        raise ValidationFailed(fields={"subscription_id": ["No webhook subscription with this id."]}) from None
    return _deliveries(f).where(WebhookDelivery.subscription_id == sub.id)


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


_QUEUED_AT = "trellis.webhooks.queued_at"


def _queue(sub: Any, event: OutboxEvent) -> WebhookDelivery:
    """Queue ``event`` for ``sub``. ``created_at`` is the queue order: strictly later than the delivery
    queued before it in this unit of work (two events about one record in one change keep their order
    even within a microsecond; a later change to the record commits, so queues, later still)."""
    sess = db.session()
    at, last = utcnow(), sess.info.get(_QUEUED_AT)
    if last is not None and at <= last:
        at = last + timedelta(microseconds=1)
    sess.info[_QUEUED_AT] = at
    delivery = WebhookDelivery(subscription_id=sub.id, event_id=event.id, event_name=event.name,
                               status=PENDING, attempts=0, next_attempt_at=at, created_at=at, updated_at=at)
    db.session().add(delivery)
    return delivery


def ping(actor: Any, subscription_id: Any) -> WebhookDelivery:
    """Queue a ``webhook.ping`` delivery to this subscription only (to test the receiver)."""
    user = _admin(actor)
    sub = get(actor, subscription_id)
    # stored like every event so the delivery is built and signed the same way, but not published:
    # no other subscriber or subscription sees it
    event = OutboxEvent(id=new_id(), at=utcnow(), name=PING_EVENT, record_type=sub.__table__.name,
                        record_id=sub.id, actor_id=user.id,
                        payload={"id": str(sub.id), "message": "Ping from Trellis."})
    db.session().add(event)
    db.session().flush()
    delivery = _queue(sub, event)
    db.session().flush()
    return delivery


_CACHE_KEY = "trellis.webhooks.active"      # session.info: the active subscriptions this unit of work uses
_CHANGED_KEY = "trellis.webhooks.changed"   # session.info: a subscription changed in this unit of work
_PROCESS_CACHE = "webhooks.active"          # Database.caches: the process's copy (:class:`_ActiveCache`)
_clock = time.monotonic                     # the copy's age (tests move it)


@dataclass(frozen=True)
class ActiveSubscription:
    """What queueing needs of an active subscription: its id and its event patterns."""

    id: uuid.UUID
    events: tuple[str, ...]


class _ActiveCache:
    """The active subscriptions as this process last read them, and when (``time.monotonic``).

    :meth:`forget` (a subscription changed in this process and committed) empties it and moves
    ``generation`` on, so a read that began before the change cannot put the old list back."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.generation = 0
        self.subs: tuple[ActiveSubscription, ...] | None = None
        self.read_at = 0.0

    def forget(self) -> None:
        with self.lock:
            self.generation += 1
            self.subs = None


def _process_cache(database: Any) -> _ActiveCache:
    cache = database.caches.get(_PROCESS_CACHE)
    return cache if cache is not None else database.caches.setdefault(_PROCESS_CACHE, _ActiveCache())


def _read_active(sess) -> tuple[ActiveSubscription, ...]:
    rows = sess.execute(select(WebhookSubscription.id, WebhookSubscription.events).where(
        WebhookSubscription.active.is_(True), WebhookSubscription.deleted_at.is_(None))).all()
    return tuple(ActiveSubscription(row.id, tuple(row.events or ())) for row in rows)


def _active_subscriptions() -> tuple[ActiveSubscription, ...]:
    """The active subscriptions, as :func:`on_event` queues by them: the process's copy, read again
    once it is ``TRELLIS_WEBHOOK_SUBSCRIPTIONS_CACHE_SECONDS`` old (a change committed in this process
    empties it at once; one made in another process is seen within that bound). A unit of work that
    changed a subscription reads them itself (its own changes included), and so does every unit of
    work when the setting is 0. Either way one unit of work uses one answer."""
    sess = db.session()
    subs = sess.info.get(_CACHE_KEY)
    if subs is not None:
        return subs
    rt = runtime_module.current()
    seconds = rt.settings.webhook_subscriptions_cache_seconds
    if sess.info.get(_CHANGED_KEY) or seconds <= 0 or rt.database is None:
        subs = sess.info[_CACHE_KEY] = _read_active(sess)
        return subs
    cache, now = _process_cache(rt.database), _clock()
    subs = cache.subs
    if subs is None or now - cache.read_at >= seconds:
        generation = cache.generation
        with sess.no_autoflush:  # nothing pending changes the answer (changes go through on_event)
            subs = _read_active(sess)
        with cache.lock:
            if cache.generation == generation:
                cache.subs, cache.read_at = subs, now
    sess.info[_CACHE_KEY] = subs
    return subs


def _forget_on_commit(sess) -> None:
    """After a unit of work that changed a subscription commits: the process reads them again."""
    sess.info.pop(_CHANGED_KEY, None)
    rt = sess.info.get("runtime")
    if rt is not None and rt.database is not None:
        _process_cache(rt.database).forget()


def any_subscription() -> bool:
    """Whether any webhook subscription is active: with none, no event needs queueing (a bulk import
    skips building its thousands of events into objects for :func:`on_event`)."""
    return bool(_active_subscriptions())


def on_event(event: OutboxEvent, actor: Any = None) -> None:
    """The ``*`` subscriber: queue the event for every active subscription whose patterns match it.

    The active subscriptions come from :func:`_active_subscriptions` — in a request, the process's
    copy: no statement. A change to a subscription (every change emits an event through here) makes
    this unit of work read them itself from then on, and empties the process's copy when it commits.
    The sender checks at send time that the subscription is still active and not deleted
    (:func:`_claim`), so a delivery queued from a copy a few seconds old is never sent to a
    subscription switched off meanwhile."""
    sess = db.session()
    if event.record_type in UNSENT_RECORD_TYPES:
        sess.info.pop(_CACHE_KEY, None)
        if not sess.info.get(_CHANGED_KEY):
            sess.info[_CHANGED_KEY] = True
            sqla_event.listen(sess, "after_commit", _forget_on_commit, once=True)
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
    subscription_id: uuid.UUID | None = None


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


# --- the circuit breaker -------------------------------------------------------------------------------

def cooldown(failed_trials: int, base_seconds: float) -> timedelta:
    """How long an open breaker waits before its trial: ``base`` when it opens, doubled after each
    failed trial, at most an hour (or ``base``, when that is longer)."""
    return timedelta(seconds=min(base_seconds * 2 ** min(failed_trials, 20),
                                 max(MAX_COOLDOWN_SECONDS, base_seconds)))


def _set_breaker(sess, sub: WebhookSubscription, before: str, values: dict) -> None:
    """Write ``values`` (breaker columns) to ``sub`` with an UPDATE of its own, so neither ``version``
    nor ``updated_at`` moves (an admin editing the subscription meanwhile gets no 409)."""
    sess.execute(sql_update(WebhookSubscription).where(WebhookSubscription.id == sub.id)
                 .values(**values, updated_at=WebhookSubscription.updated_at)
                 .execution_options(synchronize_session=False))
    _breaker_changed(sub, before, values)


def _breaker_changed(sub: WebhookSubscription, before: str, values: dict) -> None:
    """Audit (as the system: no actor) and log a change of the breaker's state; ``sub`` holds the
    values before it."""
    after = values.get("breaker_state", before)
    if after == before:
        return
    changes: dict[str, tuple[Any, Any]] = {"breaker_state": (before, after)}
    if "breaker_open_until" in values:
        changes["breaker_open_until"] = (sub.breaker_open_until, values["breaker_open_until"])
    if after == OPEN:
        changes["breaker_failures"] = (sub.breaker_failures, values.get("breaker_failures", sub.breaker_failures))
        changes["breaker_last_error"] = (sub.breaker_last_error, values.get("breaker_last_error"))
    audit.record_change(None, BREAKER_VERBS[after], sub, changes)
    (log.warning if after == OPEN else log.info)(
        "webhook %s (%s): breaker %s -> %s%s", sub.id, sub.url, before, after,
        f" until {values['breaker_open_until'].isoformat()} after {values.get('breaker_failures')} failures in a row: "
        f"{values.get('breaker_last_error')}" if after == OPEN else "")


def _breaker_after(rt, sess, subscription_id: uuid.UUID, outcome: Outcome, at: datetime) -> None:
    """Count the outcome of an attempt on the subscription's breaker: a success closes it; a failure
    adds one to the failures in a row, and opens the breaker at the threshold or when the trial failed."""
    sub = sess.execute(select(WebhookSubscription).where(WebhookSubscription.id == subscription_id)
                       .with_for_update(key_share=True)).scalar_one_or_none()  # FOR NO KEY UPDATE: queueing goes on
    if sub is None:
        return
    settings, before = rt.settings, sub.breaker_state
    if outcome.ok:
        if before != CLOSED or sub.breaker_failures:
            _set_breaker(sess, sub, before, {"breaker_state": CLOSED, "breaker_failures": 0,
                                             "breaker_open_until": None, "breaker_last_error": None})
        return
    failures, threshold = sub.breaker_failures + 1, settings.webhook_breaker_threshold
    values: dict[str, Any] = {"breaker_failures": failures,
                              "breaker_last_error": (outcome.error or "Failed.")[:MAX_ERROR_LENGTH]}
    if before == HALF_OPEN or (before == CLOSED and failures >= threshold):
        values["breaker_state"] = OPEN
        values["breaker_open_until"] = at + cooldown(max(0, failures - threshold),
                                                     settings.webhook_breaker_cooldown_seconds)
    _set_breaker(sess, sub, before, values)


# --- claiming, sending, recording ----------------------------------------------------------------------

class _NotOurs(Exception):
    """Raised inside a claim's unit of work to roll it back: the trial belongs to another worker."""


#: what :func:`_claim` answers when nothing more may be sent to the subscription in this run
SKIP_SUBSCRIPTION = "skip subscription"


def _claim(rt, delivery_id: uuid.UUID, now: datetime) -> Outgoing | str | None:
    """Take one due delivery (hide it from other workers for a while) and build its request.

    None: the delivery is no longer ours to send (another worker took it, or it is not due).
    :data:`SKIP_SUBSCRIPTION`: its subscription is paused, deleted, or its breaker is open (or its
    half-open trial is another worker's). When the breaker's cooldown has passed, the delivery becomes
    the trial: the breaker goes ``half_open`` in the same unit of work, which only one worker wins."""
    try:
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
                return SKIP_SUBSCRIPTION
            claimed = sess.execute(
                sql_update(WebhookDelivery)
                .where(WebhookDelivery.id == delivery_id, WebhookDelivery.status == PENDING,
                       WebhookDelivery.next_attempt_at <= now)
                .values(next_attempt_at=now + timedelta(seconds=CLAIM_SECONDS))
                .execution_options(synchronize_session=False))
            if claimed.rowcount != 1:  # another worker took it, or it is no longer due
                return None
            if sub.breaker_state != CLOSED:
                trial = sess.execute(
                    sql_update(WebhookSubscription)
                    .where(WebhookSubscription.id == sub.id,
                           WebhookSubscription.breaker_state.in_((OPEN, HALF_OPEN)),
                           WebhookSubscription.breaker_open_until <= now)
                    .values(breaker_state=HALF_OPEN, breaker_open_until=now + timedelta(seconds=CLAIM_SECONDS),
                            updated_at=WebhookSubscription.updated_at)
                    .execution_options(synchronize_session=False))
                if trial.rowcount != 1:
                    raise _NotOurs  # still open, or another worker sends the trial: release the claim
                _breaker_changed(sub, sub.breaker_state, {
                    "breaker_state": HALF_OPEN, "breaker_open_until": now + timedelta(seconds=CLAIM_SECONDS)})
            body = body_of(delivery, event)
            timestamp = int(time.time())
            return Outgoing(delivery_id=delivery.id, url=sub.url, body=body, headers={
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                "X-Trellis-Event": delivery.event_name,
                "X-Trellis-Delivery": str(delivery.id),
                SIGNATURE_HEADER: f"t={timestamp},v1={sign(sub.secret, timestamp, body)}",
            }, subscription_id=sub.id)
    except _NotOurs:
        return SKIP_SUBSCRIPTION


def _record(rt, delivery_id: uuid.UUID, outcome: Outcome, now: datetime) -> None:
    """Record an attempt's outcome on the delivery and on its subscription's breaker, unless another
    worker has settled the delivery meanwhile (this POST outlived its claim)."""
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
        sess.flush()
        _breaker_after(rt, sess, delivery.subscription_id, outcome, now)
        queued_at, status = delivery.created_at, delivery.status
    # counted once the outcome is committed; the latency runs to now (``now`` is when the round found it due)
    prometheus.delivery_attempted(DELIVERED if status == DELIVERED else FAILED if status == FAILED else "retry",
                                  queued_at)


def _due(rt, at: datetime, limit: int, exclude: set) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Up to ``limit`` deliveries that may be sent at ``at``, as ``(delivery id, subscription id)``,
    each subscription's in queue order (at most :data:`QUEUE_PER_SUBSCRIPTION` of each, so one long
    backlog does not crowd the others out), subscriptions in ``exclude`` left out.

    Sendable: pending and due, to an active subscription whose breaker is closed (or whose cooldown
    has passed: the trial), and no earlier delivery about the same record to the same subscription is
    still pending — that is what keeps one record's events in order at each receiver."""
    D, S, E = WebhookDelivery, WebhookSubscription, OutboxEvent
    D2, E2 = aliased(WebhookDelivery), aliased(OutboxEvent)
    earlier = (select(D2.id).join(E2, E2.id == D2.event_id)
               .where(D2.subscription_id == D.subscription_id, D2.status == PENDING,
                      E2.record_id == E.record_id, E2.record_type == E.record_type,
                      or_(D2.created_at < D.created_at, and_(D2.created_at == D.created_at, D2.id < D.id))))
    place = func.row_number().over(partition_by=D.subscription_id, order_by=(D.created_at, D.id)).label("place")
    stmt = (select(D.id, D.subscription_id, D.next_attempt_at, D.created_at, place)
            .join(S, S.id == D.subscription_id)
            .join(E, E.id == D.event_id)
            .where(D.status == PENDING, D.next_attempt_at <= at,
                   S.active.is_(True), S.deleted_at.is_(None),
                   or_(S.breaker_state == CLOSED, S.breaker_open_until <= at),
                   ~earlier.exists()))
    if exclude:
        stmt = stmt.where(D.subscription_id.not_in(list(exclude)))
    ranked = stmt.subquery()
    with rt.database.unit_of_work() as sess:
        rows = sess.execute(
            select(ranked.c.id, ranked.c.subscription_id)
            .where(ranked.c.place <= QUEUE_PER_SUBSCRIPTION)
            .order_by(ranked.c.next_attempt_at, ranked.c.created_at, ranked.c.id)
            .limit(limit)).all()
    return [(row.id, row.subscription_id) for row in rows]


def _posted(future) -> Outcome:
    try:
        return future.result()
    except Exception as exc:  # post never raises; a replaced one might: a failed attempt all the same
        return Outcome(None, f"{type(exc).__name__}: {exc}")


def deliver_due(now: datetime | None = None, *, limit: int = 100, runtime=None) -> int:
    """Send up to ``limit`` due deliveries; return how many were attempted.

    Deliveries to different subscriptions go out at once (up to ``TRELLIS_WEBHOOK_CONCURRENCY`` POSTs
    in flight, on a thread pool); each subscription gets one at a time, in queue order, so a slow or
    dead receiver holds only its own. After a failed attempt a subscription gets nothing more in this
    run; its breaker counts the failure (:func:`_breaker_after`). While POSTs are in flight the run
    looks for deliveries that became due since it started (every :data:`POLL_SECONDS`, and as soon as a
    subscription's queue is empty), so a run waiting on a slow receiver still sends new events to the
    others at once. It returns when nothing is in flight and nothing more is due, or ``limit`` is reached.

    Only the calling thread touches the database: each delivery is claimed in a short unit of work,
    POSTed (on the pool, no transaction open), and its outcome recorded in another short one.
    ``now`` (default: the current time) is when the run starts; deliveries found later in the run are
    judged by ``now`` plus the time elapsed. ``runtime`` defaults to the runtime of the open unit of
    work (``trellis tick``); a worker without one passes the app's runtime."""
    rt = runtime or runtime_module.current()
    settings = rt.settings
    start, began = now or utcnow(), time.monotonic()
    allow_private, timeout = _allow_private(rt), settings.webhook_timeout
    width = max(1, int(settings.webhook_concurrency))

    queues: dict[uuid.UUID, deque] = {}   # subscription -> [(delivery id, the time it was found due)]
    in_flight: dict[Any, tuple[uuid.UUID, uuid.UUID, datetime]] = {}   # future -> (subscription, delivery, at)
    finished: set[uuid.UUID] = set()      # subscriptions that get nothing more in this run
    seen: set[uuid.UUID] = set()          # deliveries this run has tried to claim
    attempted = 0

    def refill(at: datetime) -> int:
        busy = {sub for sub, _d, _a in in_flight.values()}
        found = 0
        for delivery_id, sub in _due(rt, at, max(1, limit - attempted), finished | busy | set(queues)):
            if delivery_id not in seen:
                queues.setdefault(sub, deque()).append((delivery_id, at))
                found += 1
        return found

    pool = ThreadPoolExecutor(max_workers=width, thread_name_prefix="trellis-webhooks")
    try:
        refill(start)
        polled = time.monotonic()
        while True:
            busy = {sub for sub, _d, _a in in_flight.values()}
            for sub in list(queues):
                if len(in_flight) >= width or attempted >= limit:
                    break
                if sub in busy:
                    continue
                queue = queues[sub]
                while queue:
                    delivery_id, at = queue.popleft()
                    seen.add(delivery_id)
                    outgoing = _claim(rt, delivery_id, at)
                    if outgoing == SKIP_SUBSCRIPTION:
                        finished.add(sub)
                        queue.clear()
                    elif outgoing is not None:
                        future = pool.submit(post, outgoing, timeout=timeout, allow_private=allow_private)
                        in_flight[future] = (sub, delivery_id, at)
                        attempted += 1
                        break
                if not queue:
                    del queues[sub]
            if not in_flight:
                if queues and attempted < limit:
                    continue  # claims were lost to another worker: try the next in each queue
                if attempted >= limit or not refill(start + timedelta(seconds=time.monotonic() - began)):
                    return attempted
                polled = time.monotonic()
                continue
            done, _ = wait(list(in_flight), timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
            freed = False
            for future in done:
                sub, delivery_id, at = in_flight.pop(future)
                outcome = _posted(future)
                _record(rt, delivery_id, outcome, at)
                if outcome.ok:
                    freed = freed or sub not in queues
                else:
                    finished.add(sub)
                    queues.pop(sub, None)
            if attempted < limit and len(in_flight) < width and (freed or time.monotonic() - polled >= POLL_SECONDS):
                refill(start + timedelta(seconds=time.monotonic() - began))
                polled = time.monotonic()
    finally:
        pool.shutdown(wait=not in_flight, cancel_futures=True)


def delivery_job():
    """The ``webhooks.deliver`` job of ``trellis tick``."""
    from core.jobs import Job

    return Job("webhooks.deliver", lambda now: deliver_due(now),
               "POST due webhook deliveries; retry failures with backoff.")


__all__ = [
    "BREAKER_STATES", "CLOSED", "HALF_OPEN", "OPEN", "cooldown",
    "DELIVERED", "DELIVERY_SORTABLE", "FAILED", "PENDING", "PING_EVENT", "SORTABLE", "WebhookCreate", "WebhookUpdate", "backoff", "create",
    "DeliveryListFilter", "DeliveryOut", "delete", "deliver_due", "deliveries", "filtered_deliveries", "filtered_subscriptions", "WebhookOut", "delivery_job", "get", "get_delivery", "list_subscriptions",
    "matches", "on_event", "ping", "post", "replay", "restore", "sign", "update",
]
