"""Notifications: stored per user, read over the API, and handed to ``trellis_deliver_notification``."""
from __future__ import annotations

from typing import Any, Mapping

from marshmallow import fields
from sqlalchemy import select, update

from core import db, runtime
from core.db import utcnow
from core.errors import NotFound
from core.models import Notification, User
from core.schemas import StrictSchema
from core.services import common
from core.services.audit import jsonable
from core.services.permissions import require_actor


def notify(user: User, kind: str, title: str, body: str = "", *, record: Any = None,
           data: Mapping[str, Any] | None = None, dedupe_key: str | None = None) -> Notification | None:
    """Store a notification for ``user`` and hand it to every delivery hook.

    With ``dedupe_key``, a second call with the same key sends nothing and returns None — this is what
    makes reminders and alerts idempotent."""
    sess = db.session()
    if dedupe_key is not None:
        key = f"{user.id}:{dedupe_key}"[:200]
        if sess.scalar(select(Notification.id).where(Notification.dedupe_key == key)) is not None:
            return None
    else:
        key = None
    note = Notification(user_id=user.id, kind=kind, title=title[:200], body=body, dedupe_key=key,
                        record_type=record.__table__.name if record is not None else None,
                        record_id=record.id if record is not None else None, data=jsonable(dict(data or {})))
    sess.add(note)
    sess.flush()
    runtime.current().plugins.pm.hook.trellis_deliver_notification(notification=note, user=user)
    return note


def visible(actor: Any):
    """SELECT of the actor's own notifications (nobody reads anyone else's)."""
    user = require_actor(actor)
    return select(Notification).where(Notification.user_id == user.id)


#: the orderings of :func:`list_for` (``sort``)
SORTABLE = {"created_at": Notification.created_at, "read_at": Notification.read_at, "kind": Notification.kind}


class NotificationFilter(StrictSchema):
    """The filters of the caller's notifications (``GET /notifications``, ``trellis export notifications``)."""

    unread = fields.Boolean(load_default=False, metadata={"description": "Only those not yet read."})


def _notifications(actor: Any, unread: bool):
    stmt = visible(actor)
    if unread:
        stmt = stmt.where(Notification.read_at.is_(None))
    return stmt


def filtered(actor: Any, filters: Mapping[str, Any] | None = None):
    """The SELECT of the notifications :func:`list_for` lists with ``filters`` (``NotificationFilter``,
    checked: a bad one is a ValidationFailed naming it): the actor's own, unordered."""
    f = common.validate(NotificationFilter, dict(filters or {}))
    return _notifications(actor, f["unread"])


def list_for(actor: Any, *, unread: bool = False, page: common.PageRequest = common.PageRequest(),
             sort: str | None = None) -> common.Page[Notification]:
    """The actor's notifications, newest first (``sort``: keys of ``SORTABLE``, "-" for descending);
    ``unread``: only those not yet read."""
    return common.paginate(_notifications(actor, unread), page, common.parse_sort(sort, SORTABLE, "-created_at"),
                           Notification.id)


def mark_read(actor: Any, notification_id: Any) -> Notification:
    user = require_actor(actor)
    note = db.session().get(Notification, common.parse_uuid(notification_id))
    if note is None or note.user_id != user.id:
        raise NotFound("No notification with this id.")
    if note.read_at is None:
        note.read_at = utcnow()
        db.session().flush()
    return note


def mark_all_read(actor: Any) -> int:
    user = require_actor(actor)
    result = db.session().execute(update(Notification).where(Notification.user_id == user.id,
                                                             Notification.read_at.is_(None))
                                  .values(read_at=utcnow()))
    return result.rowcount or 0
