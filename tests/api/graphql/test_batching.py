"""A nested list query costs a fixed number of SQL statements, however many customers it lists."""
from __future__ import annotations

from tests.api.graphql.helpers import ok

NESTED = """{ customers(first: 50) { edges { node {
    id name
    contacts { name }
    interactions(first: 3) { edges { node { subject } } }
    owner { email }
} } } }"""

# token + its user (authentication), count + page of customers, their tags (selectin), contacts of all
# of them, the newest interactions of all of them (a window function), and their owners
PINNED_STATEMENTS = 8


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


def run_counted(api, count_queries):
    with count_queries() as counter:
        data = ok(api.as_("rep").graphql(NESTED))
    return data["customers"]["edges"], counter


def test_nested_customer_list_runs_a_fixed_number_of_statements(api, runtime, people, count_queries):
    add_customers(runtime, people.rep, 5)
    few, few_count = run_counted(api, count_queries)
    add_customers(runtime, people.rep, 45, start=5)
    many, many_count = run_counted(api, count_queries)

    assert len(few) == 5 and len(many) == 50
    node = many[0]["node"]
    assert [c["name"] for c in node["contacts"]] == ["Contact 0-0", "Contact 0-1"]
    assert [e["node"]["subject"] for e in node["interactions"]["edges"]] == ["call 3", "call 2", "call 1"]
    assert node["owner"] == {"email": "rep@example.com"}
    assert few_count.count == many_count.count == PINNED_STATEMENTS, "\n\n".join(many_count.statements)


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
    add_customers(runtime, people.rep, 4)
    query = """{ customers { edges { node {
        contacts { customer { name } }
        interactions(first: 2) { edges { node { customer { name } contact { name } createdBy { email } } } }
    } } } }"""
    with count_queries() as four:
        ok(api.as_("rep").graphql(query))
    add_customers(runtime, people.rep, 6, start=4)
    with count_queries() as ten:
        ok(api.as_("rep").graphql(query))
    assert four.count == ten.count
