"""``trellis demo``'s exhibitions part: two editions of one show, thousands of visitors and scans, and
edition-over-edition metrics that show something. (How fast it loads is measured by the demo's own timing,
not asserted here: speed targets live in bench/, never in timed unit tests.)"""
from __future__ import annotations

import random

from sqlalchemy import func, select

from core import db
from plugins.exhibitions import demo, services
from plugins.exhibitions.models import CheckIn, ExhibitionEdition, VisitorRegistration


def test_demo_builds_two_editions_with_thousands_of_visitors(runtime, people):
    with runtime.database.unit_of_work():
        demo.load(people.admin, random.Random(7))
        sess = db.session()
        editions = list(sess.scalars(select(ExhibitionEdition).order_by(ExhibitionEdition.starts_on)))
        assert [e.name for e in editions] == ["CIMF 2025", "CIMF 2026"]
        assert sess.scalar(select(func.count()).select_from(VisitorRegistration)) > 4000
        assert sess.scalar(select(func.count()).select_from(CheckIn)) > 4000
        second = services.edition_metrics(people.admin, editions[1].id)
    assert 0.15 < second["churn_rate"] < 0.45 and abs(second["rebooking_rate"] + second["churn_rate"] - 1) < 1e-9
    assert 0 < second["new_visitor_share"] < 1 and 0.5 < second["show_up_rate"] < 0.8
    assert second["leads_per_exhibitor"] > 1 and second["satisfaction"] is not None
    assert second["booth_revenue"] > 0
