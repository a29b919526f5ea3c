"""GraphQL for what describes the deployment: labels, metrics and plugins."""
import datetime as dt
from typing import Annotated, Optional

import strawberry
from strawberry.scalars import JSON

from api.graphql.inputs import field_names, graphql_field_name, json_out, snake_case
from api.graphql.label import label_field
from api.graphql.label import register as register_label
from api.graphql.money import Money
from api.graphql.vocabularies import enum_type_name, enum_value_name
from core.errors import ValidationFailed
from core.services import metric_results
from core.services.permissions import require_actor


class _Vocabulary:
    def __init__(self, name, choices, enum_name):
        self.name, self.choices, self.enum_name = name, choices, enum_name


class _MetricResult:
    def __init__(self, name, rows, computed_at, materialised):
        self.name, self.rows, self.computed_at, self.materialised = name, rows, computed_at, materialised


class _MetricRow:
    def __init__(self, row, money):
        self.row, self.money = row, money


def types(registry) -> None:
    register_label(registry)

    @registry.type("Choice")
    class Choice:
        """One value of a vocabulary with its English and Chinese labels."""

        value: str = strawberry.field(description="The value as stored and as REST writes it (first_purchase).")
        label = label_field(registry, "en", "zh_cn", description="The value's English and Chinese labels.")

        @strawberry.field(description="The value as the vocabulary's GraphQL enum writes it (FIRST_PURCHASE).")
        def enum_value(self) -> str:
            return enum_value_name(self.value)

    @registry.type("Vocabulary")
    class Vocabulary:
        """A closed list of values (a customer's stage, an interaction's kind …), merged from every component."""

        name: str = strawberry.field(description="The vocabulary's name (lifecycle_stage, interaction_kind, customer.level.state …).")
        choices: list[registry.ref("Choice")] = strawberry.field(description="Its values with their labels, in the vocabulary's order.")
        enum_name: Optional[str] = strawberry.field(description=(
            "The GraphQL enum whose values these are (LifecycleStage); null for a vocabulary without values."))

    @registry.type("Metric")
    class Metric:
        """A number this deployment computes over the records you may see."""

        name: str = strawberry.field(description="The metric's name, as metric(name:) takes it.")
        label = label_field(registry, "label_en", "label_zh_cn", description="The metric's name, in English and Chinese.")
        description: str = strawberry.field(description="What the metric measures, in English.")
        unit: str = strawberry.field(description="The unit of its values (count, days, ratio, a currency …).")

        @strawberry.field(description="The groupings metric(groupBy:) accepts, camelCase.")
        def group_by(self) -> list[str]:
            return [graphql_field_name(key) for key in self.group_by]

        owner: str = strawberry.field(description="The component that computes it: core or a plugin's name.")

    @registry.type("MetricRow")
    class MetricRow:
        """One value of a metric, for one group when grouped."""

        @strawberry.field(description="The slice this value belongs to ({\"stage\": \"intent\"}, keys camelCase); "
                                      "empty without groupBy.")
        def group(self) -> JSON:
            return json_out(self.row.group)

        @strawberry.field(description="The value, in the metric's unit, for a metric whose unit is not currency (null for one that is, and when it cannot be computed).")
        def value(self) -> Optional[float]:
            return None if self.money else self.row.value

        @strawberry.field(description="The amount, for a metric whose unit is currency (null for any other, and when it cannot be computed).")
        def amount(self) -> Optional[Money]:
            return self.row.value if self.money else None

        @strawberry.field(description="Further numbers the metric gives with the value (counts behind a ratio …; keys camelCase, label pairs as {en, zhCn}); an empty object when none.")
        def extra(self) -> JSON:
            return json_out(self.row.extra)

    @registry.type("MetricResult")
    class MetricResult:
        """A metric computed over the records you may see."""

        name: str = strawberry.field(description="The metric's name.")
        rows: list[registry.ref("MetricRow")] = strawberry.field(description="Its values: one row, or one per group with groupBy.")
        computed_at: dt.datetime = strawberry.field(description="When these numbers were computed: now for a live answer, earlier for a stored one.")
        materialised: bool = strawberry.field(description="Served from a stored result (as of computedAt) rather than computed for this request; refresh: true computes it now.")

    @registry.type("Plugin")
    class Plugin:
        """An enabled plugin."""

        name: str = strawberry.field(description="The plugin's name, as TRELLIS_PLUGINS lists it.")
        version: str = strawberry.field(description="The plugin's version.")
        source: str = strawberry.field(description="Where it was loaded from: its package and version, or how it was passed to the app.")
        description: str = strawberry.field(description="What the plugin adds, in English.")


def query_fields(registry) -> dict:
    def labels(info: strawberry.Info, vocabulary: Annotated[Optional[str], strawberry.argument(description="Only this vocabulary (its name, as `Vocabulary.name`); left out: all.")] = None) -> list[registry.ref("Vocabulary")]:
        require_actor(info.context.user)
        vocabularies = info.context.runtime.labels.vocabularies()
        if vocabulary is not None:
            if vocabulary not in vocabularies:
                raise ValidationFailed(fields={"vocabulary": [f"Unknown vocabulary. Known: {', '.join(vocabularies)}."]})
            vocabularies = {vocabulary: vocabularies[vocabulary]}
        labels = info.context.runtime.labels
        return [_Vocabulary(name, choices, enum_type_name(name, labels.owner(name)) if choices else None)
                for name, choices in vocabularies.items()]

    def metrics(info: strawberry.Info) -> list[registry.ref("Metric")]:
        require_actor(info.context.user)
        return info.context.runtime.metrics.all()

    def metric(info: strawberry.Info, name: Annotated[str, strawberry.argument(description="The metric (`Metric.name`).")],
               from_: Annotated[Optional[dt.date], strawberry.argument(name="from", description="The first day of the period (ISO 8601 date, UTC), inclusive; left out: from the start.")] = None,
               to: Annotated[Optional[dt.date], strawberry.argument(description="The last day of the period (ISO 8601 date, UTC), inclusive; left out: up to now.")] = None,
               group_by: Annotated[Optional[str], strawberry.argument(description="One of the metric’s groupings (`Metric.groupBy`); left out: one row.")] = None,
               refresh: Annotated[bool, strawberry.argument(description="Compute the numbers now, even when a stored result younger than TRELLIS_METRIC_RESULT_MAX_AGE would be served (`MetricResult.materialised`).")] = False) -> Optional[registry.ref("MetricResult")]:
        with field_names({"group_by": "groupBy"}):
            result = metric_results.answer(info.context.user, name, date_from=from_, date_to=to,
                                           group_by=group_by and snake_case(group_by), refresh=refresh)
        money = info.context.runtime.metrics.get(name).unit == "currency"
        return _MetricResult(name, [_MetricRow(row, money) for row in result.rows], result.computed_at,
                             result.materialised)

    def plugins(info: strawberry.Info) -> list[registry.ref("Plugin")]:
        require_actor(info.context.user)
        return info.context.runtime.plugins.enabled

    return {
        "labels": strawberry.field(resolver=labels, description="Every vocabulary (or one) with its labels."),
        "metrics": strawberry.field(resolver=metrics, description="The metrics this deployment computes."),
        "metric": strawberry.field(resolver=metric, description="Compute one metric over what you may see (a slow one may be served from a stored result: `computedAt`, `materialised`, `refresh`)."),
        "plugins": strawberry.field(resolver=plugins, description="The enabled plugins."),
    }


def mutation_fields(registry) -> dict:
    return {}
