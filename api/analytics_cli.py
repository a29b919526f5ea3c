"""``trellis analytics refresh``: the command-line transport of ``core.services.analytics``."""
from __future__ import annotations

import click


@click.group("analytics")
def analytics_group():
    """Customer analytics: RFM, value tiers, segments, CLV, churn warning (docs/analytics.md)."""


@analytics_group.command("refresh")
def refresh_command():
    """Recompute every customer's analytics now, with a progress bar."""
    from api.cli import with_unit_of_work
    from core.services import analytics

    @with_unit_of_work
    def run():
        with click.progressbar(length=8, label="Refreshing analytics", show_pos=True,
                               item_show_func=lambda step: step) as bar:
            def progress(done, total, step):
                bar.update(1, step)

            return analytics.refresh(trigger="cli", progress=progress)

    result = run()
    params = result.params
    click.echo(f"{result.customers} customers ({result.purchasers} with purchases) in {result.seconds:.2f} s; "
               f"status {result.status}{': ' + result.message if result.message else ''}")
    kmeans = params.get("kmeans", {})
    click.echo(f"segments: {kmeans.get('k') if kmeans.get('ok') else kmeans.get('reason')}; churn flags: "
               f"{params['churn']['flagged']} ({params['churn']['tasks_created']} new task(s))")


COMMANDS = [analytics_group]
