"""The CDNOW sample shipped in the package (core/analytics/data/), imported with `trellis import` (customers,
then their purchases, from the files ``cdnow.write_import_files`` writes) and refreshed as of 1997-09-30 over
REST, gives the published BG/NBD and Gamma-Gamma parameters (issue #15); `trellis demo --dataset cdnow` does
the same. Every imported row is audited (through the bulk recorder, as any import)."""
from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import func, select

from api.cli import build_cli
from core.analytics import cdnow
from core.models import Customer, Interaction
from core.models.audit import AuditEntry


def test_cdnow_imported_with_trellis_import_and_refreshed_as_of_the_calibration_end_gives_the_published_parameters(
        app, api, runtime, people, tmp_path):
    customers_csv, purchases_csv = cdnow.write_import_files(tmp_path)
    for record_type, path in (("customers", customers_csv), ("interactions", purchases_csv)):
        result = CliRunner().invoke(build_cli(app), ["import", record_type, str(path)], catch_exceptions=False)
        assert result.exit_code == 0, result.output
    rerun = CliRunner().invoke(build_cli(app), ["import", "interactions", str(purchases_csv)], catch_exceptions=False)
    assert "0 created, 0 updated, 6,919 unchanged" in rerun.output, rerun.output
    with runtime.database.unit_of_work() as sess:
        assert sess.scalar(select(func.count()).select_from(Customer).where(Customer.external_id.like("cdnow-%"))) == 2357
        assert sess.scalar(select(func.count()).select_from(AuditEntry)
                           .where(AuditEntry.action == "customer.created")) == 2357
    assert_published_parameters_over_rest(api, runtime)


def assert_published_parameters_over_rest(api, runtime):
    response = api.as_("admin").post("/api/v1/analytics/refresh?wait=true", json={"as_of": "1997-09-30"})
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
    with runtime.database.unit_of_work() as sess:  # every purchase audited (the refresh adds win-back tasks)
        assert sess.scalar(select(func.count()).select_from(AuditEntry)
                           .join(Interaction, Interaction.id == AuditEntry.record_id)
                           .where(AuditEntry.action == "interaction.created", Interaction.kind == "purchase")) == 6919
