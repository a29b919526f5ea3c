"""GraphQL operations are costed before they run: page sizes multiplied along nested lists. One that may
load more records than TRELLIS_GRAPHQL_MAX_COST is refused (BAD_USER_INPUT, with the numbers) and runs
no resolver; a variable holding an overlong list is refused before it is coerced."""
from __future__ import annotations

import json

from api.app import create_app
from api.testing import Api, app_config, bound

CUSTOMERS = ("customers(first: 100) { edges { node { id name contacts { edges { node { id name } } } "
             "interactions(first: 10) { edges { node { id subject } } } } } }")


def test_thirty_aliases_of_a_nested_page_are_refused_before_running(api, count_queries):
    query = "{ " + " ".join(f"a{i}: {CUSTOMERS}" for i in range(30)) + " }"
    with count_queries() as counter:
        body = api.as_("admin").graphql(query)
    [error] = body["errors"]
    assert body["data"] is None
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    # 30 x (100 customers + 100 x 10 contacts + 100 x 10 interactions)
    assert error["extensions"]["cost"] == 63000 and error["extensions"]["maxCost"] == 25000
    assert "first:" in error["message"]
    assert counter.count <= 2  # the token lookup; no customer was read


def test_the_same_page_once_is_within_the_budget(api):
    body = api.as_("admin").graphql("{ " + CUSTOMERS + " }")
    assert "errors" not in body and body["data"]["customers"]["edges"] == []


def test_page_sizes_from_variables_and_fragments_count(engine, database_url, connection):
    from core.services import users
    from api.testing import make_people

    app = create_app(app_config(database_url, GRAPHQL_MAX_COST=500))
    with bound(app, connection) as runtime:
        people = make_people(runtime)
        with runtime.database.unit_of_work():
            token = users.create_token(people.admin)[1]
        api = Api(app.test_client(), {"admin": token}).as_("admin")
        query = ("query($n: Int!) { customers(first: $n) { edges { node { ...parts } } } } "
                 "fragment parts on Customer { interactions(first: 10) { edges { node { id } } } }")
        small = api.graphql(query, {"n": 40})      # 40 + 400
        assert "errors" not in small, small
        big = api.graphql(query, {"n": 50})        # 50 + 500
        assert big["errors"][0]["extensions"]["cost"] == 550
    app.extensions["trellis"].database.dispose()


def test_a_variable_with_an_overlong_list_is_refused_before_coercion(api):
    mutation = ("mutation($p: [RetailPurchaseCreateInput!]!) { uploadRetailPurchases(purchases: $p) { created } }")
    body = api.as_("admin").graphql(mutation, {"p": [{"x": 1}] * 5001})
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "5001 items" in error["message"]


def test_graphql_takes_bodies_above_the_app_wide_limit_up_to_its_own(api):
    """/graphql has its own 4 MiB cap (room for a POS batch in variables): a 2 MB body is read and answered,
    not refused at the app-wide 1 MiB while the input vetting reads it."""
    padding = "x" * (2 * 1024 * 1024)
    body = json.dumps({"query": "{ __typename }", "variables": {"padding": padding}})
    response = api.as_("admin").post("/graphql", data=body, content_type="application/json")
    assert response.status_code == 200
    assert response.get_json()["data"] == {"__typename": "Query"}


def test_a_root_connection_without_first_costs_its_default_page(engine, database_url, connection):
    """Twenty customers come back when no `first` is given, so the estimate counts twenty, not ten."""
    from core.services import users
    from api.testing import make_people

    app = create_app(app_config(database_url, GRAPHQL_MAX_COST=200))
    with bound(app, connection) as runtime:
        people = make_people(runtime)
        with runtime.database.unit_of_work():
            token = users.create_token(people.admin)[1]
        api = Api(app.test_client(), {"admin": token}).as_("admin")
        # 20 customers + 20 x 10 interactions (a nested connection's default page) = 220
        body = api.graphql("{ customers { edges { node { interactions { edges { node { id } } } } } } }")
        assert body["errors"][0]["extensions"]["cost"] == 220
    app.extensions["trellis"].database.dispose()
