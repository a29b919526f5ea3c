"""Concurrent redemptions cannot overdraw a balance: real threads, each with its own connection and
transaction, on a database of their own (a fresh schema on PostgreSQL, a file on SQLite).

PostgreSQL serialises them with ``SELECT … FOR UPDATE`` on the member's row: every redemption that fits
succeeds, the rest are refused with 422. SQLite takes its database write lock with an UPDATE of the row:
a writer that cannot get it is refused with 409 — either way, never an overdraft."""
from __future__ import annotations

import threading
from dataclasses import dataclass

import pytest

from api.app import create_app
from api.testing import app_config, scratch_database
from core.errors import Conflict, ValidationFailed


@pytest.fixture
def own_database(tmp_path):
    with scratch_database(tmp_path / "concurrency.db", name="trellis_rm") as url:
        yield url


@dataclass
class Shop:
    runtime: object
    admin: object
    member: object


@pytest.fixture
def own_shop(own_database):
    """An app of its own on ``own_database`` with an admin, one store (C1) and one member; disposed after."""
    from core.migrate import upgrade
    from core.services import users
    from plugins.retail_membership import services

    app = create_app(app_config(own_database, PLUGINS="retail_membership"))
    runtime = app.extensions["trellis"]
    upgrade(runtime)
    with runtime.database.unit_of_work():
        admin = users.create_user(None, {"email": "admin@example.com", "role": "admin"})
        store = services.create_store(admin, {"code": "C1", "name": "Corner"})
        member = services.create_membership(admin, {"customer": {"name": "Busy"}, "home_store_id": str(store.id)})
    try:
        yield Shop(runtime, admin, member)
    finally:
        runtime.database.dispose()


def run_together(action, threads_n: int) -> list[str]:
    """Run ``action`` in ``threads_n`` threads released at once; their results, in finishing order."""
    barrier = threading.Barrier(threads_n)
    outcomes: list[str] = []
    lock = threading.Lock()

    def run():
        barrier.wait()
        result = action()
        with lock:
            outcomes.append(result)

    workers = [threading.Thread(target=run) for _ in range(threads_n)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=60)
    return outcomes


def test_concurrent_redemptions_never_overdraw(own_shop):
    from plugins.retail_membership import services

    runtime, admin, member = own_shop.runtime, own_shop.admin, own_shop.member
    with runtime.database.unit_of_work():
        services.adjust(admin, member.id, {"points": 100, "reason": "opening balance"})
    threads_n, each = 12, 30

    def redeem():
        try:
            with runtime.database.unit_of_work():
                services.redeem(admin, member.id, {"points": each})
            return "ok"
        except ValidationFailed:
            return "refused"
        except Conflict:
            return "busy"

    outcomes = run_together(redeem, threads_n)
    assert len(outcomes) == threads_n
    granted = outcomes.count("ok")
    with runtime.database.unit_of_work():
        balance = services.balance_of(member.id)
        entries = services.ledgers_for([member.id], 100)[member.id]
    assert balance == 100 - each * granted >= 0
    assert all(e.balance_after >= 0 for e in entries)
    if runtime.database.engine.dialect.name == "postgresql" or "busy" not in outcomes:
        # PostgreSQL queues every writer on the row lock; SQLite does too on its write lock, unless one
        # waits past the busy timeout: then exactly what PostgreSQL gives
        assert (granted, outcomes.count("refused")) == (3, threads_n - 3), outcomes
    else:  # the writers that waited too long were refused whole with 409; the others kept to the balance
        assert set(outcomes) <= {"ok", "refused", "busy"} and 1 <= granted <= 3, outcomes


def test_simultaneous_retries_of_one_pos_transaction_record_it_once(own_shop):
    """A POS that resends a sale while the first upload is still in flight gets the first purchase back
    (created False), not a unique-constraint error; the member's spend and points count it once."""
    from datetime import datetime, timezone

    from sqlalchemy import func, select

    from plugins.retail_membership import services
    from plugins.retail_membership.models import RetailPurchase

    runtime, admin, member = own_shop.runtime, own_shop.admin, own_shop.member
    with runtime.database.unit_of_work():
        card = member.card_number
    sale = {"pos_transaction_id": "T-RETRY", "store_code": "C1", "card_number": card, "total": "100.00",
            "occurred_at": datetime.now(timezone.utc).isoformat(),
            "lines": [{"sku": "S", "category": "shirts", "quantity": 1, "unit_price": "100.00"}]}
    threads_n = 8

    def upload():
        try:
            with runtime.database.unit_of_work():
                _, created = services.record_purchase(admin, sale)
            return "created" if created else "replayed"
        except Conflict:
            return "busy"
        except Exception as exc:  # noqa: BLE001 - the test names whatever escaped
            return type(exc).__name__

    outcomes = run_together(upload, threads_n)
    assert outcomes.count("created") == 1, outcomes
    if runtime.database.engine.dialect.name == "postgresql" or "busy" not in outcomes:
        assert outcomes.count("replayed") == threads_n - 1, outcomes
    else:  # SQLite refuses a writer that waited past its busy timeout with 409, whole
        assert set(outcomes) <= {"created", "replayed", "busy"}, outcomes
    with runtime.database.unit_of_work() as sess:
        assert sess.scalar(select(func.count()).select_from(RetailPurchase)) == 1
        assert services.balance_of(member.id) == 100


@pytest.mark.parametrize("amount", [None, "10.00"])  # a full refund, a partial one
def test_simultaneous_retries_of_one_pos_refund_record_it_once(own_shop, amount):
    from datetime import datetime, timezone

    from sqlalchemy import func, select

    from plugins.retail_membership import services
    from plugins.retail_membership.models import RetailRefund

    runtime, admin, member = own_shop.runtime, own_shop.admin, own_shop.member
    with runtime.database.unit_of_work():
        purchase, _ = services.record_purchase(admin, {
            "pos_transaction_id": "T-1", "store_code": "C1", "card_number": member.card_number, "total": "100.00",
            "occurred_at": datetime.now(timezone.utc).isoformat(),
            "lines": [{"sku": "S", "category": "shirts", "quantity": 1, "unit_price": "100.00"}]})
    body = {"purchase_id": str(purchase.id), "pos_refund_id": "R-RETRY", "reason": "returned",
            **({"amount": amount} if amount else {})}

    def send():
        try:
            with runtime.database.unit_of_work():
                _, created = services.refund(admin, body)
            return "created" if created else "replayed"
        except Conflict:
            return "busy"
        except Exception as exc:  # noqa: BLE001 - the test names whatever escaped
            return type(exc).__name__

    outcomes = run_together(send, 6)
    assert outcomes.count("created") == 1, outcomes
    if runtime.database.engine.dialect.name == "postgresql" or "busy" not in outcomes:
        assert outcomes.count("replayed") == 5, outcomes
    else:  # SQLite refuses a writer that waited past its busy timeout with 409, whole
        assert set(outcomes) <= {"created", "replayed", "busy"}, outcomes
    with runtime.database.unit_of_work() as sess:
        assert sess.scalar(select(func.count()).select_from(RetailRefund)) == 1
