"""Every documented filter and ordering of the core lists (customers, contacts, interactions) is served by
an index on PostgreSQL: the statements the list services really run are EXPLAINed with sequential scans
and sorts switched off (``enable_seqscan = off``, ``enable_sort = off``), so the planner takes an index
wherever one can serve (and reads rows in order wherever an index gives that order), and a ``Seq Scan``
left on ``customer``, ``contact`` or ``interaction`` (or ``customer_tag`` and ``customer_analytics``,
which the tag and analytics filters read) means no index does; a ``Sort`` left below the page's ``LIMIT``
means no index gives the rows of the page in order.

- An **ordering** (``sort=``; keyset pages order by the key then ``id``) is checked on the page
  statements: the first page and the page after a cursor (the seek condition), read by an admin (no scope
  condition). Besides no Seq Scan, the plan must have no full ``Sort``: an index reads the rows in
  order (an ``Incremental Sort`` of rows tied on the key, for a descending key, is fine).
- A **filter** is checked on the list's COUNT (the total every page reports): without an ORDER BY an
  index is only of use for the filter's condition, so a Seq Scan there means none serves it. Filters on
  a column of a handful of values (a boolean, an enum), which no index would help at scale either, are
  listed in ``LOW_CARDINALITY``: they are checked on the page statements only (the ordering's index
  reads the rows, the filter is applied to them).
- A filter's **page** in the list's default order (the first page, REST's offset page with its inline
  total and the keyset page) must be read in that order from an index the filter narrows
  (``SERVED_BY``): the filter's condition is an index condition of the index that reads the page, or
  the predicate of the partial index that does (``deleted=true``: the bin). Reading the whole ordering's
  index and dropping the rows that do not match takes as long as the list is long before the matching
  rows come (1 M customers: a rep's own page, ``stage=``; the bin); finding the matching rows by the
  filter's index and sorting them takes as long as they are many. The same for a rep's first page (the
  owner's scope). A filter of another table (``tag``, the analytics) is an index condition there.
- Name search (``q``) must be an index condition of a trigram index (``pg_trgm``) when an admin
  searches (no scope condition): a ``%term%`` match no btree serves. A rep's search may be read through
  the owner's index first (their customers are few), which is fine. A term of one or two characters
  (no trigram) is read from the names' grams instead: its page in name order from the gram index
  (``ix_<table>_name_gram_search``), narrowed by the gram, with no Sort; its count from the same index
  (an admin's count of customers from that index alone: the grams say which customers are live).

The tables are tiny (ANALYZEd first): with sequential scans and sorts off the plan shows which indexes
*can* serve the statement, which is what this checks, whatever the sizes; docs/deployment.md
("Indexes") lists them.
"""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event, insert, text

from api.testing import bound, make_people
from core.models import Contact, Customer, Interaction, LifecycleStage
from core.schemas import ContactFilter, CustomerFilter, InteractionFilter
from core.services import contacts, customers, interactions
from core.services.common import PageRequest
from core.services.paging import KeysetRequest

TABLES = {"customer", "contact", "interaction"}
#: no Seq Scan of these either (the tag and analytics filters read them)
SCANNED = TABLES | {"customer_tag", "customer_analytics", "customer_name_gram", "contact_name_gram"}
STAGES = [stage.value for stage in LifecycleStage]

#: filters on a few values (no index would be chosen for them at scale): checked on the page statements
LOW_CARDINALITY = {
    "customers": {"kind", "churn_risk"},
    "contacts": set(),
    "interactions": set(),
}


@pytest.fixture(autouse=True)
def postgresql_only(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("EXPLAIN plans are PostgreSQL's: run with TRELLIS_TEST_DATABASE_URL=postgresql://… "
                    "(SQLite is the embedded default; its lists are small)")


@pytest.fixture(scope="module")
def shared(app, engine):
    """One transaction for the module (rolled back at its end), holding the data every test reads and
    plans (nothing here writes): (its unit of work, the people). Made once: the tests only EXPLAIN."""
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")
    conn = engine.connect()
    outer = conn.begin()
    try:
        with bound(app, conn) as rt:
            people = make_people(rt)
            with rt.database.unit_of_work() as sess:
                fill(sess, people)
                yield sess, people
    finally:
        outer.rollback()
        conn.close()


@pytest.fixture
def uow(shared):
    return shared[0]


@pytest.fixture
def data(shared):
    return shared[1]


def fill(sess, people):
    """A few customers (of the rep and of nobody), each with contacts and interactions; a crowd no filter
    matches; many names of the rep's."""
    now = datetime.now(timezone.utc)
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
    crowd(sess, now)
    many_names(sess, people)
    analyze(sess)


def crowd(sess, now, count: int = 600):
    """Customers of nobody, each with a contact and interactions, that no filter of the tests matches: a
    filtered page is then a few rows of many (as at scale), and the planner reads it from the index the
    filter narrows where one exists (on a list the filter hardly narrows, any index will do)."""
    rows = [{"id": uuid.uuid4(), "name": f"Crowd {i:04d}", "kind": "company", "industry": "other",
             "region": "other", "source": "web_search", "stage": STAGES[-1], "level": "none", "notes": ""}
            for i in range(count)]
    sess.execute(insert(Customer), rows)
    sess.execute(insert(Contact), [{"customer_id": row["id"], "name": f"Crowd person {i:04d}"}
                                   for i, row in enumerate(rows)])
    sess.execute(insert(Interaction), [{"customer_id": row["id"], "kind": "email", "status": "done",
                                        "occurred_at": now - timedelta(hours=i * 3 + j)}
                                       for i, row in enumerate(rows) for j in range(3)])


def analyze(sess):
    """Statistics as autovacuum keeps them: the tables ANALYZEd, the new rows moved out of the trigram
    indexes' pending lists (which a GIN scan reads whole: the planner shuns a fresh index full of them)."""
    for index in ("ix_customer_name_trgm", "ix_contact_name_trgm"):
        sess.execute(text("SELECT gin_clean_pending_list(to_regclass(:index)) WHERE to_regclass(:index) IS NOT NULL"),
                     {"index": index})
    for table in sorted(SCANNED):
        sess.execute(text(f"ANALYZE {table}"))
    sess.execute(text("SET LOCAL enable_seqscan = off"))
    sess.execute(text("SET LOCAL enable_sort = off"))


def many_names(sess, people):
    """Enough other names (of the rep's customers) that a search for one name is a few rows of many: the
    planner then picks the index that finds them (on a handful of rows any index will do)."""
    rows = [{"id": uuid.uuid4(), "name": f"Firm {uuid.uuid4().hex[:12]}", "owner_id": people.rep.id}
            for _ in range(600)]
    sess.execute(insert(Customer), rows)
    sess.execute(insert(Contact), [{"customer_id": row["id"], "name": f"Someone {uuid.uuid4().hex[:12]}"}
                                   for row in rows for _ in range(2)])


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


def sorted_before_limit(plan: dict, limited: bool = False) -> list[dict]:
    """The ``Sort`` nodes that sort rows of the lists' tables before a ``LIMIT`` takes the page (a sort of
    the page's own rows, above it, as a joined collection's ORDER BY does, is fine)."""
    out = []
    if plan["Node Type"] == "Limit":
        limited = True
    if plan["Node Type"] == "Sort" and not limited and any(
            n.get("Relation Name") in TABLES for n in nodes(plan)):
        out.append(plan)
    for child in plan.get("Plans", []):
        if child.get("Parent Relationship") in ("InitPlan", "SubPlan"):
            continue   # the inline total: a COUNT, no order
        out += sorted_before_limit(child, limited)
    return out


def page_nodes(plan: dict):
    """The nodes of the page itself (not of its inline total, an InitPlan)."""
    yield plan
    for child in plan.get("Plans", []):
        if child.get("Parent Relationship") not in ("InitPlan", "SubPlan"):
            yield from page_nodes(child)


def predicates(uow, table: str) -> dict[str, str]:
    """{index name: the WHERE of a partial index} of ``table``."""
    rows = uow.execute(text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = :t "
                            "AND schemaname = current_schema()"), {"t": table}).all()
    return {name: ddl.split(" WHERE ", 1)[1] for name, ddl in rows if " WHERE " in ddl}


def narrowed(uow, plan: dict, table: str, mark: str) -> bool:
    """Whether an index scan of ``table`` in the page has ``mark`` (a column, a condition) in its index
    condition or in the predicate of its partial index: the filter bounds what the index reads."""
    partial = predicates(uow, table)
    for node in page_nodes(plan):
        if node.get("Relation Name") != table:
            continue
        # an index scan of the table, or the bitmap index scans under its bitmap heap scan
        scans = [node] if "Index Name" in node else [n for n in nodes(node) if "Index Name" in n]
        for scan in scans:
            if mark in (scan.get("Index Cond") or "") or mark in partial.get(scan["Index Name"], ""):
                return True
    return False


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


#: (table, what must bound the index read) of each filter whose page an index must read in the default
#: order: a column in the index condition, or a partial index's predicate. Not here: ``q`` (no trigram
#: index gives an order; its count is checked below), ``customer_id`` (a customer's few rows are sorted)
#: and the filters on a few values (``LOW_CARDINALITY``, and the customers' ``region`` and ``level``): the
#: ordering's index reads the page and drops the rows that do not match, a few for every one kept.
SERVED_BY = {
    "customers": {"owner_id": ("customer", "owner_id"), "industry": ("customer", "industry"),
                  "source": ("customer", "source"), "stage": ("customer", "stage"),
                  "deleted": ("customer", "deleted_at IS NOT NULL"), "tag": ("customer_tag", "tag"),
                  "segment": ("customer_analytics", "segment_id"),
                  "value_tier": ("customer_analytics", "value_tier"),
                  "rfm_segment": ("customer_analytics", "rfm_segment")},
    "contacts": {"deleted": ("contact", "deleted_at IS NOT NULL")},
    "interactions": {"kind": ("interaction", "kind"), "status": ("interaction", "status"),
                     "assignee_id": ("interaction", "assignee_id"), "mine": ("interaction", "assignee_id"),
                     "overdue": ("interaction", "due_at"), "due_before": ("interaction", "due_at"),
                     "due_after": ("interaction", "due_at"), "deleted": ("interaction", "deleted_at IS NOT NULL")},
}


def check_pages(uow, statements, what: str, served_by: tuple[str, str] | None) -> None:
    """The page statements: no Seq Scan, no Sort of the list's rows, and (``served_by``) an index the filter
    narrows reads them."""
    for (statement, _), plan in zip(statements, explain_all(uow, statements, what)):
        if "ORDER BY" not in statement:
            continue   # an offset page's COUNT, run with it: checked below
        sorts = sorted_before_limit(plan)
        assert not sorts, (f"{what}: the rows are sorted for the page, no index reads them in order.\n"
                           f"{json.dumps(plan, indent=1, default=str)}")
        if served_by is not None:
            table, mark = served_by
            assert narrowed(uow, plan, table, mark), (
                f"{what}: no index narrowed by {mark!r} reads the page in order (the ordering's index is read "
                f"whole and filtered, or the filter's rows sorted).\n{json.dumps(plan, indent=1, default=str)}")


@pytest.mark.parametrize("actor", ["admin", "rep"])
@pytest.mark.parametrize("name,key", FILTERS)
def test_each_filter_is_served_by_an_index(engine, uow, data, name, key, actor):
    value = filter_cases(data)[name][key]
    if value is A_CUSTOMER:
        value = str(uow.scalars(text("SELECT id FROM customer ORDER BY name LIMIT 1")).first())
    list_fn = LISTS[name][0]
    user = getattr(data, actor)
    filters = {key: value}
    page = list_fn(user, filters, page=KeysetRequest(first=5))
    statements = run(engine, lambda: list_fn(user, filters, page=KeysetRequest(first=5)))
    # REST's numbered page: for customers, the total comes in the page's statement
    statements += run(engine, lambda: list_fn(user, filters, page=PageRequest(limit=5)))
    # a rep's scope is its own condition (the owner, or an open task assigned): checked for the admin
    check_pages(uow, statements, f"{name} {key}={value!r} as {actor}",
                SERVED_BY[name].get(key) if actor == "admin" else None)
    if key in LOW_CARDINALITY[name]:
        return
    counted = run(engine, lambda: page.total)
    plans = explain_all(uow, counted, f"{name} {key}={value!r} as {actor} (the list's count)")
    if name in ("contacts", "interactions") and actor == "admin":
        # an admin's rows are checked against the bin's ids (ix_customer_bin_id), not by a probe of every
        # live customer's id per counted row (4.5 ms of a count of 2,001 interactions at 1 M customers)
        used = {index for plan in plans for index, _ in index_conditions(plan)}
        assert "ix_customer_live_id" not in used, json.dumps(plans, indent=1, default=str)
    if key == "q" and actor == "admin":   # a rep's scope may find fewer rows by the owner's index first
        used = [index for plan in plans for index, cond in index_conditions(plan) if "~~*" in cond]
        assert used and all("trgm" in index for index in used), (
            f"{name} q: name search is no trigram index condition: "
            f"{json.dumps(plans, indent=1, default=str)}")


SHORT_TERMS = {"customers": "有限", "contacts": "-2"}   # in 30 names each, of about 1,200


@pytest.mark.parametrize("actor", ["admin", "rep"])
@pytest.mark.parametrize("paged", ["keyset", "offset"])
@pytest.mark.parametrize("name", sorted(SHORT_TERMS))
def test_a_short_search_term_is_read_in_order_from_the_gram_index(engine, uow, data, name, paged, actor):
    """``q`` of one or two characters: the page is read in name order from the gram index, narrowed by
    the gram (1 M customers: the name index read until 2,001 names contained it, 1.3 s), and so is its
    count."""
    list_fn, user, filters = LISTS[name][0], getattr(data, actor), {"q": SHORT_TERMS[name]}
    request = KeysetRequest(first=5) if paged == "keyset" else PageRequest(limit=5)
    page = list_fn(user, filters, page=request)
    assert len(page.items) == 5
    statements = run(engine, lambda: list_fn(user, filters, page=request))
    gram_table = f"{name[:-1]}_name_gram"
    check_pages(uow, statements, f"{name} q={SHORT_TERMS[name]!r} as {actor} ({paged})", (gram_table, "gram"))
    if paged == "offset":
        return   # its total is counted with the page (above), or inline
    for plan in explain_all(uow, run(engine, lambda: page.total), f"{name} q={SHORT_TERMS[name]!r} (the count)"):
        assert any(index == f"ix_{gram_table}_search" and "gram" in cond for index, cond in index_conditions(plan)), (
            json.dumps(plan, indent=1, default=str))
        if name == "customers" and actor == "admin":
            # the grams say which customers are live: the count reads their index alone, no customer
            # probed per match (2,001 probes for 杭州 at 1 M customers)
            read = {node["Relation Name"] for node in nodes(plan) if "Relation Name" in node}
            assert read == {gram_table}, json.dumps(plan, indent=1, default=str)


@pytest.mark.parametrize("paged", ["keyset", "offset"])
def test_a_reps_first_page_is_read_from_their_customers_in_order(engine, uow, data, paged):
    """A rep sees their own customers (``owner_id``): the first page is read in name order from the
    owner's rows, not from every customer's name (1 M customers: 160,000 a rep, 2.5× the page at 10 k)."""
    request = KeysetRequest(first=5) if paged == "keyset" else PageRequest(limit=5)
    statements = run(engine, lambda: customers.list_customers(data.rep, {}, page=request))
    check_pages(uow, statements, f"customers as a rep ({paged})", ("customer", "owner_id"))
