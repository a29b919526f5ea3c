"""Every GraphQL operation and fragment shown in docs/graphql.md is valid against the committed schema
(schema.graphql: the core with every built-in plugin), so the examples front-end teams copy keep working
as the schema changes. Relay's directives are declared as the Relay compiler declares them; schema (SDL)
snippets for plugin authors are skipped."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from graphql import build_schema, parse, validate
from graphql.language import ExecutableDefinitionNode
from graphql.validation import specified_rules
from graphql.validation.rules.no_unused_fragments import NoUnusedFragmentsRule

ROOT = Path(__file__).resolve().parents[3]
RELAY_DIRECTIVES = """
directive @refetchable(queryName: String!, directives: [String!]) on FRAGMENT_DEFINITION
directive @argumentDefinitions on FRAGMENT_DEFINITION
directive @arguments on FRAGMENT_SPREAD
directive @connection(key: String!, filters: [String]) on FIELD
"""


def examples() -> list[tuple[int, str]]:
    text = (ROOT / "docs" / "graphql.md").read_text(encoding="utf-8")
    found = []
    for match in re.finditer(r"^```graphql\n(.*?)^```", text, re.S | re.M):
        body = match.group(1)
        # an operation must parse; anything else is an SDL snippet (types, fields) for plugin authors
        if re.match(r"\s*(#.*\n\s*)*(query|mutation|subscription|fragment|\{)", body):
            assert all(isinstance(d, ExecutableDefinitionNode) for d in parse(body).definitions)
            found.append((text.count("\n", 0, match.start()) + 1, body))
    return found


SCHEMA = build_schema((ROOT / "schema.graphql").read_text(encoding="utf-8") + RELAY_DIRECTIVES)
# a documented fragment may stand alone; @argumentDefinitions takes free-form arguments
RULES = [rule for rule in specified_rules if rule is not NoUnusedFragmentsRule]


def test_the_docs_have_operation_examples():
    assert len(examples()) >= 5


@pytest.mark.parametrize("line,document", examples(), ids=lambda v: f"line-{v}" if isinstance(v, int) else "")
def test_each_docs_example_validates_against_the_schema(line, document):
    # Relay's @argumentDefinitions declares variables local to a fragment, which plain validation
    # cannot know about: they are not "undefined"
    local = {arg.name.value for d in parse(document).definitions for directive in d.directives or ()
             if directive.name.value == "argumentDefinitions" for arg in directive.arguments}
    errors = [e.message for e in validate(SCHEMA, parse(document), RULES)
              if not any(f"Variable '${name}' is not defined" in e.message for name in local)
              and "@argumentDefinitions" not in e.message]
    assert errors == [], f"docs/graphql.md line {line}"
