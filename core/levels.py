"""Customer levels (客户等级): configurable rules grade customers by what they bring; every change is
kept in the ``customer.level`` workflow's history like a stage change, and a manager may override a
level by hand with a reason.

Rules come from ``TRELLIS_LEVEL_RULES`` (``A=revenue_12m>=100000,B=revenue_12m>=20000,C=revenue_12m>=1,D``):
levels best first, each with ``metric>=threshold``; the last level, without a rule, is the default: a new
customer starts in it (nothing bought yet), and grading falls back to it. ``none`` ("Not graded") is only
the level of a customer no rule matches — possible only when every level has a rule.
Metrics: ``revenue_12m`` (done purchases over the last 365 days) and ``purchases_12m`` (their count).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from core import db
from core.config import Settings
from core.errors import PluginError
from core.models import Customer, Interaction, InteractionStatus
from core.workflow import ANY, AUTOMATIC, IMPORT, MANUAL, State, Transition, Workflow

WORKFLOW = "customer.level"
UNGRADED = "none"
METRICS = ("revenue_12m", "purchases_12m")
_RULE = re.compile(r"^\s*(?P<level>[\w-]+)\s*(?:=\s*(?P<metric>\w+)\s*>=\s*(?P<threshold>[\d.]+))?\s*$")


@dataclass(frozen=True)
class LevelRule:
    level: str
    metric: str | None
    threshold: float


def parse_rules(text: str) -> list[LevelRule]:
    rules = []
    for part in text.split(","):
        match = _RULE.match(part)
        if not match or (match["metric"] and match["metric"] not in METRICS):
            raise PluginError(f"TRELLIS_LEVEL_RULES: cannot read '{part.strip()}'. Write LEVEL=METRIC>=NUMBER "
                              f"(metrics: {', '.join(METRICS)}), the default level last without a rule.")
        rules.append(LevelRule(match["level"], match["metric"], float(match["threshold"] or 0)))
    return rules


def level_workflow(settings: Settings) -> Workflow:
    levels = [r.level for r in parse_rules(settings.level_rules)]
    return Workflow(
        name=WORKFLOW, model=Customer, field="level", initial=UNGRADED,
        label_en="Customer level", label_zh_cn="客户等级",
        states=(State(UNGRADED, "Not graded", "未评级"),
                *(State(level, f"Level {level}", f"{level}级") for level in levels)),
        transitions=(Transition(ANY, UNGRADED, triggers=(AUTOMATIC, IMPORT)),
                     *(Transition(ANY, level, triggers=(AUTOMATIC, IMPORT, MANUAL), needs_approval=True)
                       for level in levels)),
    )


def measures(customer_ids: list, now: datetime) -> dict[Any, dict[str, float]]:
    since = now - timedelta(days=365)
    rows = db.session().execute(
        select(Interaction.customer_id, func.coalesce(func.sum(Interaction.amount), 0), func.count())
        .where(Interaction.customer_id.in_(customer_ids), Interaction.kind == "purchase",
               Interaction.status == InteractionStatus.DONE.value, Interaction.deleted_at.is_(None),
               Interaction.occurred_at >= since)
        .group_by(Interaction.customer_id))
    out = {cid: {"revenue_12m": 0.0, "purchases_12m": 0.0} for cid in customer_ids}
    for cid, revenue, count in rows:
        out[cid] = {"revenue_12m": float(revenue), "purchases_12m": float(count)}
    return out


def grade(rules: list[LevelRule], values: dict[str, float]) -> str:
    for rule in rules:
        if rule.metric is None or values.get(rule.metric, 0.0) >= rule.threshold:
            return rule.level
    return UNGRADED


def default_level(rules: list[LevelRule]) -> str:
    """The level of a customer who has bought nothing: what the rules grade all-zero measures as (the
    last level, without a rule, with the default rules), ``none`` if no rule matches zero."""
    return grade(rules, {metric: 0.0 for metric in METRICS})
