"""Fixtures of the retail membership tests: two stores with a staff member each, and helpers that build
members and purchases through the REST API."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest

BASE = "/api/v1/retail-membership"


@dataclass
class Shop:
    api: object
    runtime: object
    people: object
    north: dict
    south: dict
    staff_north: object
    staff_south: object


@pytest.fixture
def shop(api, runtime, people):
    from core.services import users
    from plugins.retail_membership import services

    north = api.post(f"{BASE}/stores", json={"code": "N01", "name": "North Mall", "kind": "clothing",
                                              "city": "Shanghai"}).get_json()
    south = api.post(f"{BASE}/stores", json={"code": "S01", "name": "South Street", "kind": "cosmetics",
                                              "city": "Guangzhou"}).get_json()
    with runtime.database.unit_of_work():
        staff_north = users.create_user(people.admin, {"email": "nina@shop.example", "name": "Nina North",
                                                       "role": "store_staff"})
        staff_south = users.create_user(people.admin, {"email": "sam@shop.example", "name": "Sam South",
                                                       "role": "store_staff"})
        services.assign_staff(people.admin, north["id"], {"user_id": str(staff_north.id)})
        services.assign_staff(people.admin, south["id"], {"user_id": str(staff_south.id)})
        api.tokens["staff_north"] = users.create_token(staff_north)[1]
        api.tokens["staff_south"] = users.create_token(staff_south)[1]
    return Shop(api, runtime, people, north, south, staff_north, staff_south)


def enrol(api, store, name="Li Lei", who="admin", **extra):
    response = api.as_(who).post(f"{BASE}/memberships", json={"customer": {"name": name},
                                                              "home_store_id": store["id"], **extra})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def when(days_ago: float = 0, base: datetime | None = None) -> str:
    base = base or datetime.now(timezone.utc)
    return (base - timedelta(days=days_ago)).replace(microsecond=0).isoformat()


def sale(pos_id, card, store_code="N01", total="100.00", days_ago=1.0, lines=None, **extra):
    """A POS sale's body; without ``lines``, one line of the whole total (a sale has at least one)."""
    if lines is None:
        lines = [{"sku": "ITEM", "category": "general", "quantity": 1, "unit_price": total}]
    return {"pos_transaction_id": pos_id, "store_code": store_code, "card_number": card,
            "occurred_at": when(days_ago), "total": total, "lines": lines, **extra}


def buy(api, body, who="admin", status=201):
    response = api.as_(who).post(f"{BASE}/purchases", json=body)
    assert response.status_code == status, response.get_json()
    return response.get_json()


def member(api, membership_id, who="admin"):
    response = api.as_(who).get(f"{BASE}/memberships/{membership_id}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def ledger(api, membership_id, who="admin"):
    response = api.as_(who).get(f"{BASE}/memberships/{membership_id}/ledger?page_size=100")
    assert response.status_code == 200, response.get_json()
    return response.get_json()
