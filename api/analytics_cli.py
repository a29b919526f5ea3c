"""``trellis analytics refresh``: the command-line transport of ``core.services.analytics``."""
from __future__ import annotations

import click


@click.group("analytics")
def analytics_group():
    """Customer analytics: RFM, value tiers, segments, CLV, churn warning (docs/analytics.md)."""


@analytics_group.command("refresh")
@click.option("--as-of", "as_of", metavar="DATE",
              help="Analyse as of this day (YYYY-MM-DD, UTC): purchases up to its end count and it stands for "
                   "today. Not in the future; default today.")
@click.option("--calibration-start", "calibration_start", metavar="DATE",
              help="Fit the CLV models (BG/NBD, Gamma-Gamma) on the purchases from this day on (YYYY-MM-DD); "
                   "not after --as-of. Default: all history.")
def refresh_command(as_of, calibration_start):
    """Recompute every customer's analytics now, with a progress bar.

    Example, the CDNOW case of docs/analytics.md: trellis analytics refresh --as-of 1997-09-30
    """
    from api.cli import with_unit_of_work
    from core.services import analytics

    options = analytics.refresh_options({k: v for k, v in (("as_of", as_of), ("calibration_start", calibration_start))
                                         if v is not None})

    @with_unit_of_work
    def run():
        with click.progressbar(length=8, label="Refreshing analytics", show_pos=True,
                               item_show_func=lambda step: step) as bar:
            def progress(done, total, step):
                bar.update(1, step)

            return analytics.refresh(trigger="cli", progress=progress, **options)

    result = run()
    params = result.params
    since = f", CLV models from {result.calibration_start}" if result.calibration_start else ""
    click.echo(f"as of {result.as_of}{since}: {result.customers} customers ({result.purchasers} with purchases) in "
               f"{result.seconds:.2f} s; status {result.status}{': ' + result.message if result.message else ''}")
    kmeans = params.get("kmeans", {})
    click.echo(f"segments: {kmeans.get('k') if kmeans.get('ok') else kmeans.get('reason')}; churn flags: "
               f"{params['churn']['flagged']} ({params['churn']['tasks_created']} new task(s))")
    for model, names in (("bgnbd", ("r", "alpha", "a", "b")), ("gamma_gamma", ("p", "q", "gamma"))):
        fit = params.get(model, {})
        if fit.get("ok"):
            click.echo(f"{model}: " + ", ".join(f"{k}={fit[k]:.4f}" for k in names)
                       + ("" if fit.get("converged") else " (not converged)"))


COMMANDS = [analytics_group]
