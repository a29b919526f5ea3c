"""Every documented filter and ordering of the core lists (customers, contacts, interactions) is served by
an index on PostgreSQL: the statements the list services really run are EXPLAINed with sequential scans
switched off (``enable_seqscan = off``), so the planner takes an index wherever one can serve, and a
``Seq Scan`` left on ``customer``, ``contact`` or ``interaction`` (or ``customer_tag`` and
``customer_analytics``, which the tag and analytics filters read) means no index does.

- An **ordering** (``sort=``; keyset pages order by the key then ``id``) is checked on the page
  statements: the first page and the page after a cursor (the seek condition), read by an admin (no scope
  condition). Besides no Seq Scan, the plan must have no full ``Sort``: an index reads the rows in
  order (an ``Incremental Sort`` of rows tied on the key, for a descending key, is fine).
- A **filter** is checked on the list's COUNT (the total every page reports): without an ORDER BY an
  index is only of use for the filter's condition, so a Seq Scan there means none serves it. Filters on
  a column of a handful of values (a boolean, an enum), which no index would help at scale either, are
  listed in ``LOW_CARDINALITY``: they are checked on the page statements only (the ordering's index
  reads the rows, the filter is applied to them).
- Name search (``q``) must be an index condition of a trigram index (``pg_trgm``) when an admin
  searches (no scope condition): a ``%term%`` match no btree serves. A rep's search may be read through
  the owner's index first (their customers are few), which is fine.

The tables are tiny (ANALYZEd first): with sequential scans off the plan shows which indexes *can* serve
the statement, which is what this checks; docs/deployment.md ("Indexes") lists them.
"""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event, insert, text

from core.models import Contact, Customer, Interaction, LifecycleStage
from core.schemas import ContactFilter, CustomerFilter, InteractionFilter
from core.services import contacts, customers, interactions
from core.services.paging import KeysetRequest

TABLES = {"customer", "contact", "interaction"}
#: no Seq Scan of these either (the tag and analytics filters read them)
SCANNED = TABLES | {"customer_tag", "customer_analytics"}
STAGES = [stage.value for stage in LifecycleStage]

#: filters on a few values (no index would be chosen for them at scale): checked on the page statements
LOW_CARDINALITY = {
    "customers": {"kind", "source", "churn_risk", "deleted"},
    "contacts": {"deleted"},
    "interactions": {"status", "deleted"},
}


@pytest.fixture(autouse=True)
def postgresql_only(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("EXPLAIN plans are PostgreSQL's: run with TRELLIS_TEST_DATABASE_URL=postgresql://… "
                    "(SQLite is the embedded default; its lists are small)")


@pytest.fixture
def data(runtime, people, uow):
    """A few customers (of the rep and of nobody), each with contacts and interactions."""
    now = datetime.now(timezone.utc)
    sess = uow
    for i in range(30):
        owner = people.rep.id if i % 3 else None
        cust = Customer(name=f"Acme {i} 有限公司", kind="company" if i % 2 else "person", industry=f"ind{i % 5}",
                        region=f"reg{i % 4}", source="referral" if i % 2 else None,
                        stage=STAGES[i % len(STAGES)], level=f"L{i % 6}", owner_id=owner, notes="")
        sess.add(cust)
        sess.flush()
        for j in range(3):
            sess.add(Contact(customer_id=cust.id, name=f"Person {i}-{j}", is_primary=j == 0))
            sess.add(Interaction(customer_id=cust.id, kind="call" if j else "visit",
                                 status="planned" if j == 2 else "done",
                                 occurred_at=None if j == 2 else now - timedelta(days=i + j),
                                 due_at=now + timedelta(days=j - i) if j == 2 else None,
                                 assignee_id=people.rep.id))
    sess.flush()
    analyze(sess)
    return people


def analyze(sess):
    """Statistics as autovacuum keeps them: the tables ANALYZEd, the new rows moved out of the trigram
    indexes' pending lists (which a GIN scan reads whole: the planner shuns a fresh index full of them)."""
    for index in ("ix_customer_name_trgm", "ix_contact_name_trgm"):
        sess.execute(text("SELECT gin_clean_pending_list(to_regclass(:index)) WHERE to_regclass(:index) IS NOT NULL"),
                     {"index": index})
    for table in sorted(SCANNED):
        sess.execute(text(f"ANALYZE {table}"))
    sess.execute(text("SET LOCAL enable_seqscan = off"))


@pytest.fixture
def many_names(uow, data):
    """Enough other names (of the rep's customers) that a search for one name is a few rows of many: the
    planner then picks the index that finds them (on a handful of rows any index will do)."""
    rows = [{"id": uuid.uuid4(), "name": f"Firm {uuid.uuid4().hex[:12]}", "owner_id": data.rep.id}
            for _ in range(600)]
    uow.execute(insert(Customer), rows)
    uow.execute(insert(Contact), [{"customer_id": row["id"], "name": f"Someone {uuid.uuid4().hex[:12]}"}
                                  for row in rows for _ in range(2)])
    analyze(uow)
    return data


class Statements:
    """The statements run while listening (those reading the core's tables), with their parameters."""

    def __init__(self):
        self.seen: list[tuple[str, object]] = []

    def __call__(self, conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT") and any(f" {t}" in statement for t in TABLES):
            self.seen.append((statement, parameters))


def run(engine, fn):
    listener = Statements()
    event.listen(engine, "before_cursor_execute", listener)
    try:
        fn()
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    return listener.seen


def plan_of(uow, statement, parameters) -> dict:
    raw = uow.connection().exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters).scalar()
    return (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]


def nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


def seq_scans(plan: dict) -> list[str]:
    return [n["Relation Name"] for n in nodes(plan)
            if n["Node Type"] == "Seq Scan" and n.get("Relation Name") in SCANNED]


def index_conditions(plan: dict) -> list[tuple[str, str]]:
    return [(n["Index Name"], n.get("Index Cond") or "") for n in nodes(plan) if "Index Name" in n]


def explain_all(uow, found, what: str) -> list[dict]:
    assert found, f"{what}: no statement captured"
    plans = []
    for statement, parameters in found:
        plan = plan_of(uow, statement, parameters)
        assert not seq_scans(plan), (f"{what}: a sequential scan of {seq_scans(plan)} — no index serves it.\n"
                                     f"{statement}\n{json.dumps(plan, indent=1, default=str)}")
        plans.append(plan)
    return plans


LISTS = {
    "customers": (customers.list_customers, customers.SORTABLE),
    "contacts": (contacts.list_contacts, contacts.SORTABLE),
    "interactions": (interactions.list_interactions, interactions.SORTABLE),
}


def orderings(name):
    return [(name, key) for key in LISTS[name][1]] + [(name, f"-{key}") for key in LISTS[name][1]]


@pytest.mark.parametrize("name,sort", [o for n in LISTS for o in orderings(n)])
def test_each_ordering_is_served_by_an_index(engine, uow, data, name, sort):
    list_fn = LISTS[name][0]
    first = list_fn(data.admin, {}, page=KeysetRequest(first=5), sort=sort)
    assert first.items
    statements = run(engine, lambda: list_fn(data.admin, {}, page=KeysetRequest(first=5), sort=sort))
    statements += run(engine, lambda: list_fn(data.admin, {}, page=KeysetRequest(first=5, after=first.end_cursor),
                                             sort=sort))
    for plan in explain_all(uow, statements, f"{name} sort={sort}"):
        # a full Sort means no index gave the rows in order (an Incremental Sort of the ties is fine)
        sorts = [n for n in nodes(plan) if n["Node Type"] == "Sort"]
        assert not sorts, (f"{name} sort={sort}: the rows are sorted, no index reads them in order.\n"
                           f"{json.dumps(plan, indent=1, default=str)}")


A_CUSTOMER = object()


def filter_cases(data):
    rep = data.rep
    when = datetime.now(timezone.utc)
    return {
        "customers": {
            "q": "acme 17 ", "kind": "company", "industry": "ind1", "region": "reg1", "source": "referral",
            "stage": "potential", "level": "L1", "tag": "vip", "owner_id": str(rep.id),
            "segment": "00000000-0000-0000-0000-000000000001", "value_tier": "key", "rfm_segment": "champions",
            "churn_risk": True, "deleted": True,
        },
        "contacts": {"customer_id": A_CUSTOMER, "q": "person 17-", "deleted": True},
        "interactions": {
            "customer_id": A_CUSTOMER, "kind": "call", "status": "planned", "assignee_id": str(rep.id),
            "mine": True, "overdue": True, "due_before": when.isoformat(), "due_after": when.isoformat(),
            "deleted": True,
        },
    }


#: every documented filter: the fields of the lists' filter schemas (a new one needs a value above)
FILTERS = [(name, key) for name, schema in (("customers", CustomerFilter), ("contacts", ContactFilter),
                                            ("interactions", InteractionFilter))
           for key in schema().fields]


@pytest.mark.parametrize("actor", ["admin", "rep"])
@pytest.mark.parametrize("name,key", FILTERS)
def test_each_filter_is_served_by_an_index(request, engine, uow, data, name, key, actor):
    if key == "q":
        request.getfixturevalue("many_names")
    value = filter_cases(data)[name][key]
    if value is A_CUSTOMER:
        value = str(uow.scalars(text("SELECT id FROM customer ORDER BY name LIMIT 1")).first())
    list_fn = LISTS[name][0]
    user = getattr(data, actor)
    filters = {key: value}
    page = list_fn(user, filters, page=KeysetRequest(first=5))
    statements = run(engine, lambda: list_fn(user, filters, page=KeysetRequest(first=5)))
    explain_all(uow, statements, f"{name} {key}={value!r} as {actor}")
    if key in LOW_CARDINALITY[name]:
        return
    counted = run(engine, lambda: page.total)
    plans = explain_all(uow, counted, f"{name} {key}={value!r} as {actor} (the list's count)")
    if key == "q" and actor == "admin":   # a rep's scope may find fewer rows by the owner's index first
        used = [index for plan in plans for index, cond in index_conditions(plan) if "~~*" in cond]
        assert used and all("trgm" in index for index in used), (
            f"{name} q: name search is no trigram index condition: "
            f"{json.dumps(plans, indent=1, default=str)}")
