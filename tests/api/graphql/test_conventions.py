"""The house conventions (api/graphql/conventions.py) over the composed schema — every built-in plugin
and the sample plugin — may only be departed from less over time; and the check finds each kind of
departure in a schema built to break them."""
from __future__ import annotations

from collections import Counter
from enum import Enum
from typing import Optional

import pytest
import strawberry

from api.graphql import schema_of
from api.graphql.conventions import RULES, bounded_list, findings, open_vocabulary
from api.graphql.ordering import order_by_argument
from api.graphql.registry import SchemaRegistry
from core.errors import PluginError
from tests import sample_plugin
from tests.api.graphql.helpers import app_with

#: the departures counted when the check was written (2026-12-03); each may only go down. Rules at 0 are met:
#: the test forbids any departure from them.
KNOWN = {"description": 0, "plugin-prefix": 0, "closed-vocabulary": 0, "record-list": 0, "input-name": 0,
         "ordered-list": 0, "list-arguments": 0}


def test_the_composed_schema_departs_from_the_conventions_no_more_than_it_did(database_url, connection, people):
    with app_with(database_url, connection, sample_plugin, people=people) as (api, _runtime):
        found = findings(schema_of(api.client.application))
    counts = Counter(f.rule for f in found)
    grown = {rule: (counts[rule], KNOWN[rule]) for rule in RULES if counts[rule] > KNOWN[rule]}
    assert grown == {}, "new departures (fix them, or see docs/graphql.md, Conventions):\n" + "\n".join(
        str(f) for f in found if f.rule in grown)


def test_every_type_field_argument_input_field_and_enum_value_is_described(database_url, connection, people):
    """Paid down to none (issue #13 item 5): a new type, field, argument, input field or enum value without
    a description fails here, naming it; docs/graphql.md says what is derived and what to write."""
    with app_with(database_url, connection, sample_plugin, people=people) as (api, _runtime):
        missing = [str(f) for f in findings(schema_of(api.client.application)) if f.rule == "description"]
    assert missing == []


def test_each_rule_finds_its_departure():
    registry = SchemaRegistry()
    registry.owner = "exhibitions"

    with pytest.raises(PluginError, match="registers the GraphQL type 'Booth', which does not start with 'Exhibition'"):
        registry.type("Booth", node=False)(type("Booth", (), {"__doc__": "A booth."}))   # refused at start-up

    @registry.type("ExhibitionBooth", node=False)
    class ExhibitionBooth:
        """A booth."""

        id: strawberry.ID = strawberry.field(description="Its id.")
        status: str = strawberry.field(description="A vocabulary left as a String.")
        kind: str = strawberry.field(description="Kinds the organiser creates.",
                                     metadata=open_vocabulary("Records created at run time."))

    from core.models import Customer

    @registry.type("ExhibitionHall", node=Customer)
    class ExhibitionHall:
        """A hall: a record (it implements Node)."""

        id: strawberry.ID = strawberry.field(description="Its id.")

    @registry.input("ExhibitionBoothsFilter")
    class ExhibitionBoothsFilter:
        """Named after no type."""

        hall: str = strawberry.field(description="A hall.")

    @registry.input("ExhibitionBoothInput")
    class ExhibitionBoothInput:
        """Creates a booth."""

        number: str

    class Mood(Enum):
        CALM = "calm"

    registry.add(strawberry.enum(Mood, name="ExhibitionMood", description="A mood."))

    def booths(input: Optional[registry.ref("ExhibitionBoothInput")] = None) -> list[registry.ref("ExhibitionBooth")]:
        return []

    def exhibition_halls(filter: Optional[registry.ref("ExhibitionBoothsFilter")] = None
                         ) -> list[registry.ref("ExhibitionHall")]:
        return []

    def exhibition_fixed_halls() -> list[registry.ref("ExhibitionHall")]:
        return []

    def exhibition_hall_pages(first: Optional[int] = None, venue: Optional[str] = None
                              ) -> registry.connection("ExhibitionHall"):
        raise NotImplementedError

    def exhibition_ordered_halls(first: Optional[int] = None, order_by=None) -> registry.connection("ExhibitionHall"):
        raise NotImplementedError
    # made now, while the registry takes types (this module's annotations are evaluated lazily, at build)
    exhibition_ordered_halls.__annotations__["order_by"] = order_by_argument(registry, "ExhibitionHall", ["name"])

    registry.add_root_fields("Query", "exhibitions", {
        "exhibitionHallPages": strawberry.field(resolver=exhibition_hall_pages, description="Halls, page by page."),
        "exhibitionOrderedHalls": strawberry.field(resolver=exhibition_ordered_halls, description="Halls in order."),
        "booths": strawberry.field(resolver=booths),
        "exhibitionHalls": strawberry.field(resolver=exhibition_halls, description="Every hall."),
        "exhibitionFixedHalls": strawberry.field(resolver=exhibition_fixed_halls, description="The halls.",
                                                 metadata=bounded_list("Three halls, fixed by the venue."))})
    query, _ = registry.build_roots()
    schema = strawberry.Schema(query=query, types=[registry.module.ExhibitionMood])
    schema.trellis_registry = registry
    found = {(f.rule, f.place, f.owner) for f in findings(schema)}
    assert ("plugin-prefix", "Query.booths", "exhibitions") in found          # a root field, unprefixed
    assert not any(place.startswith("Query.exhibition") for rule, place, _ in found if rule == "plugin-prefix")
    assert ("record-list", "Query.exhibitionHalls", "exhibitions") in found
    assert not any(place == "Query.exhibitionFixedHalls" for _, place, _ in found)   # bounded, said so
    assert not any(place == "ExhibitionBooth.kind" for _, place, _ in found)                   # open, said so
    assert ("input-name", "ExhibitionBoothsFilter", "exhibitions") in found
    assert ("closed-vocabulary", "ExhibitionBooth.status", "exhibitions") in found
    assert ("input-name", "ExhibitionBoothInput", "exhibitions") in found
    assert ("ordered-list", "Query.exhibitionHallPages", "exhibitions") in found     # no orderBy
    assert ("list-arguments", "Query.exhibitionHallPages(venue)", "exhibitions") in found   # loose, not filter:
    assert not any(place.startswith("Query.exhibitionOrderedHalls") for rule, place, _ in found
                   if rule in ("ordered-list", "list-arguments"))
    assert ("description", "ExhibitionBoothInput.number", "exhibitions") in found
    assert ("description", "ExhibitionMood.CALM", "exhibitions") in found
    assert ("description", "Query.booths", "exhibitions") in found
    assert ("description", "Query.booths(input)", "exhibitions") in found
    assert not any(f.place == "ExhibitionMood" for f in findings(schema))   # described; prefixed
    assert {f.owner for f in findings(schema, owner="core")} == set()
