"""What a merge of two customers (``trellis_merge_customers``, core.services.duplicates) does to property
service: the duplicate's occupancies (owner, tenant, family of a unit) and service requests move to the
survivor, each audited; nothing is refused (neither is unique per customer)."""
from __future__ import annotations

from typing import Any

from core.services.duplicates import move_customer_rows
from plugins.property_service.models import PsOccupancy, PsRequest


def merge(actor: Any, survivor, merged) -> dict[str, int]:
    moved = {"occupancies": move_customer_rows(actor, PsOccupancy, "customer_id", survivor, merged),
             "requests": move_customer_rows(actor, PsRequest, "requester_id", survivor, merged)}
    return {k: v for k, v in moved.items() if v}
