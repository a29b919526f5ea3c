"""A query document is parsed and validated once per schema, whatever number of times clients send it
(api/graphql/compose.py), and only root mutation fields run in a savepoint (api/graphql/savepoints.py).
The limits still hold for every request: the cache is the schema's own, with its own rules."""
from __future__ import annotations

import uuid

import pytest
import strawberry.schema.schema as strawberry_schema

from tests.api.graphql.helpers import app_with, error, ok


@pytest.fixture
def validations(monkeypatch) -> list:
    """Each call of graphql-core's ``validate`` as strawberry makes it, recorded."""
    calls: list = []
    real = strawberry_schema.validate

    def counted(*args, **kwargs):
        calls.append(args[1])
        return real(*args, **kwargs)

    monkeypatch.setattr(strawberry_schema, "validate", counted)
    return calls


def _unique(name: str) -> str:
    """An alias no other test sends, so the document is new to this process."""
    return f"{name}{uuid.uuid4().hex[:12]}"


def test_a_repeated_query_is_validated_once_and_answered_each_time(api, validations):
    alias = _unique("mail")
    query = f"{{ me {{ {alias}: email }} }}"
    for _ in range(3):
        assert ok(api.as_("rep").graphql(query)) == {"me": {alias: "rep@example.com"}}
    assert len(validations) == 1
    other = f"{{ me {{ {_unique('name')}: name }} }}"
    ok(api.as_("rep").graphql(other))
    assert len(validations) == 2


def test_a_refused_document_is_refused_on_every_request(api, validations):
    field = _unique("nope")
    query = f"{{ me {{ {field} }} }}"
    first = error(api.as_("rep").graphql(query), "BAD_USER_INPUT")
    second = error(api.as_("rep").graphql(query), "BAD_USER_INPUT")
    assert field in first["message"] and second["message"] == first["message"]
    assert len(validations) == 1


def test_a_query_one_schema_accepts_is_refused_by_a_schema_with_a_stricter_depth(api, database_url, connection, people):
    deep = f"{{ customers {{ edges {{ node {{ {_unique('c')}: contacts {{ edges {{ node {{ name }} }} }} }} }} }} }}"
    assert "customers" in ok(api.as_("rep").graphql(deep))      # depth 6: within the default 10
    with app_with(database_url, connection, people=people, GRAPHQL_MAX_DEPTH=3) as (strict, _runtime):
        assert "depth" in error(strict.as_("rep").graphql(deep), "BAD_USER_INPUT")["message"]
    assert "customers" in ok(api.as_("rep").graphql(deep))      # and the first schema still accepts it


def test_only_root_mutation_fields_carry_a_savepoint(app):
    from api.graphql import schema_of
    from api.graphql.savepoints import MutationSavepoint

    schema = schema_of(app)
    mutation_fields = schema.get_type_by_name("Mutation").fields
    assert mutation_fields and all(
        sum(isinstance(e, MutationSavepoint) for e in f.extensions) == 1 for f in mutation_fields)
    for type_name in ("Query", "Customer", "Contact"):
        for f in schema.get_type_by_name(type_name).fields:
            assert not any(isinstance(e, MutationSavepoint) for e in f.extensions), (type_name, f.name)
