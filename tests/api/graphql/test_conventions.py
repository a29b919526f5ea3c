"""The house conventions (api/graphql/conventions.py) over the composed schema — every built-in plugin
and the sample plugin — may only be departed from less over time; and the check finds each kind of
departure in a schema built to break them."""
from __future__ import annotations

from collections import Counter
from enum import Enum
from typing import Optional

import strawberry

from api.graphql import schema_of
from api.graphql.conventions import RULES, findings
from api.graphql.registry import SchemaRegistry
from tests import sample_plugin
from tests.api.graphql.helpers import app_with

#: the departures counted when the check was written (2026-12-03); each may only go down
#: (plugin-prefix: +5 for the <Type>Order inputs of the 5 unprefixed plugin types with an orderBy; they go with the
#: renames. input-name: +3 for value inputs now beside their output type: LabelInput/Label and
#: PropertyAttributeDefinitionInput, PropertyAttributeValueInput once attributes were typed instead of JSON)
KNOWN = {"description": 1413, "plugin-prefix": 34, "closed-vocabulary": 15, "record-list": 14, "input-name": 7}


def test_the_composed_schema_departs_from_the_conventions_no_more_than_it_did(database_url, connection, people):
    with app_with(database_url, connection, sample_plugin, people=people) as (api, _runtime):
        found = findings(schema_of(api.client.application))
    counts = Counter(f.rule for f in found)
    grown = {rule: (counts[rule], KNOWN[rule]) for rule in RULES if counts[rule] > KNOWN[rule]}
    assert grown == {}, "new departures (fix them, or see docs/graphql.md, Conventions):\n" + "\n".join(
        str(f) for f in found if f.rule in grown)


def test_each_rule_finds_its_departure():
    registry = SchemaRegistry()
    registry.owner = "exhibitions"

    @registry.type("Booth", node=False)
    class Booth:
        """A booth."""

        id: strawberry.ID = strawberry.field(description="Its id.")
        status: str = strawberry.field(description="A vocabulary left as a String.")

    @registry.input("BoothInput")
    class BoothInput:
        """Creates a booth."""

        number: str

    class Mood(Enum):
        CALM = "calm"

    registry.add(strawberry.enum(Mood, name="ExhibitionMood", description="A mood."))

    def booths(input: Optional[registry.ref("BoothInput")] = None) -> list[registry.ref("Booth")]:
        return []

    registry.add_root_fields("Query", "exhibitions", {"booths": strawberry.field(resolver=booths)})
    query, _ = registry.build_roots()
    schema = strawberry.Schema(query=query, types=[registry.module.ExhibitionMood])
    schema.trellis_registry = registry
    found = {(f.rule, f.place, f.owner) for f in findings(schema)}
    assert ("plugin-prefix", "Booth", "exhibitions") in found
    assert ("closed-vocabulary", "Booth.status", "exhibitions") in found
    assert ("input-name", "BoothInput", "exhibitions") in found
    assert ("description", "BoothInput.number", "exhibitions") in found
    assert ("description", "ExhibitionMood.CALM", "exhibitions") in found
    assert ("description", "Query.booths", "exhibitions") in found
    assert ("description", "Query.booths(input)", "exhibitions") in found
    assert not any(f.place == "ExhibitionMood" for f in findings(schema))   # described; prefixed
    assert {f.owner for f in findings(schema, owner="core")} == set()
