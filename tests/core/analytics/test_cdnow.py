"""The CDNOW sample shipped in the package (core/analytics/data/), loaded as customers with purchases
through the core's bulk path and refreshed as of 1997-09-30 over REST, gives the published BG/NBD and
Gamma-Gamma parameters (issue #15). The end-to-end test through `trellis import` follows when the importer
lands; this one loads the rows the way an import does (BulkRecorder: rows, audit entries and events)."""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime, time, timezone

from sqlalchemy import func, select

from core.analytics import cdnow
from core.models import Customer, Interaction
from core.models.audit import AuditEntry
from core.services.bulk import BulkRecorder


def load_cdnow(runtime, admin):
    """Every sample customer (named by their CDNOW id) and purchase (at noon UTC), each audited."""
    by_customer = defaultdict(list)
    for purchase in cdnow.purchases():
        by_customer[purchase.customer].append(purchase)
    with runtime.database.unit_of_work():
        recorder = BulkRecorder(admin)
        for number, bought in by_customer.items():
            first = datetime.combine(bought[0].day, time(12), tzinfo=timezone.utc)
            name = f"CDNOW customer {number:05d}"
            stage = "repeat" if len({p.day for p in bought}) > 1 else "first_purchase"
            customer = recorder.add(Customer, kind="person", name=name, stage=stage, version=1, created_at=first,
                                    updated_at=first, deleted_at=None)
            recorder.change("created", customer, {"kind": (None, "person"), "name": (None, name)}, at=first)
            for p in bought:
                at = datetime.combine(p.day, time(12), tzinfo=timezone.utc)
                row = recorder.add(Interaction, customer_id=customer.id, kind="purchase", direction="inbound",
                                   status="done", subject=f"{p.cds} CD(s)", occurred_at=at, amount=p.amount,
                                   source="core", version=1, created_at=at, updated_at=at, deleted_at=None,
                                   created_by_id=admin.id)
                recorder.change("created", row, {"customer_id": (None, customer.id), "kind": (None, "purchase"),
                                                 "amount": (None, p.amount), "occurred_at": (None, at)},
                                payload={"customer_id": customer.id, "kind": "purchase", "source": "core"}, at=at)
        return recorder.flush([Customer, Interaction])


def test_cdnow_refreshed_as_of_the_calibration_end_gives_the_published_parameters_over_rest(api, runtime, people):
    written = load_cdnow(runtime, people.admin)
    assert (written["customer"], written["interaction"], written["audit_entry"]) == (2357, 6919, 2357 + 6919)

    response = api.as_("admin").post("/api/v1/analytics/refresh", json={"as_of": "1997-09-30"})
    assert response.status_code == 201, response.get_json()
    run = api.as_("admin").get("/api/v1/analytics/runs/latest").get_json()
    assert run["id"] == response.get_json()["id"] and run["as_of"] == "1997-09-30" and run["current"] is True
    bg, gg = run["params"]["bgnbd"], run["params"]["gamma_gamma"]
    assert bg["converged"] and gg["converged"] and bg["customers"] == 2357
    assert {k: round(bg[k], 4) for k in ("r", "alpha", "a", "b")} == cdnow.PUBLISHED["bgnbd"]
    assert {k: round(gg[k], 2) for k in ("p", "q", "gamma")} == cdnow.PUBLISHED["gamma_gamma"]
    assert round(bg["log_likelihood"], 1) == -9582.4
    assert run["purchasers"] == 2357 and run["customers"] == 2357

    # RFM on real, skewed data (60 % bought once by then): one-time buyers score F = 1, and every F = 1
    # segment but new_customers (nobody first bought after March) is filled
    segments = {r["group"]["rfm_segment"]: r["value"] for r in
                api.as_("admin").get("/api/v1/metrics/analytics_rfm_segments").get_json()["rows"]}
    for key in ("promising", "about_to_sleep", "hibernating", "lost", "champions", "loyal"):
        assert segments.get(key, 0) > 0, segments
    assert "new_customers" not in segments
    tiers = {r["group"]["value_tier"]: r["value"] for r in
             api.as_("admin").get("/api/v1/metrics/analytics_value_tiers").get_json()["rows"]}
    assert sum(tiers.values()) == 2357 and all(tiers[k] > 0 for k in ("key", "major", "regular", "small"))
    with runtime.database.unit_of_work() as sess:
        assert sess.scalar(select(func.count()).select_from(AuditEntry)
                           .where(AuditEntry.action == "interaction.created")) == 6919
