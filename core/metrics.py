"""The metrics registry: named computations over the caller's permitted records.

A metric is declared once (name, en/zh-CN labels, the groupings it supports) and computed on demand by
``compute(MetricQuery) -> list[MetricRow]``. The core's metrics and every plugin's arrive through the
``trellis_metrics`` hook, and REST and GraphQL serve the same numbers through :func:`evaluate`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from typing import Any, Callable

from core.errors import NotFound, PluginError, ValidationFailed


@dataclass(frozen=True)
class MetricQuery:
    """What a caller asked for. ``actor`` scopes the data: a rep's numbers cover only their records."""

    actor: Any
    date_from: date | None = None
    date_to: date | None = None
    group_by: str | None = None

    @property
    def start(self) -> datetime | None:
        """The period's first instant (UTC), or None when open."""
        return datetime.combine(self.date_from, time.min, tzinfo=timezone.utc) if self.date_from else None

    @property
    def end(self) -> datetime | None:
        """The instant after the period's last day (UTC), or None when open."""
        if not self.date_to:
            return None
        return datetime.combine(self.date_to, time.max, tzinfo=timezone.utc)


@dataclass(frozen=True)
class MetricRow:
    """One number. ``group`` names the slice it belongs to (``{"stage": "intent"}``) or is empty."""

    value: float | int | None
    group: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"group": self.group, "value": self.value, **({"extra": self.extra} if self.extra else {})}


@dataclass(frozen=True)
class Metric:
    """A number the metrics API serves (``GET /api/v1/metrics/<name>``, GraphQL ``metric(name:)``), declared
    by ``trellis_metrics``.

    - ``name``: unique across the app, prefixed with the plugin's name (``training_enrolments``).
    - ``label_en`` / ``label_zh_cn``: what a dashboard calls it.
    - ``compute(query)``: the rows for a :class:`MetricQuery` — scope them to ``query.actor`` (a rep's
      numbers cover only what they may see) and to ``query.start``/``query.end`` when given.
    - ``description``: one sentence, shown in the catalogue.
    - ``unit``: how to read ``value``: ``count`` (the default), ``currency`` (money: GraphQL serves it as
      ``amount``, a ``Money`` string, and ``value`` is null), ``ratio`` or ``share`` (0–1), ``percent``
      (0–100), ``hours``, ``points``, ``rating`` (1–5) or ``score``.
    - ``group_by``: the groupings ``compute`` accepts in ``query.group_by`` (``"stage"``, ``"owner_id"``,
      ``"period:month"`` …; see :func:`grain_of`); any other is refused before ``compute`` runs.
    - ``owner``: set by the framework to the declaring plugin's name.

    Requests reach ``compute`` through ``core.services.metric_results.answer``, so a plugin metric is
    materialised like the core's, with nothing to declare: an answer whose computation took
    ``TRELLIS_METRIC_MATERIALISE_AFTER_MS`` or more is stored per scope (every admin shares one; anyone
    else's is their user id, role and team) and served for up to ``TRELLIS_METRIC_RESULT_MAX_AGE`` seconds
    (``refresh`` computes it now; docs/metrics.md, "Materialised results"). So ``compute`` must depend on
    the actor only through what they may see (for an admin: everything), and its rows must hold values
    JSON can carry or ``Decimal``, ``date``, ``datetime`` and ``UUID`` (anything else is answered live,
    never stored).
    """

    name: str
    label_en: str
    label_zh_cn: str
    compute: Callable[[MetricQuery], list[MetricRow]]
    description: str = ""
    unit: str = "count"
    group_by: tuple[str, ...] = ()
    owner: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "label_en": self.label_en, "label_zh_cn": self.label_zh_cn,
            "description": self.description, "unit": self.unit, "group_by": list(self.group_by),
            "owner": self.owner,
        }


class MetricRegistry:
    def __init__(self) -> None:
        self._metrics: dict[str, Metric] = {}

    def add(self, metric: Metric, *, owner: str) -> None:
        existing = self._metrics.get(metric.name)
        if existing is not None:
            raise PluginError(
                f"Plugins '{existing.owner}' and '{owner}' both register the metric '{metric.name}'. "
                "Metric names are global: rename one (prefix it with the plugin name) or disable a plugin."
            )
        self._metrics[metric.name] = Metric(**{**metric.__dict__, "owner": owner})

    def all(self) -> list[Metric]:
        return sorted(self._metrics.values(), key=lambda m: m.name)

    def get(self, name: str) -> Metric:
        try:
            return self._metrics[name]
        except KeyError:
            raise NotFound(f"No metric named '{name}'.") from None

    def evaluate(self, name: str, query: MetricQuery) -> list[MetricRow]:
        """Validate the query against the metric's declaration and compute it (always live; requests go
        through ``core.services.metric_results.answer``, which may serve a stored result instead)."""
        return self.check(name, query).compute(query)

    def check(self, name: str, query: MetricQuery) -> Metric:
        """The metric, once the query is valid for it: NotFound for an unknown name, ValidationFailed for a
        grouping it does not declare or a period that ends before it starts."""
        metric = self.get(name)
        problems: dict[str, list[str]] = {}
        if query.group_by and query.group_by not in metric.group_by:
            allowed = ", ".join(metric.group_by) or "none"
            problems["group_by"] = [f"'{query.group_by}' is not a grouping of this metric (allowed: {allowed})."]
        if query.date_from and query.date_to and query.date_from > query.date_to:
            problems["from"] = ["Must not be after 'to'."]
        if problems:
            raise ValidationFailed(fields=problems)
        return metric
