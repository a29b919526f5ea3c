"""What a merge of two customers (``trellis_merge_customers``, core.services.duplicates) does to retail
membership. A customer has at most one member card, so:

- only the duplicate has a card: the card moves to the survivor (audited), with its purchases, points and tier;
- both have a live card: the survivor keeps its card and number; the duplicate's points balance moves to it
  as two audited ``adjust`` entries (a debit on the old card, a credit on the survivor's, which expires like
  any credit, ``points_expiry_days`` from the merge; expired points are settled first and do not move); the
  old card is deleted (audited). Its purchases, refunds and ledger stay on the old card, so its history still
  reads as it happened, but the purchases now belong to the survivor's customer record (``customer_id``).
  The survivor's spend and tier are not recomputed from the old card's purchases;
- the survivor's card is deleted and the duplicate's live: refused (409 on ``merged_id``): restore or
  remove one card first;
- the duplicate's card is deleted: it stays with the duplicate; its purchases move.

In every case every purchase of the duplicate moves to the survivor (``customer_id``, audited)."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from core import db
from core.db import utcnow
from core.errors import Conflict
from core.services import audit
from core.services.duplicates import move_customer_rows
from plugins.retail_membership import services
from plugins.retail_membership.models import RetailMembership, RetailPurchase


def _card(customer) -> RetailMembership | None:
    return db.session().scalars(select(RetailMembership).where(RetailMembership.customer_id == customer.id)).first()


def _move_points(actor: Any, keep: RetailMembership, old: RetailMembership, survivor) -> int:
    now = utcnow()
    services.lock_members([keep.id, old.id])
    services.settle_expiry(old.id, now)
    points = services.balance_of(old.id)
    if points <= 0:
        return 0
    debit = services._append(old.id, "adjust", -points, at=now, actor=actor,
                             reason=f"Customer merged into {survivor.id}: points moved to card {keep.card_number}.")
    credit = services._append(keep.id, "adjust", points, at=now, actor=actor, expires_at=services.lot_expiry(now),
                              reason=f"Points of card {old.card_number}, whose customer was merged into this one.")
    for entry, membership in ((debit, old), (credit, keep)):
        audit.record_change(actor, "created", entry, {"kind": (None, "adjust"), "points": (None, entry.points),
                                                      "reason": (None, entry.reason)},
                            payload={"membership_id": membership.id, "balance_after": entry.balance_after})
    return points


def merge(actor: Any, survivor, merged) -> dict[str, int]:
    keep, old = _card(survivor), _card(merged)
    moved: dict[str, int] = {}
    if old is not None and old.deleted_at is None:
        if keep is None:
            moved["memberships"] = move_customer_rows(actor, RetailMembership, "customer_id", survivor, merged)
        elif keep.deleted_at is not None:
            raise Conflict("The customer that stays has a deleted member card and the duplicate a live one: "
                           "restore or remove one of the two cards first.",
                           fields={"merged_id": [f"Both have a member card ({keep.card_number} deleted, "
                                                 f"{old.card_number} live)."]})
        else:
            moved["points"] = _move_points(actor, keep, old, survivor)
            old.deleted_at = utcnow()
            db.session().flush()
            audit.record_change(actor, "deleted", old, payload={
                "merged_into": survivor.id, "kept_card": keep.card_number,
                "reason": "the customer was merged into one with a card of its own"})
            moved["memberships_retired"] = 1
    moved["purchases"] = move_customer_rows(actor, RetailPurchase, "customer_id", survivor, merged)
    return {k: v for k, v in moved.items() if v}
