"""A gated workflow state is reachable only through the gate: creating a record in a state is the move
from the workflow's initial state to it, checked like any move.

Before, a rep could create a customer straight at ``lost`` (a move that needs a manager's approval —
it is how reps' results are judged) or at ``repeat`` (which only purchases reach, automatically), and
the history recorded it as an import. Now ``core.services.workflow.check_start`` applies the rules of
the move ``potential → stage``: a person's create is a manual move (a rep: intent, first_purchase; a
manager or admin also lost, which they approve themselves, and the history says so); an admin's create
counts as an import (the ``stage`` field exists for loading customers from an old system), which may
reach any stage. A refused stage is a 422 naming ``stage`` and nothing is written. Updates never set a
workflow's state: ``common.apply_changes`` refuses it for every record with a workflow, core or plugin
(the plugins' create and update inputs carry no state field, and their records start in the initial
state; none of their workflows has an approval gate).
"""
from __future__ import annotations

import pytest

from core.errors import ValidationFailed
from tests.api.graphql.test_lifecycle_graphql import gql, ok
from tests.api.rest.test_customers import create


def history(api, customer_id, who="admin"):
    response = api.as_(who).get(f"/api/v1/customers/{customer_id}/history?workflow=customer.lifecycle")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def names(api, who="admin"):
    return {c["name"] for c in api.as_(who).get("/api/v1/customers?page_size=100").get_json()}


@pytest.mark.parametrize("stage", ["lost", "repeat"])
def test_a_rep_cannot_create_a_customer_at_a_gated_stage(api, stage):
    response = api.as_("rep").post("/api/v1/customers", json={"name": "Gone Co", "stage": stage})
    assert response.status_code == 422, response.get_json()
    assert list(response.get_json()["errors"]["json"]) == ["stage"]
    assert "Gone Co" not in names(api)


@pytest.mark.parametrize("stage, why", [
    ("lost", "Moving to 'lost' needs a manager's approval: start at 'potential' and ask for the move."),
    ("repeat", "A new record cannot start at 'repeat'.")])
def test_a_refused_start_says_whether_a_gate_or_nothing_leads_there(api, stage, why):
    """Only a stage behind an approval gate sends the rep to ask for it; ``repeat`` only purchases reach."""
    response = api.as_("rep").post("/api/v1/customers", json={"name": "Gone Co", "stage": stage})
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["errors"]["json"]["stage"] == [f"{why} Possible: potential, intent, first_purchase."]


@pytest.mark.parametrize("stage", ["LOST", "REPEAT"])
def test_a_rep_cannot_create_a_customer_at_a_gated_stage_over_graphql(api, stage):
    body = gql(api, "rep", 'mutation($s: LifecycleStage) { createCustomer(input: {name: "Gone Co", stage: $s}) { id } }',
               s=stage)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert list(body["errors"][0]["extensions"]["fields"]) == ["stage"]
    assert "Gone Co" not in names(api)


def test_stages_a_person_may_move_to_are_fine_and_recorded_as_manual(api, people):
    customer = create(api, stage="first_purchase")
    [entry] = history(api, customer["id"])
    assert (entry["from_state"], entry["to_state"], entry["trigger"]) == (None, "first_purchase", "manual")
    assert entry["actor_id"] == str(people.rep.id) and entry["approved_by_id"] is None


def test_a_manager_creates_at_lost_approving_it_and_cannot_skip_to_repeat(api, people):
    lost = create(api, who="manager", name="Lost Co", stage="lost")
    [entry] = history(api, lost["id"])
    assert (entry["to_state"], entry["trigger"], entry["approved_by_id"]) == ("lost", "manual", str(people.manager.id))
    response = api.as_("manager").post("/api/v1/customers", json={"name": "Skip Co", "stage": "repeat"})
    assert response.status_code == 422 and "stage" in response.get_json()["errors"]["json"]
    body = ok(gql(api, "manager", 'mutation { createCustomer(input: {name: "Lost GQL", stage: LOST}) { stage } }'))
    assert body["createCustomer"]["stage"] == "LOST"


def test_an_admins_create_is_an_import_and_may_start_anywhere(api):
    customer = create(api, who="admin", name="Old Regular", stage="repeat")
    [entry] = history(api, customer["id"])
    assert (entry["from_state"], entry["to_state"], entry["trigger"]) == (None, "repeat", "import")


def test_an_update_never_sets_a_workflow_state(api, runtime, people):
    from core.services import common, customers

    customer = create(api)
    with runtime.database.unit_of_work():
        row = customers.get(people.admin, customer["id"])
        with pytest.raises(ValidationFailed) as refused:
            common.apply_changes(row, {"stage": "lost", "name": "Renamed"})
        assert list(refused.value.fields) == ["stage"]
        with pytest.raises(ValidationFailed) as refused:
            common.apply_changes(row, {"level": "A"})
        assert list(refused.value.fields) == ["level"]
        assert common.apply_changes(row, {"stage": row.stage, "name": "Renamed"}) == {"name": (customer["name"],
                                                                                             "Renamed")}
