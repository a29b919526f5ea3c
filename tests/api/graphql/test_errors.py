"""What a GraphQL client sees when something is wrong: a code on every error, the field named where
it can be, no trace, and nothing written."""
from __future__ import annotations

import json
import logging

import strawberry

from core.models import Contact, Customer
from tests.api.graphql.helpers import app_with, error, ok, plugin, rest_customer, rows

CREATE = "mutation($input: CustomerCreateInput!) { createCustomer(input: $input) { id } }"
CREATE_CONTACT = "mutation($input: ContactCreateInput!) { createContact(input: $input) { id } }"


def bad_input(body: dict) -> dict[str, list[str]]:
    """The fields a BAD_USER_INPUT error names."""
    return error(body, "BAD_USER_INPUT")["extensions"]["fields"]


def test_unknown_input_field_is_named(api, runtime):
    before = rows(runtime, Customer)
    in_variables = bad_input(api.as_("rep").graphql(CREATE, {"input": {"name": "X", "colour": "red"}}))
    inline = bad_input(api.as_("rep").graphql('mutation { createCustomer(input: {name: "X", colour: "red"}) { id } }'))
    assert list(in_variables) == ["colour"] and list(inline) == ["colour"]
    assert rows(runtime, Customer) == before


def test_wrong_type_is_named(api, runtime):
    before = rows(runtime, Customer)
    assert list(bad_input(api.as_("rep").graphql(CREATE, {"input": {"name": 123}}))) == ["name"]
    assert list(bad_input(api.as_("rep").graphql('mutation { createCustomer(input: {name: 5}) { id } }'))) == ["name"]
    assert list(bad_input(api.as_("rep").graphql('{ customers(first: "ten") { totalCount } }'))) == ["first"]
    assert list(bad_input(api.as_("rep").graphql(
        "query($n: Int!) { customers(first: $n) { totalCount } }", {"n": "ten"}))) == ["first"]
    assert list(bad_input(api.as_("rep").graphql(
        CREATE_CONTACT, {"input": {"customerId": "x", "name": "A", "birthday": "someday"}}))) == ["birthday"]
    assert rows(runtime, Customer) == before


def test_missing_required_field_is_named(api):
    assert list(bad_input(api.as_("rep").graphql(CREATE, {"input": {"industry": "retail"}}))) == ["name"]
    assert list(bad_input(api.as_("rep").graphql('mutation { createCustomer(input: {industry: "x"}) { id } }'))) == \
        ["name"]


def test_over_long_string_is_named_with_the_reason(api, runtime):
    before = rows(runtime, Customer)
    fields = bad_input(api.as_("rep").graphql(CREATE, {"input": {"name": "x" * 201}}))
    assert list(fields) == ["name"] and "200" in fields["name"][0]
    assert rows(runtime, Customer) == before


def test_not_a_value_of_the_vocabulary_is_named(api):
    fields = bad_input(api.as_("rep").graphql(CREATE, {"input": {"name": "X", "source": "telepathy"}}))
    assert list(fields) == ["source"]


def test_nonexistent_owner_and_customer_are_named_in_camel_case(api, runtime):
    customers, contacts = rows(runtime, Customer), rows(runtime, Contact)
    nobody = "00000000-0000-4000-8000-000000000000"
    assert list(bad_input(api.as_("admin").graphql(CREATE, {"input": {"name": "X", "ownerId": nobody}}))) == ["ownerId"]
    assert list(bad_input(api.as_("rep").graphql(CREATE_CONTACT, {"input": {"customerId": nobody, "name": "A"}}))) \
        == ["customerId"]
    # a customer that exists but is someone else's is just as nonexistent
    theirs = rest_customer(api, "rep2")
    assert list(bad_input(api.as_("rep").graphql(CREATE_CONTACT,
                                                 {"input": {"customerId": theirs["id"], "name": "A"}}))) == ["customerId"]
    assert list(bad_input(api.as_("rep").graphql(CREATE_CONTACT, {"input": {"customerId": "42", "name": "A"}}))) \
        == ["customerId"]
    assert (rows(runtime, Customer), rows(runtime, Contact)) == (customers + 1, contacts)


def test_first_over_100_and_a_foreign_cursor_are_named(api):
    fields = bad_input(api.as_("rep").graphql("{ customers(first: 500) { totalCount } }"))
    assert list(fields) == ["first"] and "100" in fields["first"][0]
    rest_customer(api)
    nested = api.as_("rep").graphql("{ customers { edges { node { interactions(first: 500) { totalCount } } } } }")
    assert list(bad_input(nested)) == ["first"]
    assert error(nested, "BAD_USER_INPUT")["path"] == ["customers", "edges", 0, "node", "interactions"]
    assert list(bad_input(api.as_("rep").graphql('{ customers(after: "bm90IGEgY3Vyc29y") { totalCount } }'))) == ["after"]
    assert list(bad_input(api.as_("rep").graphql('{ customer(id: "not-a-uuid") { id } }'))) == ["id"]


def test_a_cursor_far_past_any_list_is_named_not_a_server_error(api):
    import base64

    cursor = base64.b64encode(b"offset:99999999999999999999999").decode()
    body = api.as_("rep").graphql('{ customers(after: "%s") { totalCount } }' % cursor)
    assert list(bad_input(body)) == ["after"]


def test_a_failing_mutation_rolls_back_only_itself(api, runtime):
    """Each root mutation field has its own savepoint (tests/api/graphql/test_mutation_savepoints.py):
    what the client saw is what the database holds."""
    before = rows(runtime, Customer)
    body = api.as_("rep").graphql("""mutation {
        good: createCustomer(input: {name: "Written first"}) { id }
        bad: createCustomer(input: {name: ""}) { id }
    }""")
    assert body["data"]["good"] is not None and body["data"]["bad"] is None   # what the client saw …
    assert list(bad_input(body)) == ["name"]
    assert rows(runtime, Customer) == before + 1                               # … is what was written
    names = ok(api.as_("rep").graphql("{ customers { edges { node { name } } } }"))["customers"]["edges"]
    assert names == [{"node": {"name": "Written first"}}]


def test_syntax_errors_and_unknown_fields_are_bad_user_input(api):
    error(api.as_("rep").graphql("{ customers { "), "BAD_USER_INPUT")
    err = error(api.as_("rep").graphql("{ customers { edges { node { password } } } }"), "BAD_USER_INPUT")
    assert "password" in err["message"]


def test_query_depth_aliases_and_tokens_are_limited(api):
    deep = "{ customers { edges { node { contacts { edges { node { customer { contacts { edges { node { " \
           "customer { name } } } } } } } } } } } }"
    assert "depth" in error(api.as_("rep").graphql(deep), "BAD_USER_INPUT")["message"]
    aliases = "{ " + " ".join(f"a{i}: me {{ id }}" for i in range(31)) + " }"
    assert "aliases" in error(api.as_("rep").graphql(aliases), "BAD_USER_INPUT")["message"].lower()
    tokens = "{ me { " + " ".join(["id"] * 5001) + " } }"
    assert "token" in error(api.as_("rep").graphql(tokens), "BAD_USER_INPUT")["message"].lower()


def test_a_bug_is_masked_logged_and_rolled_back(database_url, connection, caplog):
    def query_fields(registry):
        def explode(info: strawberry.Info) -> int:
            from core.services import customers

            customers.create(info.context.user, {"name": "Half-written"})
            raise RuntimeError("secret connection string postgres://admin:hunter2@db")

        return {"explode": strawberry.field(resolver=explode)}

    with app_with(database_url, connection, plugin("exploder", trellis_graphql_query_fields=query_fields)) as (api, rt):
        before = rows(rt, Customer)
        with caplog.at_level(logging.ERROR, logger="trellis.graphql"):
            body = api.as_("rep").graphql("{ explode }")
        err = error(body, "INTERNAL_SERVER_ERROR")
        assert err["message"] == "Internal server error" and err["path"] == ["explode"]
        assert "hunter2" not in json.dumps(body) and "Traceback" not in json.dumps(body)
        assert "hunter2" in caplog.text                          # the operator sees it in the log
        assert rows(rt, Customer) == before
