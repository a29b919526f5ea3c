"""Nested lists of the core take the same typed ``orderBy`` as the root lists: ``Customer.contacts``,
``Customer.interactions`` and the workflow histories, still read for all sibling customers at once."""
from __future__ import annotations

from tests.api.graphql.helpers import ok

CONTACTS = """query($order: [ContactOrder!], $after: String) {
  customers(orderBy: [{field: NAME}]) { edges { node { name
    contacts(first: 2, after: $after, orderBy: $order) {
      edges { node { name isPrimary } } pageInfo { hasNextPage endCursor } } } } } }"""


def _world(runtime, people):
    """Two customers, each with a primary contact named last alphabetically and three others."""
    from core.services import contacts, customers, interactions

    with runtime.database.unit_of_work():
        for label in ("A", "B"):
            customer = customers.create(people.rep, {"name": f"Customer {label}"})
            contacts.create(people.rep, {"customer_id": str(customer.id), "name": f"Zhao {label}", "is_primary": True})
            for name in ("Chen", "Li", "Wang"):
                contacts.create(people.rep, {"customer_id": str(customer.id), "name": f"{name} {label}"})
            for day, kind in ((3, "call"), (1, "visit"), (2, "email")):
                interactions.create(people.rep, {"customer_id": str(customer.id), "kind": kind, "subject": f"{kind} {label}",
                                                 "occurred_at": f"2024-02-0{day}T10:00:00+00:00"})
            customers.change_stage(people.rep, customer.id, {"to": "intent", "reason": "asked for a quote"})
            customers.change_stage(people.rep, customer.id, {"to": "potential", "reason": "went quiet"})


def _names(body):
    return {e["node"]["name"]: [c["node"]["name"] for c in e["node"]["contacts"]["edges"]]
            for e in ok(body)["customers"]["edges"]}


def test_nested_contacts_keep_primary_first_by_default_and_follow_order_by_when_given(api, runtime, people):
    _world(runtime, people)
    rep = api.as_("rep")
    assert _names(rep.graphql(CONTACTS)) == {"Customer A": ["Zhao A", "Chen A"], "Customer B": ["Zhao B", "Chen B"]}
    assert _names(rep.graphql(CONTACTS, {"order": [{"field": "NAME"}]})) == {
        "Customer A": ["Chen A", "Li A"], "Customer B": ["Chen B", "Li B"]}
    assert _names(rep.graphql(CONTACTS, {"order": [{"field": "NAME", "direction": "DESC"}]})) == {
        "Customer A": ["Zhao A", "Wang A"], "Customer B": ["Zhao B", "Wang B"]}


def test_paging_a_nested_list_under_an_ordering_returns_every_contact_of_every_customer_once(api, runtime, people):
    _world(runtime, people)
    rep, order = api.as_("rep"), [{"field": "NAME", "direction": "DESC"}]
    seen: dict[str, list[str]] = {"Customer A": [], "Customer B": []}
    after = None
    for _ in range(3):
        data = ok(rep.graphql(CONTACTS, {"order": order, "after": after}))
        for edge in data["customers"]["edges"]:
            seen[edge["node"]["name"]] += [c["node"]["name"] for c in edge["node"]["contacts"]["edges"]]
        # the same arguments reach every sibling: A's end cursor is a place in the ordering (after "Wang A"
        # by name descending), which B's list continues from too
        after = data["customers"]["edges"][0]["node"]["contacts"]["pageInfo"]["endCursor"]
        if not data["customers"]["edges"][0]["node"]["contacts"]["pageInfo"]["hasNextPage"]:
            break
    assert seen == {"Customer A": ["Zhao A", "Wang A", "Li A", "Chen A"],
                    "Customer B": ["Zhao B", "Wang B", "Li B", "Chen B"]}


def test_a_cursor_of_the_default_nested_ordering_is_refused_by_another_ordering(api, runtime, people):
    _world(runtime, people)
    rep = api.as_("rep")
    cursor = ok(rep.graphql(CONTACTS))["customers"]["edges"][0]["node"]["contacts"]["pageInfo"]["endCursor"]
    body = rep.graphql(CONTACTS, {"order": [{"field": "NAME"}], "after": cursor})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "after" in body["errors"][0]["extensions"]["fields"]


INTERACTIONS = """query($order: [InteractionOrder!]) { customers(orderBy: [{field: NAME}]) { edges { node {
    interactions(orderBy: $order) { edges { node { subject } } } } } } }"""


def test_nested_interactions_are_newest_first_by_default_and_follow_order_by(api, runtime, people):
    _world(runtime, people)
    rep = api.as_("rep")

    def subjects(order=None):
        edges = ok(rep.graphql(INTERACTIONS, {"order": order}))["customers"]["edges"]
        return [[i["node"]["subject"] for i in e["node"]["interactions"]["edges"]] for e in edges]

    assert subjects() == [["call A", "email A", "visit A"], ["call B", "email B", "visit B"]]
    assert subjects([{"field": "OCCURRED_AT"}]) == [["visit A", "email A", "call A"], ["visit B", "email B", "call B"]]
    assert subjects([{"field": "KIND", "direction": "DESC"}]) == [["visit A", "email A", "call A"],
                                                                 ["visit B", "email B", "call B"]]
    assert subjects([{"field": "KIND"}]) == [["call A", "email A", "visit A"], ["call B", "email B", "visit B"]]


HISTORY = """query($order: [WorkflowTransitionOrder!]) { customers(orderBy: [{field: NAME}]) { edges { node {
    stageHistory(orderBy: $order) { edges { node { toState } } } } } } }"""


def test_a_history_is_oldest_first_by_default_and_newest_first_with_at_desc(api, runtime, people):
    _world(runtime, people)
    rep = api.as_("rep")

    def states(order=None):
        edges = ok(rep.graphql(HISTORY, {"order": order}))["customers"]["edges"]
        return [[h["node"]["toState"] for h in e["node"]["stageHistory"]["edges"]] for e in edges]

    oldest_first = states()
    assert all(s[-2:] == ["intent", "potential"] for s in oldest_first), oldest_first
    assert states([{"field": "AT", "direction": "DESC"}]) == [list(reversed(s)) for s in oldest_first]
