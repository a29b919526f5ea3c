"""A connection's cursors are encoded only when the query selects them (an edge's ``cursor``,
``pageInfo``'s start and end), for a root list and for a list nested in each of its records alike; the
cursors a query does select are the same as always and page on."""
from __future__ import annotations

import pytest

from core.services import paging
from tests.api.graphql.helpers import ok, rest_contact, rest_customer

NESTED = """{ customers(first: 10) { %s edges { node { name contacts { %s edges { %s node { name } } } } } } }"""


@pytest.fixture
def encoded(monkeypatch) -> list:
    """Each cursor encoded, recorded."""
    calls: list = []
    real = paging.encode_cursor

    def counted(keys, values):
        calls.append(values)
        return real(keys, values)

    monkeypatch.setattr(paging, "encode_cursor", counted)
    return calls


@pytest.fixture
def three_customers(api):
    for name in ("Alpha Ltd", "Beta Ltd", "Gamma Ltd"):
        customer = rest_customer(api, name=name)
        for contact in ("Chen Wei", "Zhou Min"):
            rest_contact(api, customer["id"], name=contact)


def test_a_page_that_selects_no_cursor_encodes_none(api, three_customers, encoded):
    data = ok(api.as_("rep").graphql(NESTED % ("", "", "")))
    assert [len(e["node"]["contacts"]["edges"]) for e in data["customers"]["edges"]] == [2, 2, 2]
    assert encoded == []


def test_only_the_selected_cursors_are_encoded_and_they_page_on(api, three_customers, encoded):
    data = ok(api.as_("rep").graphql(NESTED % ("pageInfo { endCursor }", "pageInfo { endCursor }", "cursor")))
    # the customers' end cursor, and each customer's two contacts' (the end cursor is the last edge's)
    assert len(encoded) == 1 + 3 * 2
    for edge in data["customers"]["edges"]:
        contacts = edge["node"]["contacts"]
        assert contacts["pageInfo"]["endCursor"] == contacts["edges"][-1]["cursor"]
    after = data["customers"]["pageInfo"]["endCursor"]
    rest = ok(api.as_("rep").graphql("query($after: String) { customers(first: 10, after: $after) { edges { node { name } } } }",
                                     {"after": after}))
    assert rest["customers"]["edges"] == []
    first = ok(api.as_("rep").graphql("{ customers(first: 1) { pageInfo { endCursor } } }"))["customers"]
    second = ok(api.as_("rep").graphql("query($after: String) { customers(first: 1, after: $after) { edges { node { name } } } }",
                                       {"after": first["pageInfo"]["endCursor"]}))
    assert second["customers"]["edges"] == [{"node": {"name": "Beta Ltd"}}]
