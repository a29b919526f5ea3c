"""The training plugin, through REST and GraphQL as its users meet it."""
from __future__ import annotations

import datetime
import random

from click.testing import CliRunner

from api.testing import graphql_list, pin_statements   # the test kit's helpers
from trellis.plugin import create_customer
import trellis_training
from trellis_training import services


def test_the_plugin_keeps_the_frameworks_contract(contract):
    assert contract("training") == []   # GraphQL conventions, and the migration matches the models


def test_courses_over_rest_create_list_update_delete_restore(school):
    c = school.coordinator
    course = school.new_course("TR-200", capacity=12)
    assert course["price"] == "1200.00" and course["version"] == 1
    codes = [row["code"] for row in c.get("/api/v1/training/courses?sort=code").get_json()]
    assert codes == ["TR-101", "TR-200"]
    url = f"/api/v1/training/courses/{course['id']}"
    updated = c.patch(url, json={"version": 1, "capacity": 20})
    assert updated.status_code == 200 and updated.get_json()["capacity"] == 20
    stale = c.patch(url, json={"version": 1, "name": "Too late"})
    assert stale.status_code == 409 and "version" in stale.get_json()["errors"]["json"]
    taken = c.post("/api/v1/training/courses", json={"code": "TR-200", "name": "Again", "capacity": 5,
                                                     "price": "1", "starts_on": "2026-05-01"})
    assert taken.status_code == 409 and "code" in taken.get_json()["errors"]["json"]
    assert school.api.as_("rep").patch(url, json={"version": 2, "capacity": 30}).status_code == 403
    assert c.delete(url).status_code == 204
    assert c.get(url).status_code == 404
    assert [r["code"] for r in c.get("/api/v1/training/courses?deleted=true").get_json()] == ["TR-200"]
    assert c.post(f"{url}/restore").get_json()["deleted_at"] is None


ENROLMENTS = """query($filter: TrainingEnrolmentFilter) {
  trainingEnrolments(filter: $filter, orderBy: [{field: CREATED_AT, direction: ASC}]) {
    totalCount edges { node { customerId status version } } } }"""


def test_enrolments_over_graphql_create_list_update_delete_restore(school):
    rep = school.api.as_("rep")
    created = rep.graphql("""mutation($input: TrainingEnrolmentCreateInput!) {
        createTrainingEnrolment(input: $input) { id status note version } }""",
                          {"input": {"courseId": school.course["id"], "customerId": school.rep_customer,
                                     "note": "Wants the evening group"}})["data"]["createTrainingEnrolment"]
    assert created["status"] == "APPLIED" and created["note"] == "Wants the evening group"
    edges = graphql_list(rep.graphql(ENROLMENTS, {"filter": {"status": "APPLIED"}}), "trainingEnrolments.edges")
    assert [e["node"]["customerId"] for e in edges] == [school.rep_customer]
    update = """mutation($id: ID!, $input: TrainingEnrolmentUpdateInput!) {
        updateTrainingEnrolment(id: $id, input: $input) { note version } }"""
    ok = rep.graphql(update, {"id": created["id"], "input": {"version": 1, "note": "Morning group"}})
    assert ok["data"]["updateTrainingEnrolment"] == {"note": "Morning group", "version": 2}
    stale = rep.graphql(update, {"id": created["id"], "input": {"version": 1, "note": "Lost update"}})
    assert stale["errors"][0]["extensions"]["code"] == "CONFLICT"
    deleted = rep.graphql("mutation($id: ID!) { deleteTrainingEnrolment(id: $id) { deletedAt } }",
                          {"id": created["id"]})["data"]["deleteTrainingEnrolment"]
    assert deleted["deletedAt"] is not None
    assert rep.graphql(ENROLMENTS)["data"]["trainingEnrolments"]["totalCount"] == 0
    rep.graphql("mutation($id: ID!) { restoreTrainingEnrolment(id: $id) { id } }", {"id": created["id"]})
    assert rep.graphql(ENROLMENTS)["data"]["trainingEnrolments"]["totalCount"] == 1


def test_the_workflow_and_a_full_course_refusing_confirmation(school):
    course = school.new_course("TR-300", capacity=1)
    first = school.enrol("rep", school.rep_customer, course)
    second = school.enrol("other_rep", school.other_customer, course)
    twice = school.api.as_("rep").post("/api/v1/training/enrolments", json={
        "course_id": course["id"], "customer_id": school.rep_customer})
    assert twice.status_code == 409 and "customer_id" in twice.get_json()["errors"]["json"]
    assert school.move("rep", first, "confirmed").status_code == 403   # confirming is the coordinator's
    assert school.move("coordinator", first, "confirmed").get_json()["status"] == "confirmed"
    full = school.move("coordinator", second, "confirmed")
    assert full.status_code == 422
    assert "TR-300 is full" in full.get_json()["errors"]["json"]["to"][0]
    skipped = school.move("coordinator", second, "attended")              # applied → attended is no move
    assert skipped.status_code == 422 and "to" in skipped.get_json()["errors"]["json"]
    assert school.move("other_rep", second, "cancelled").get_json()["status"] == "cancelled"
    history = school.coordinator.graphql("""query($id: ID!) { trainingEnrolment(id: $id) {
        history { edges { node { fromState toState } } } } }""", {"id": first["id"]})
    moves = [e["node"] for e in history["data"]["trainingEnrolment"]["history"]["edges"]]
    assert moves == [{"fromState": "applied", "toState": "confirmed"}]


def test_moving_over_graphql_names_the_full_course(school):
    course = school.new_course("TR-301", capacity=1)
    school.move("coordinator", school.enrol("rep", school.rep_customer, course), "confirmed")
    waiting = school.enrol("other_rep", school.other_customer, course)
    body = school.coordinator.graphql("""mutation($id: ID!) {
        moveTrainingEnrolment(id: $id, to: CONFIRMED) { status } }""", {"id": waiting["id"]})
    assert body["data"]["moveTrainingEnrolment"] is None
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "to" in body["errors"][0]["extensions"]["fields"]


def test_attending_writes_an_entry_on_the_customers_timeline(school):
    enrolment = school.enrol("rep", school.rep_customer)
    school.move("coordinator", enrolment, "confirmed")
    attended = school.move("coordinator", enrolment, "attended").get_json()
    assert attended["status"] == "attended" and attended["attended_at"] is not None
    timeline = school.api.as_("rep").get(f"/api/v1/interactions?customer_id={school.rep_customer}").get_json()
    assert [(i["kind"], i["subject"]) for i in timeline] == [("training_attended", "Attended TR-101 Course TR-101")]


def test_a_rep_sees_their_customers_enrolments_and_the_coordinator_all(school):
    mine = school.enrol("rep", school.rep_customer)
    theirs = school.enrol("other_rep", school.other_customer)

    def seen(who):
        return {e["id"] for e in school.api.as_(who).get("/api/v1/training/enrolments").get_json()}

    assert seen("rep") == {mine["id"]}
    assert seen("other_rep") == {theirs["id"]}
    assert seen("manager") == {mine["id"]}                 # the manager of the rep's team
    assert seen("coordinator") == {mine["id"], theirs["id"]}
    assert school.api.as_("rep").get(f"/api/v1/training/enrolments/{theirs['id']}").status_code == 404
    refused = school.api.as_("rep").post("/api/v1/training/enrolments", json={
        "course_id": school.course["id"], "customer_id": school.other_customer})
    assert refused.status_code == 422 and "customer_id" in refused.get_json()["errors"]["json"]
    # the coordinator reads the customers enrolled, and no other
    assert school.coordinator.get(f"/api/v1/customers/{school.other_customer}").status_code == 200
    assert school.coordinator.get(f"/api/v1/customers/{school.customer('rep', 'Not enrolled')}").status_code == 404


def test_metrics_by_status_by_month_and_fill_rate(school):
    first = school.enrol("rep", school.rep_customer)
    school.enrol("other_rep", school.other_customer)
    school.move("coordinator", first, "confirmed")
    this_month = datetime.date.today().replace(day=1)

    def rows(who, name, **query):
        response = school.api.as_(who).get(f"/api/v1/metrics/{name}", query_string=query)
        assert response.status_code == 200, response.get_json()
        return [(r["group"], r["value"]) for r in response.get_json()["rows"]]

    assert sorted(rows("coordinator", "training_enrolments", group_by="status"), key=str) == [
        ({"status": "applied"}, 1), ({"status": "confirmed"}, 1)]
    assert rows("rep", "training_enrolments", group_by="status") == [({"status": "confirmed"}, 1)]
    previous = (this_month - datetime.timedelta(days=1)).replace(day=1)
    assert rows("coordinator", "training_enrolments", group_by="period:month", **{
        "from": previous.isoformat(), "to": datetime.date.today().isoformat()}) == [
        ({"period": previous.isoformat()}, 0), ({"period": this_month.isoformat()}, 2)]
    school.new_course("TR-400", capacity=4)
    assert rows("rep", "training_fill_rate", group_by="course") == [({"course": "TR-101"}, 0.5),
                                                                    ({"course": "TR-400"}, 0.0)]
    assert rows("rep", "training_fill_rate") == [({}, round(1 / 6, 4))]


PIN = """query($first: Int!) { customers(first: $first) { edges { node { id
  trainingEnrolments(first: 5) { totalCount edges { node { id status courseId } } } } } } }"""


def test_customers_training_enrolments_cost_the_same_statements_for_5_and_50(school, runtime, people,
                                                                                count_queries):
    def grow(have, want):
        with runtime.database.unit_of_work():
            for n in range(have, want):
                customer = create_customer(people.rep, {"name": f"Pupil {n:03}"})
                services.create_enrolment(people.rep, {"course_id": school.course["id"],
                                                       "customer_id": str(customer.id)})

    rep = school.api.as_("rep")
    edges = pin_statements(count_queries, grow=grow, size_of=lambda n: n + 1,   # + the school's own customer
                           fetch=lambda n: graphql_list(rep.graphql(PIN, {"first": n + 1}), "customers.edges"))
    counts = [e["node"]["trainingEnrolments"]["totalCount"] for e in edges]
    assert sorted(counts) == [0] + [1] * 50


def test_the_job_cancels_applications_left_unconfirmed_after_the_course_started(school, runtime):
    started = school.new_course("TR-500", starts_on="2026-01-05")
    late = school.enrol("rep", school.rep_customer, started)
    kept = school.enrol("rep", school.rep_customer)   # TR-101 starts on 2026-03-02
    with runtime.database.unit_of_work():
        assert services.expire_applications(datetime.datetime(2026, 1, 7, tzinfo=datetime.timezone.utc)) \
            == "1 applications cancelled"
    statuses = {e["id"]: e["status"] for e in school.coordinator.get("/api/v1/training/enrolments").get_json()}
    assert statuses == {late["id"]: "cancelled", kept["id"]: "applied"}


class Progress:
    def __init__(self):
        self.expected, self.done = 0, 0

    def expect(self, n):
        self.expected = n

    def __call__(self, n=1):
        self.done += n


def test_demo_data_loads_and_the_cli_lists_it(api, app, runtime, people):
    for n in range(6):
        assert api.as_("rep").post("/api/v1/customers", json={"name": f"Demo customer {n}"}).status_code == 201
    progress = Progress()
    with runtime.database.unit_of_work():
        trellis_training.trellis_demo_data(admin=people.admin, rng=random.Random(7), progress=progress)
    assert progress.done == progress.expected == 5 + 2 * 6
    courses = api.get("/api/v1/training/courses?sort=code").get_json()
    assert [c["code"] for c in courses] == ["TR-101", "TR-102", "TR-103", "TR-104"]
    enrolments = api.get("/api/v1/training/enrolments?page_size=100").get_json()
    assert len(enrolments) == 6 and {e["status"] for e in enrolments} - {"applied", "confirmed", "attended",
                                                                            "cancelled"} == set()
    [command] = trellis_training.trellis_cli_commands()
    with app.app_context():
        result = CliRunner().invoke(command)
    assert result.exit_code == 0, result.output
    assert [line.split("\t")[0] for line in result.output.splitlines()] == [c["code"] for c in courses]
