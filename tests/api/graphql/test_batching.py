"""A nested list query costs a fixed number of SQL statements, however many customers it lists."""
from __future__ import annotations

from tests.api.graphql.helpers import ok
from api.testing import graphql_list, pin_statements, rest_list

NESTED = """query($first: Int!) { customers(first: $first, orderBy: [{field: NAME}]) { edges { node {
    id name
    contacts { edges { node { name } } }
    interactions(first: 3) { edges { node { subject } } }
    owner { email }
} } } }"""

# the token with its user (authentication: one join), the page of customers with their tags (one join; no COUNT:
# totalCount is not asked for), a page of contacts of all of them and a page of interactions of all of them
# (one window function each), and their owners
PINNED_STATEMENTS = 5


def add_customers(runtime, owner, n: int, start: int = 0) -> None:
    from core.services import contacts, customers, interactions

    with runtime.database.unit_of_work():
        for i in range(start, start + n):
            customer = customers.create(owner, {"name": f"Customer {i:03d}"})
            for c in range(2):
                contacts.create(owner, {"customer_id": str(customer.id), "name": f"Contact {i}-{c}"})
            for k in range(4):
                interactions.create(owner, {"customer_id": str(customer.id), "kind": "call", "subject": f"call {k}",
                                            "occurred_at": f"2024-02-0{k + 1}T10:00:00+00:00"})


def test_nested_customer_list_runs_a_fixed_number_of_statements(api, runtime, people, count_queries):
    edges = pin_statements(
        count_queries, grow=lambda have, want: add_customers(runtime, people.rep, want - have, start=have),
        fetch=lambda n: graphql_list(api.as_("rep").graphql(NESTED, {"first": n}), "customers.edges"),
        expected=PINNED_STATEMENTS)
    assert [e["node"]["name"] for e in edges] == [f"Customer {i:03d}" for i in range(50)]
    for edge in edges:
        node = edge["node"]
        i = int(node["name"].split()[-1])
        assert [c["node"]["name"] for c in node["contacts"]["edges"]] == [f"Contact {i}-0", f"Contact {i}-1"]
        assert [e["node"]["subject"] for e in node["interactions"]["edges"]] == ["call 3", "call 2", "call 1"]
        assert node["owner"] == {"email": "rep@example.com"}


NESTED_PAGES = """query($first: Int!, $after: String, $before: String) {
    customers(first: $first, orderBy: [{field: NAME, direction: DESC}], after: $after) { edges { node {
        name
        contacts(last: 1) { edges { node { name } } pageInfo { hasPreviousPage } }
        interactions(first: 2, after: $before) { edges { node { subject } } pageInfo { hasPreviousPage hasNextPage } }
    } } } }"""


def test_nested_pages_by_cursor_both_ways_run_a_fixed_number_of_statements(api, runtime, people, count_queries):
    """A cursor on the root list and on a nested one, and a backward nested page: still a fixed count."""
    import datetime as dt
    import uuid

    from core.models import Interaction
    from core.services import interactions, paging

    add_customers(runtime, people.rep, 1, start=999)   # first by -name: the root cursor's row, not on the page
    root_cursor = ok(api.as_("rep").graphql('{ customers(first: 1, orderBy: [{field: NAME, direction: DESC}]) { pageInfo { endCursor } } }')
                     )["customers"]["pageInfo"]["endCursor"]
    # a place in the timeline ordering: just past every interaction of 2024-02-04 10:00 ("call 3"); newest
    # first, ties by id in the same (descending) direction, so the smallest id comes last
    nested_cursor = paging.cursor_for([dt.datetime(2024, 2, 4, 10, tzinfo=dt.timezone.utc), uuid.UUID(int=0)],
                                      interactions.timeline_order(), Interaction.id)
    edges = pin_statements(
        count_queries, grow=lambda have, want: add_customers(runtime, people.rep, want - have, start=have),
        fetch=lambda n: graphql_list(api.as_("rep").graphql(
            NESTED_PAGES, {"first": n, "after": root_cursor, "before": nested_cursor}), "customers.edges"),
        # the token with its user, the page with its tags (one join), one EXISTS for its pageInfo (after a
        # cursor), contacts (a window), interactions (a window) and one grouped EXISTS for their pageInfo
        expected=6)
    for edge in edges:
        node = edge["node"]
        i = int(node["name"].split()[-1])
        assert [c["node"]["name"] for c in node["contacts"]["edges"]] == [f"Contact {i}-1"]
        assert node["contacts"]["pageInfo"] == {"hasPreviousPage": True}
        assert [e["node"]["subject"] for e in node["interactions"]["edges"]] == ["call 2", "call 1"]
        assert node["interactions"]["pageInfo"] == {"hasPreviousPage": True, "hasNextPage": True}


def test_rest_contact_and_interaction_lists_run_a_fixed_number_of_statements(api, runtime, people,
                                                                             count_queries):
    # 50 customers make 100 contacts and 200 interactions: pages of 5 and 50 of each
    add_customers(runtime, people.rep, 50)
    contacts = pin_statements(
        count_queries, grow=lambda have, want: None,
        fetch=lambda n: rest_list(api.as_("rep").get(f"/api/v1/contacts?page_size={n}&sort=name")))
    assert all(c["customer_id"] and c["name"].startswith("Contact ") for c in contacts)
    calls = pin_statements(
        count_queries, grow=lambda have, want: None,
        fetch=lambda n: rest_list(api.as_("rep").get(f"/api/v1/interactions?page_size={n}")))
    assert all(c["kind"] == "call" and c["subject"].startswith("call ") for c in calls)
    customers = pin_statements(
        count_queries, grow=lambda have, want: None,
        fetch=lambda n: rest_list(api.as_("rep").get(f"/api/v1/customers?page_size={n}")))
    assert all(c["owner_id"] == str(people.rep.id) for c in customers)


def test_total_count_of_nested_interactions_costs_one_statement_and_only_when_asked(api, runtime, people,
                                                                                    count_queries):
    add_customers(runtime, people.rep, 3)
    query = "{ customers { edges { node { interactions(first: 1) { totalCount edges { node { subject } } } } } } }"
    with count_queries() as with_total:
        data = ok(api.as_("rep").graphql(query))
    with count_queries() as without_total:
        ok(api.as_("rep").graphql(query.replace("totalCount ", "")))
    assert [e["node"]["interactions"]["totalCount"] for e in data["customers"]["edges"]] == [4, 4, 4]
    assert with_total.count == without_total.count + 1


def test_records_reached_through_a_batch_load_their_own_fields_in_batches(api, runtime, people, count_queries):
    """contacts → customer and interactions → contact / assignee are batched too (siblings found through
    the batch that loaded them)."""
    query = """query($first: Int!) { customers(first: $first) { edges { node {
        name
        contacts { edges { node { customer { name } } } }
        interactions(first: 2) { edges { node { customer { name } contact { name } createdBy { email } } } }
    } } } }"""
    edges = pin_statements(
        count_queries, grow=lambda have, want: add_customers(runtime, people.rep, want - have, start=have),
        fetch=lambda n: graphql_list(api.as_("rep").graphql(query, {"first": n}), "customers.edges"))
    for edge in edges:
        node = edge["node"]
        assert [c["node"]["customer"]["name"] for c in node["contacts"]["edges"]] == [node["name"]] * 2
        assert [e["node"]["customer"]["name"] for e in node["interactions"]["edges"]] == [node["name"]] * 2
        assert all(e["node"]["createdBy"] == {"email": "rep@example.com"} for e in node["interactions"]["edges"])


HISTORIES = """query($first: Int!) { customers(first: $first, orderBy: [{field: NAME}]) { edges { node {
    name
    stageHistory { totalCount edges { node { fromState toState } } }
    levelHistory(last: 1) { edges { node { toState } } }
    ownerHistory { edges { node { reason } } }
} } } }"""


def test_nested_histories_are_connections_read_in_one_window_each(api, runtime, people, count_queries):
    """Customer.stageHistory / levelHistory / ownerHistory (and every plugin's ``history_field``) page each
    customer's moves for the whole list at once: the same statements for 5 customers as for 50."""
    from core.services import customers

    def grow(have, want):
        with runtime.database.unit_of_work():
            for i in range(have, want):
                customer = customers.create(people.rep, {"name": f"Customer {i:03d}"})
                customers.change_stage(people.rep, customer.id, {"to": "intent", "reason": "asked for a quote"})

    edges = pin_statements(
        count_queries, grow=grow,
        fetch=lambda n: graphql_list(api.as_("rep").graphql(HISTORIES, {"first": n}), "customers.edges"),
        # the token with its user, the page with its tags (one join), then one window per history and one
        # grouped COUNT for stageHistory's totalCount
        expected=6)
    for edge in edges:
        stages = edge["node"]["stageHistory"]
        assert stages["totalCount"] == len(stages["edges"]) >= 1
        assert stages["edges"][-1]["node"]["toState"] == "intent"
        assert edge["node"]["ownerHistory"] == {"edges": []}

