"""The core metrics — customers, revenue, funnel, rep_kpis — with exact numbers for each grouping and
period, the permission matrix (rep / other rep / manager / other team's manager / admin), the errors of
the REST contract, empty data (zeros and nulls, never NaN), and REST serving the service's numbers.

Data is made through REST and the services; timestamps are then moved into the past (creation times,
history rows), since the metrics are about when things happened."""
from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timezone

import pytest
from sqlalchemy import Float, cast, event, false, literal, select, union_all, update

from core.metrics import MetricQuery
from core.metrics_core.sql import median
from core.models import Customer, Interaction, WorkflowTransitionEntry
from core.services import customers as customer_service
from core.services import workflow
from tests.api.rest.test_customers import create

ROLES = ("rep", "rep2", "manager", "other_manager", "other_rep", "admin")


def at(day: str, hour: int = 10, minute: int = 0) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, minute=minute, tzinfo=timezone.utc)


def backdate(runtime, model, record_id, **values) -> None:
    with runtime.database.unit_of_work() as s:
        s.execute(update(model).where(model.id == uuid.UUID(str(record_id))).values(**values))


def evaluate(runtime, name: str, actor, **query) -> list[dict]:
    """The service's result, as plain dicts."""
    with runtime.database.unit_of_work():
        rows = runtime.metrics.evaluate(name, MetricQuery(actor=actor, **query))
        return [row.as_dict() for row in rows]


def rest(api, who: str, name: str, **params) -> list[dict]:
    response = api.as_(who).get(f"/api/v1/metrics/{name}", query_string=params)
    assert response.status_code == 200, response.get_json()
    assert "NaN" not in response.get_data(as_text=True)
    return response.get_json()["rows"]


def log(api, who, customer, kind, when, **fields) -> dict:
    response = api.as_(who).post("/api/v1/interactions", json={
        "customer_id": customer["id"], "kind": kind, "occurred_at": when.isoformat(), **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def plan(api, who, customer, kind, booked: datetime, runtime, **fields) -> dict:
    """A planned interaction, recorded (booked) at ``booked``."""
    response = api.as_(who).post("/api/v1/interactions", json={
        "customer_id": customer["id"], "kind": kind, "due_at": "2027-01-01T09:00:00Z", **fields})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "planned"
    backdate(runtime, Interaction, body["id"], created_at=booked)
    return body


def values(rows, key) -> dict:
    return {row["group"][key]: row["value"] for row in rows}


# --- customers and revenue ---------------------------------------------------------------------------

@pytest.fixture
def book(api, runtime, people):
    """Three customers of rep, one of rep2, one of the other team's rep, and their purchases."""
    def customer(who, name, created, **fields):
        body = create(api, who, name=name, **fields)
        backdate(runtime, Customer, body["id"], created_at=created)
        return body

    x1 = customer("rep", "X1", at("2025-01-15"), industry="retail", region="East", source="referral")
    x2 = customer("rep", "X2", at("2025-01-19", 23, 30), industry="retail", region="West", source="exhibition",
                  kind="person")
    x3 = customer("rep", "X3", at("2025-02-03"), industry="software", region="East")
    y1 = customer("rep2", "Y1", at("2025-02-10"), industry="retail")
    z1 = customer("other_rep", "Z1", at("2025-03-01"), industry="software")
    log(api, "rep", x1, "purchase", at("2025-01-16"), amount="100.00")
    log(api, "rep", x1, "purchase", at("2025-02-05"), amount="50.00")
    log(api, "rep", x3, "purchase", at("2025-02-10"), amount="200.00")
    log(api, "rep2", y1, "purchase", at("2025-02-11"), amount="30.00")
    log(api, "other_rep", z1, "purchase", at("2025-03-02"), amount="1000.00")
    # what revenue leaves out: a planned purchase, a deleted one, a call, a deleted customer's purchase
    plan(api, "rep", x2, "purchase", at("2025-02-01"), runtime, amount="777.00")
    mistake = log(api, "rep", x2, "purchase", at("2025-02-15"), amount="999.00")
    assert api.as_("rep").delete(f"/api/v1/interactions/{mistake['id']}").status_code == 204
    log(api, "rep", x2, "call", at("2025-02-15"), amount="5.00")
    gone = customer("rep", "Gone", at("2025-01-20"), industry="retail")
    log(api, "rep", gone, "purchase", at("2025-01-21"), amount="500.00")
    assert api.as_("rep").delete(f"/api/v1/customers/{gone['id']}").status_code == 204
    # levels depend on the last 365 days' purchases; fix them so the test does not depend on today
    for record, level in ((x1, "A"), (x2, "B"), (x3, "B"), (y1, "C"), (z1, "C")):
        backdate(runtime, Customer, record["id"], level=level)
    return {"x1": x1, "x2": x2, "x3": x3, "y1": y1, "z1": z1}


def test_customers_and_revenue_totals_follow_the_permission_scope(api, runtime, people, book):
    expected = {"rep": (3, 350.0, 3), "rep2": (1, 30.0, 1), "manager": (4, 380.0, 4),
                "other_manager": (1, 1000.0, 1), "other_rep": (1, 1000.0, 1), "admin": (5, 1380.0, 5)}
    for who, (count, money, purchases) in expected.items():
        actor = getattr(people, who)
        assert evaluate(runtime, "customers", actor) == [{"group": {}, "value": count}], who
        assert evaluate(runtime, "revenue", actor) == [
            {"group": {}, "value": money, "extra": {"purchases": purchases}}], who


def test_the_period_filters_by_creation_and_by_occurrence(runtime, people, book):
    january = {"date_from": date(2025, 1, 1), "date_to": date(2025, 1, 31)}
    february = {"date_from": date(2025, 2, 1), "date_to": date(2025, 2, 28)}
    assert evaluate(runtime, "customers", people.rep, **january)[0]["value"] == 2
    assert evaluate(runtime, "customers", people.rep, **february)[0]["value"] == 1
    assert evaluate(runtime, "customers", people.rep, date_from=date(2025, 3, 1))[0]["value"] == 0
    # to is inclusive: X2 was created at 23:30 on the 19th
    assert evaluate(runtime, "customers", people.rep, date_to=date(2025, 1, 19))[0]["value"] == 2
    assert evaluate(runtime, "revenue", people.rep, **february) == [
        {"group": {}, "value": 250.0, "extra": {"purchases": 2}}]
    assert evaluate(runtime, "revenue", people.admin, date_from=date(2025, 3, 1))[0]["value"] == 1000.0


def test_customers_grouped_by_each_attribute(runtime, people, book):
    rep = people.rep
    assert values(evaluate(runtime, "customers", rep, group_by="industry"), "industry") == {"retail": 2, "software": 1}
    assert values(evaluate(runtime, "customers", rep, group_by="region"), "region") == {"East": 2, "West": 1}
    assert values(evaluate(runtime, "customers", rep, group_by="kind"), "kind") == {"company": 2, "person": 1}
    assert values(evaluate(runtime, "customers", rep, group_by="level"), "level") == {"A": 1, "B": 2}
    # two purchases make X1 a repeat customer, one makes X3 (and X2, before it was deleted) first-purchase ones
    assert values(evaluate(runtime, "customers", rep, group_by="stage"), "stage") == {"first_purchase": 2, "repeat": 1}
    by_source = evaluate(runtime, "customers", rep, group_by="source")
    assert by_source == [  # vocabulary values carry their labels; no source comes last on every database
        {"group": {"source": "exhibition"}, "value": 1, "extra": {"label_en": "Exhibition", "label_zh_cn": "展会"}},
        {"group": {"source": "referral"}, "value": 1, "extra": {"label_en": "Referral", "label_zh_cn": "转介绍"}},
        {"group": {"source": None}, "value": 1}]
    by_owner = evaluate(runtime, "customers", people.manager, group_by="owner_id")
    assert sorted((r["group"]["owner_id"], r["value"], r["extra"]["owner"]) for r in by_owner) == sorted([
        (str(people.rep.id), 3, "Ray Rep"), (str(people.rep2.id), 1, "Rita Rep")])
    industries = evaluate(runtime, "customers", people.admin, group_by="industry", date_from=date(2025, 2, 1))
    assert values(industries, "industry") == {"retail": 1, "software": 2}


def test_revenue_grouped_by_each_attribute(runtime, people, book):
    rep = people.rep
    assert values(evaluate(runtime, "revenue", rep, group_by="industry"), "industry") == {"retail": 150.0, "software": 200.0}
    assert values(evaluate(runtime, "revenue", rep, group_by="region"), "region") == {"East": 350.0}
    assert values(evaluate(runtime, "revenue", rep, group_by="source"), "source") == {"referral": 150.0, None: 200.0}
    assert values(evaluate(runtime, "revenue", rep, group_by="level"), "level") == {"A": 150.0, "B": 200.0}
    assert values(evaluate(runtime, "revenue", rep, group_by="kind"), "kind") == {"company": 350.0}
    stage = evaluate(runtime, "revenue", rep, group_by="stage")
    assert stage == [
        {"group": {"stage": "first_purchase"}, "value": 200.0,
         "extra": {"label_en": "First purchase", "label_zh_cn": "购买客户", "purchases": 1}},
        {"group": {"stage": "repeat"}, "value": 150.0,
         "extra": {"label_en": "Repeat", "label_zh_cn": "历史客户", "purchases": 2}}]
    owners = evaluate(runtime, "revenue", people.admin, group_by="owner_id")
    assert {r["extra"]["owner"]: r["value"] for r in owners} == {"Ray Rep": 350.0, "Rita Rep": 30.0, "Olga Rep": 1000.0}


def test_new_customers_per_month_week_and_day(runtime, connection, people, book):
    if connection.dialect.name == "postgresql":
        # periods are UTC whatever the session's time zone (in Shanghai, X2 arrived on Monday the 20th)
        connection.exec_driver_sql("SET LOCAL TIME ZONE 'Asia/Shanghai'")
    rep = people.rep
    q1 = {"date_from": date(2025, 1, 1), "date_to": date(2025, 3, 31)}
    assert evaluate(runtime, "customers", rep, group_by="period:month", **q1) == [
        {"group": {"period": "2025-01-01"}, "value": 2},
        {"group": {"period": "2025-02-01"}, "value": 1},
        {"group": {"period": "2025-03-01"}, "value": 0}]  # a bounded range lists its empty periods too
    assert evaluate(runtime, "customers", rep, group_by="period:month") == [
        {"group": {"period": "2025-01-01"}, "value": 2}, {"group": {"period": "2025-02-01"}, "value": 1}]
    # weeks start on Monday, in UTC: X2 (Sunday 19 January, 23:30 UTC) belongs to the week of the 13th
    assert evaluate(runtime, "customers", rep, group_by="period:week") == [
        {"group": {"period": "2025-01-13"}, "value": 2}, {"group": {"period": "2025-02-03"}, "value": 1}]
    days = evaluate(runtime, "customers", rep, group_by="period:day",
                    date_from=date(2025, 1, 15), date_to=date(2025, 1, 20))
    assert [(r["group"]["period"], r["value"]) for r in days] == [
        ("2025-01-15", 1), ("2025-01-16", 0), ("2025-01-17", 0), ("2025-01-18", 0), ("2025-01-19", 1),
        ("2025-01-20", 0)]
    assert evaluate(runtime, "customers", people.admin, group_by="period:month") == [
        {"group": {"period": "2025-01-01"}, "value": 2}, {"group": {"period": "2025-02-01"}, "value": 2},
        {"group": {"period": "2025-03-01"}, "value": 1}]


def test_revenue_per_month(runtime, people, book):
    q1 = {"date_from": date(2025, 1, 1), "date_to": date(2025, 3, 31), "group_by": "period:month"}
    assert evaluate(runtime, "revenue", people.admin, **q1) == [
        {"group": {"period": "2025-01-01"}, "value": 100.0, "extra": {"purchases": 1}},
        {"group": {"period": "2025-02-01"}, "value": 280.0, "extra": {"purchases": 3}},
        {"group": {"period": "2025-03-01"}, "value": 1000.0, "extra": {"purchases": 1}}]
    assert evaluate(runtime, "revenue", people.rep, **q1)[2] == {
        "group": {"period": "2025-03-01"}, "value": 0.0, "extra": {"purchases": 0}}
    weeks = evaluate(runtime, "revenue", people.rep, group_by="period:week")
    assert values(weeks, "period") == {"2025-01-13": 100.0, "2025-02-03": 50.0, "2025-02-10": 200.0}


# --- funnel ------------------------------------------------------------------------------------------

@pytest.fixture
def lifecycle(api, runtime, people):
    """Customers moved through the lifecycle at known times.

    rep:  C1 potential 01-01 → intent 01-04 → first_purchase 01-14 → repeat 02-13
          C2 potential 01-01 → intent 01-06
          C3 potential 01-01 → first_purchase 01-02 (skips intent)
          C4 potential 03-01
          C5 potential 01-01 → lost 01-11 (the manager gives it up)
          C6 created in intent 02-01 (an import) → first_purchase 02-08
    other_rep: D1 potential 01-01 → intent 01-03
    """
    def customer(who, name, created, **fields):
        body = create(api, who, name=name, **fields)
        backdate(runtime, Customer, body["id"], created_at=created)
        return body["id"]

    def move(actor, customer_id, to, when):
        with runtime.database.unit_of_work():
            record = customer_service.get(actor, customer_id)
            workflow.transition(actor, "customer.lifecycle", record, to, at=when)

    c1, c2, c3 = (customer("rep", name, at("2025-01-01")) for name in ("C1", "C2", "C3"))
    c4 = customer("rep", "C4", at("2025-03-01"))
    c5 = customer("rep", "C5", at("2025-01-01"))
    c6 = customer("rep", "C6", at("2025-02-01"), stage="intent")
    with runtime.database.unit_of_work() as s:  # the import move happened when C6 was created
        s.execute(update(WorkflowTransitionEntry).where(WorkflowTransitionEntry.record_id == uuid.UUID(c6))
                  .values(at=at("2025-02-01")))
    d1 = customer("other_rep", "D1", at("2025-01-01"))
    rep = people.rep
    move(rep, c1, "intent", at("2025-01-04"))
    move(rep, c1, "first_purchase", at("2025-01-14"))
    move(rep, c1, "repeat", at("2025-02-13"))
    move(rep, c2, "intent", at("2025-01-06"))
    move(rep, c3, "first_purchase", at("2025-01-02"))
    move(people.manager, c5, "lost", at("2025-01-11"))
    move(rep, c6, "first_purchase", at("2025-02-08"))
    move(people.other_rep, d1, "intent", at("2025-01-03"))


def funnel_table(rows):
    return [(r["group"]["stage"], r["value"], r["extra"]["entered"], r["extra"]["converted"],
             r["extra"]["conversion_rate"], r["extra"]["median_days"], r["extra"]["exits"]) for r in rows]


def test_funnel_counts_conversions_and_median_days(runtime, people, lifecycle):
    rows = evaluate(runtime, "funnel", people.rep)
    assert funnel_table(rows) == [
        # stage, now in it, entered, went on, rate, median days in it, moves out
        ("potential", 1, 5, 3, 0.6, 4.0, 4),          # stays of 1, 3, 5, 10 days
        ("intent", 1, 3, 2, 0.6667, 8.5, 2),          # stays of 7 and 10 days
        ("first_purchase", 2, 3, 1, 0.3333, 30.0, 1),
        ("repeat", 1, 1, None, None, None, 0),
        ("lost", 1, 1, None, None, None, 0)]
    assert [(r["extra"]["next_stage"], r["extra"]["label_en"], r["extra"]["label_zh_cn"]) for r in rows] == [
        ("intent", "Potential", "潜在客户"), ("first_purchase", "Intent", "意向客户"),
        ("repeat", "First purchase", "购买客户"), (None, "Repeat", "历史客户"), (None, "Lost", "流失客户")]


def test_funnel_period_takes_the_cohort_that_entered_in_it(runtime, people, lifecycle):
    rows = evaluate(runtime, "funnel", people.rep, date_from=date(2025, 1, 1), date_to=date(2025, 1, 31))
    assert funnel_table(rows) == [
        ("potential", 1, 4, 3, 0.75, 4.0, 4),
        ("intent", 1, 2, 1, 0.5, 10.0, 1),
        # C1 entered first_purchase in January and reached repeat in February: it counts as converted
        ("first_purchase", 2, 2, 1, 0.5, None, 0),
        ("repeat", 1, 0, None, None, None, 0),
        ("lost", 1, 1, None, None, None, 0)]


def test_funnel_permission_matrix(runtime, people, lifecycle):
    rep = funnel_table(evaluate(runtime, "funnel", people.rep))
    assert funnel_table(evaluate(runtime, "funnel", people.manager)) == rep
    assert funnel_table(evaluate(runtime, "funnel", people.rep2)) == [
        (stage, 0, 0, None if stage in ("repeat", "lost") else 0, None, None, 0)
        for stage in ("potential", "intent", "first_purchase", "repeat", "lost")]
    assert funnel_table(evaluate(runtime, "funnel", people.other_manager))[:2] == [
        ("potential", 0, 1, 1, 1.0, 2.0, 1), ("intent", 1, 1, 0, 0.0, None, 0)]
    assert funnel_table(evaluate(runtime, "funnel", people.admin))[:3] == [
        ("potential", 1, 6, 4, 0.6667, 3.0, 5),     # D1's 2 days join the stays
        ("intent", 2, 4, 2, 0.5, 8.5, 2),
        ("first_purchase", 2, 3, 1, 0.3333, 30.0, 1)]


def test_funnel_over_rest_takes_no_group_by(api, lifecycle):
    response = api.as_("rep").get("/api/v1/metrics/funnel?group_by=stage")
    assert response.status_code == 422 and "group_by" in response.get_json()["errors"]["json"]
    assert [r["group"] for r in rest(api, "rep", "funnel")] == [
        {"stage": s} for s in ("potential", "intent", "first_purchase", "repeat", "lost")]


def test_funnel_is_aggregated_by_the_database(runtime, engine, people, lifecycle):
    """Three statements, none answering more than a row per stage: no customer or move crosses into
    Python, so a million customers cost the database's aggregation, not a Python loop over them (the
    admin sees seven customers and nine moves here). SQLite reports no row count for a SELECT."""
    answered = []

    def listen(conn, cursor, statement, parameters, context, executemany):
        answered.append((cursor.rowcount, statement))

    event.listen(engine, "after_cursor_execute", listen)
    try:
        rows = evaluate(runtime, "funnel", people.admin)
    finally:
        event.remove(engine, "after_cursor_execute", listen)
    assert funnel_table(rows)[0] == ("potential", 1, 6, 4, 0.6667, 3.0, 5)
    selects = [(count, sql) for count, sql in answered if sql.lstrip().upper().startswith(("SELECT", "WITH"))]
    assert len(selects) == 3, [sql for _, sql in selects]
    if engine.dialect.name == "postgresql":
        assert all(count <= len(rows) for count, _ in selects), [(count, sql) for count, sql in selects]


@pytest.mark.parametrize("values, expected", [
    ([3.0, 1.0, 2.0], 2.0), ([4.0, 1.0, 3.0, 2.0], 2.5), ([5.0, None, 1.0], 3.0), ([None], None), ([], None)])
def test_median_is_the_same_aggregate_on_every_database(engine, values, expected):
    """The funnel's median days: PostgreSQL's percentile_cont(0.5), SQLite's registered aggregate."""
    rows = [select(cast(literal(v), Float).label("x")) for v in values] or [
        select(cast(literal(None), Float).label("x")).where(false())]
    numbers = union_all(*rows).subquery() if len(rows) > 1 else rows[0].subquery()
    with engine.connect() as conn:
        assert conn.execute(select(median(numbers.c.x))).scalar() == expected


# --- rep KPIs ----------------------------------------------------------------------------------------

@pytest.fixture
def activity(api, runtime, people):
    """March 2025 (and one February call) of three reps and a manager.

    Ray (rep): calls A, B; visit A; referral from B; purchases A 100 + 50; email Cc; a meeting logged as
    held with B; a meeting with A booked and still planned; one with Cc booked and cancelled; one with Cc
    booked by the manager for Ray and held; a call to Cc in February.
    Rita (rep2): a call to Dd. Olga (other_rep): a purchase from E 70. Mia (manager): a visit to A.
    """
    a, b, cc = (create(api, "rep", name=n) for n in ("A", "B", "Cc"))
    dd = create(api, "rep2", name="Dd")
    e = create(api, "other_rep", name="E")
    log(api, "rep", a, "call", at("2025-03-03"))
    log(api, "rep", b, "call", at("2025-03-04"))
    log(api, "rep", a, "visit", at("2025-03-05"))
    log(api, "rep", b, "referral", at("2025-03-06"))
    log(api, "rep", a, "purchase", at("2025-03-10"), amount="100.00")
    log(api, "rep", a, "purchase", at("2025-03-20"), amount="50.00")
    log(api, "rep", cc, "email", at("2025-03-09"))
    held = log(api, "rep", b, "meeting", at("2025-03-12"))
    backdate(runtime, Interaction, held["id"], created_at=at("2025-03-12"))
    plan(api, "rep", a, "meeting", at("2025-03-02"), runtime)
    cancelled = plan(api, "rep", cc, "meeting", at("2025-03-07"), runtime)
    assert api.as_("rep").post(f"/api/v1/interactions/{cancelled['id']}/cancel",
                               json={"outcome": "they postponed"}).status_code == 200
    booked_by_manager = plan(api, "manager", cc, "meeting", at("2025-03-08"), runtime,
                             assignee_id=str(people.rep.id))
    done = api.as_("rep").post(f"/api/v1/interactions/{booked_by_manager['id']}/complete",
                               json={"outcome": "signed the NDA", "occurred_at": "2025-03-15T10:00:00Z"})
    assert done.status_code == 200, done.get_json()
    log(api, "rep", cc, "call", at("2025-02-20"))
    log(api, "rep2", dd, "call", at("2025-03-03"))
    log(api, "other_rep", e, "purchase", at("2025-03-05"), amount="70.00")
    log(api, "manager", a, "visit", at("2025-03-21"))


MARCH = {"date_from": date(2025, 3, 1), "date_to": date(2025, 3, 31)}

RAY_MARCH = {"calls": 2, "visits": 1, "customers_reached": 3, "meetings_booked": 4, "meetings_held": 2,
             "booked_meetings_held": 2, "referrals": 1, "deals": 2, "customers_signed": 1, "revenue": 150.0,
             "appointment_success_rate": 0.5, "signing_rate": 0.3333}
RITA_MARCH = {"calls": 1, "visits": 0, "customers_reached": 1, "meetings_booked": 0, "meetings_held": 0,
              "booked_meetings_held": 0, "referrals": 0, "deals": 0, "customers_signed": 0, "revenue": 0.0,
              "appointment_success_rate": None, "signing_rate": 0.0}
OLGA_MARCH = {**RITA_MARCH, "calls": 0, "deals": 1, "customers_signed": 1, "revenue": 70.0, "signing_rate": 1.0}
MIA_MARCH = {**RITA_MARCH, "calls": 0, "visits": 1}


def kpi_rows(rows) -> list[tuple]:
    return [(r["group"]["rep"], r["value"], r["extra"]) for r in rows]


def test_rep_kpis_exact_numbers_for_the_period(runtime, people, activity):
    rows = evaluate(runtime, "rep_kpis", people.rep, **MARCH)
    assert rows == [{"group": {"rep_id": str(people.rep.id), "rep": "Ray Rep"}, "value": 2, "extra": RAY_MARCH}]


def test_a_task_counts_for_its_assignee_and_a_logged_interaction_for_who_logged_it(runtime, people, activity):
    # the meeting the manager booked for Ray is Ray's (booked and held); Mia's own visit is hers
    manager_view = kpi_rows(evaluate(runtime, "rep_kpis", people.manager, **MARCH))
    assert manager_view == [("Mia Manager", 0, MIA_MARCH), ("Ray Rep", 2, RAY_MARCH), ("Rita Rep", 0, RITA_MARCH)]


def test_rep_kpis_permission_matrix(runtime, people, activity):
    seen = {who: [r[0] for r in kpi_rows(evaluate(runtime, "rep_kpis", getattr(people, who), **MARCH))]
            for who in ROLES}
    assert seen == {"rep": ["Ray Rep"], "rep2": ["Rita Rep"], "other_rep": ["Olga Rep"],
                    "manager": ["Mia Manager", "Ray Rep", "Rita Rep"], "other_manager": ["Olga Rep"],
                    "admin": ["Mia Manager", "Olga Rep", "Ray Rep", "Rita Rep"]}
    admin = kpi_rows(evaluate(runtime, "rep_kpis", people.admin, **MARCH))
    assert admin == [("Mia Manager", 0, MIA_MARCH), ("Olga Rep", 1, OLGA_MARCH), ("Ray Rep", 2, RAY_MARCH),
                     ("Rita Rep", 0, RITA_MARCH)]


def test_rep_kpis_without_a_period_and_per_month(runtime, people, activity):
    [ray] = evaluate(runtime, "rep_kpis", people.rep)
    assert ray["extra"] == {**RAY_MARCH, "calls": 3}  # the February call joins; Cc was reached anyway
    months = evaluate(runtime, "rep_kpis", people.manager, group_by="period:month",
                      date_from=date(2025, 2, 1), date_to=date(2025, 3, 31))
    table = [(r["group"]["rep"], r["group"]["period"], r["value"], r["extra"]["calls"],
              r["extra"]["customers_reached"], r["extra"]["signing_rate"]) for r in months]
    assert table == [("Mia Manager", "2025-02-01", 0, 0, 0, None), ("Mia Manager", "2025-03-01", 0, 0, 1, 0.0),
                     ("Ray Rep", "2025-02-01", 0, 1, 1, 0.0), ("Ray Rep", "2025-03-01", 2, 2, 3, 0.3333),
                     ("Rita Rep", "2025-02-01", 0, 0, 0, None), ("Rita Rep", "2025-03-01", 0, 1, 1, 0.0)]
    assert months[3]["extra"] == RAY_MARCH and months[3]["group"]["rep_id"] == str(people.rep.id)


# --- empty data, errors, REST ------------------------------------------------------------------------

def test_empty_data_gives_zeros_and_nulls_never_nan(api, runtime, people):
    assert evaluate(runtime, "customers", people.rep) == [{"group": {}, "value": 0}]
    assert evaluate(runtime, "revenue", people.rep) == [{"group": {}, "value": 0.0, "extra": {"purchases": 0}}]
    assert evaluate(runtime, "customers", people.rep, group_by="industry") == []
    assert evaluate(runtime, "revenue", people.rep, group_by="period:week",
                    date_from=date(2025, 3, 3), date_to=date(2025, 3, 10)) == [
        {"group": {"period": "2025-03-03"}, "value": 0.0, "extra": {"purchases": 0}},
        {"group": {"period": "2025-03-10"}, "value": 0.0, "extra": {"purchases": 0}}]
    [row] = evaluate(runtime, "rep_kpis", people.rep)
    assert row["value"] == 0 and row["extra"]["appointment_success_rate"] is None
    assert row["extra"]["signing_rate"] is None and row["extra"]["calls"] == 0
    funnel = evaluate(runtime, "funnel", people.admin)
    assert [(r["value"], r["extra"]["conversion_rate"], r["extra"]["median_days"]) for r in funnel] == [(0, None, None)] * 5
    # a manager sees each of their reps, with zeros; nobody's activity is invented
    assert [r["group"]["rep"] for r in evaluate(runtime, "rep_kpis", people.manager)] == ["Ray Rep", "Rita Rep"]
    for name in ("customers", "revenue", "funnel", "rep_kpis"):
        rest(api, "rep", name)  # asserts 200 and no NaN in the JSON


def test_invalid_group_by_is_422_naming_it(api):
    response = api.as_("rep").get("/api/v1/metrics/customers?group_by=password_hash")
    assert response.status_code == 422
    [message] = response.get_json()["errors"]["json"]["group_by"]
    assert "password_hash" in message and "period:month" in message
    response = api.as_("rep").get("/api/v1/metrics/rep_kpis?group_by=industry")
    assert response.status_code == 422 and "group_by" in response.get_json()["errors"]["json"]


def test_from_after_to_is_422(api):
    response = api.as_("rep").get("/api/v1/metrics/revenue?from=2025-03-02&to=2025-03-01")
    assert response.status_code == 422 and "from" in response.get_json()["errors"]["json"]


def test_too_many_filled_periods_is_422(api):
    response = api.as_("rep").get("/api/v1/metrics/customers?group_by=period:day&from=2000-01-01&to=2025-01-01")
    assert response.status_code == 422 and "group_by" in response.get_json()["errors"]["json"]


def test_a_refresh_that_is_not_a_boolean_is_422_naming_it(api):
    response = api.as_("rep").get("/api/v1/metrics/revenue?refresh=maybe")
    assert response.status_code == 422 and list(response.get_json()["errors"]["query"]) == ["refresh"]


def test_the_answer_says_when_it_was_computed_and_whether_it_was_stored(api, monkeypatch, runtime):
    """Small data answers live (the default threshold); with every answer stored the second is served
    from the stored result until refresh=true (tests/core/test_metric_results.py has the rules)."""
    before = datetime.now(timezone.utc)
    live = api.as_("rep").get("/api/v1/metrics/funnel").get_json()
    assert live["materialised"] is False and datetime.fromisoformat(live["computed_at"]) >= before
    import dataclasses

    monkeypatch.setattr(runtime, "settings", dataclasses.replace(runtime.settings, metric_materialise_after_ms=0))
    first = api.as_("rep").get("/api/v1/metrics/funnel").get_json()
    second = api.as_("rep").get("/api/v1/metrics/funnel").get_json()
    assert (first["materialised"], second["materialised"]) == (False, True)
    assert second["computed_at"] == first["computed_at"] and second["rows"] == first["rows"] == live["rows"]
    refreshed = api.as_("rep").get("/api/v1/metrics/funnel?refresh=true").get_json()
    assert refreshed["materialised"] is False and refreshed["computed_at"] != first["computed_at"]


def test_unknown_metric_is_404(api):
    assert api.as_("rep").get("/api/v1/metrics/happiness").status_code == 404


def test_metrics_need_a_login(client):
    assert client.get("/api/v1/metrics/funnel").status_code == 401


def test_the_catalogue_lists_the_core_metrics_and_their_groupings(api):
    catalogue = {m["name"]: m for m in api.as_("rep").get("/api/v1/metrics").get_json()}
    assert {"customers", "revenue", "funnel", "rep_kpis"} <= set(catalogue)
    assert catalogue["funnel"]["group_by"] == [] and catalogue["funnel"]["label_zh_cn"] == "销售漏斗"
    assert catalogue["rep_kpis"]["group_by"] == ["period:day", "period:week", "period:month"]
    assert set(catalogue["customers"]["group_by"]) == {
        "stage", "industry", "region", "source", "level", "kind", "owner_id", "period:day", "period:week",
        "period:month"}
    assert catalogue["revenue"]["group_by"] == catalogue["customers"]["group_by"]
    assert all(catalogue[n]["owner"] == "core" for n in ("customers", "revenue", "funnel", "rep_kpis"))


@pytest.mark.parametrize("who", ["rep", "manager", "admin"])
def test_rest_serves_the_services_numbers(api, runtime, people, book, lifecycle, activity, who):
    asks = [("customers", {}), ("customers", {"group_by": "industry"}),
            ("customers", {"group_by": "period:month", "from": "2025-01-01", "to": "2025-03-31"}),
            ("revenue", {"group_by": "owner_id"}), ("revenue", {"group_by": "period:week", "from": "2025-02-01"}),
            ("funnel", {}), ("funnel", {"from": "2025-01-01", "to": "2025-01-31"}),
            ("rep_kpis", {"from": "2025-03-01", "to": "2025-03-31"}), ("rep_kpis", {"group_by": "period:day"})]
    actor = getattr(people, who)
    for name, params in asks:
        query = {"group_by": params.get("group_by"),
                 "date_from": date.fromisoformat(params["from"]) if "from" in params else None,
                 "date_to": date.fromisoformat(params["to"]) if "to" in params else None}
        served = rest(api, who, name, **params)
        assert served == json.loads(json.dumps(evaluate(runtime, name, actor, **query))), (name, params)
        assert served, (name, params)
