"""A service request's status moves export as its REST history shows them, the request a required filter
(``request_id``: missing, or one the caller may not see, is a 422 naming it); a customer's requests and
units are the requests and occupancies exports with ``requester_id`` and ``customer_id``."""
from __future__ import annotations

import json
import uuid

import pytest

BASE = "/api/v1/property-service"


def exported(api, name, query=""):
    response = api.get(f"/api/v1/exports/{name}?format=jsonl&{query}")
    assert response.status_code == 200, response.get_json()
    return [json.loads(line) for line in response.get_data(as_text=True).splitlines()]


def listed(api, path):
    response = api.get(f"{BASE}/{path}")
    assert response.status_code == 200, response.get_json()
    return {item["id"]: item for item in response.get_json()}


@pytest.fixture
def worked(ps):
    """The owner's request dispatched, started and resolved; a request of the rep's customer, dispatched."""
    done = ps.new_request()
    ps.act(done["id"], "dispatch", team_id=str(ps.engineering.id), assignee_id=str(ps.eng.id))
    ps.act(done["id"], "start", who="eng")
    ps.act(done["id"], "resolve", who="eng", resolution="Replaced the washer.")
    reps = ps.new_request(who="admin", requester_id=str(ps.rep_customer.id), unit_id=str(ps.unit2.id))
    ps.act(reps["id"], "dispatch", team_id=str(ps.engineering.id), assignee_id=str(ps.eng.id))
    return {"done": done, "reps": reps}


def test_a_requests_moves_export_as_its_history_for_whoever_may_see_it(ps, worked):
    for who, request in (("centre", worked["done"]), ("eng", worked["done"]), ("rep", worked["reps"])):
        items = listed(ps.as_(who), f"requests/{request['id']}/history")
        rows = exported(ps.as_(who), "property_service.request_history", f"request_id={request['id']}")
        assert {r["id"]: r for r in rows} == items and len(rows) == len(items) >= 1
    rows = exported(ps.as_("centre"), "property_service.request_history", f"request_id={worked['done']['id']}")
    assert [r["to_state"] for r in sorted(rows, key=lambda r: r["at"])][-3:] == ["dispatched", "in_progress", "resolved"]


@pytest.mark.parametrize("query", ["", "request_id=nope", f"request_id={uuid.uuid4()}", "request_id={reps}"])
def test_a_missing_bad_or_unseen_request_is_a_422_naming_request_id(ps, worked, query):
    response = ps.as_("other_rep").get(f"/api/v1/exports/property_service.request_history?"
                                       f"{query.format(reps=worked['reps']['id'])}")
    assert response.status_code == 422 and "request_id" in response.get_json()["errors"]["json"], response.get_json()


def test_a_customers_requests_and_units_are_the_requests_and_occupancies_exports(ps, worked):
    rep = ps.as_("rep")
    ps.new_request(description="The lift is stuck.")
    for who, customer, count in (("centre", ps.owner, 2), ("rep", ps.rep_customer, 1)):
        api = ps.as_(who)
        items = listed(api, f"customers/{customer.id}/requests?page_size=100").values()
        rows = exported(api, "property_service.requests", f"requester_id={customer.id}")   # import columns: no id
        assert sorted((r["customer_id"], r["description"], r["received_at"]) for r in rows) == \
            sorted((i["requester_id"], i["description"], i["created_at"]) for i in items) and len(rows) == count
    made = ps.api.post(f"{BASE}/occupancies", json={"unit_id": str(ps.unit.id), "customer_id": str(ps.rep_customer.id),
                                                    "relation": "family", "start_date": "2021-01-01",
                                                    "end_date": "2022-01-01"})
    assert made.status_code == 201, made.get_json()
    ps.api.post(f"{BASE}/occupancies", json={"unit_id": str(ps.unit2.id), "customer_id": str(ps.rep_customer.id),
                                             "relation": "tenant"})
    items = [item for item in rep.get(f"{BASE}/customers/{ps.rep_customer.id}/units").get_json()]
    rows = exported(rep, "property_service.occupancies", f"customer_id={ps.rep_customer.id}")
    refs = ("unit_external_id", "customer_external_id")   # the export's reference columns: no external ids here
    assert sorted(({k: v for k, v in r.items() if k not in refs} for r in rows), key=lambda r: r["id"]) == \
        sorted(items, key=lambda r: r["id"]) and len(rows) == 2   # past one too
    assert {r[k] for r in rows for k in refs} == {None}


def test_the_cli_exports_a_requests_moves_and_the_type_is_listed(ps, worked, cli):
    result = cli("export", "property_service.request_history", "--format", "jsonl", "--filter",
                 f"request_id={worked['reps']['id']}")
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["to_state"] for line in result.stdout.splitlines()][-1] == "dispatched"
    types = {t["name"]: t for t in ps.api.get("/api/v1/exports").get_json()}
    assert types["property_service.request_history"]["filters"] == ["request_id"]
    assert {"requester_id"} <= set(types["property_service.requests"]["filters"])


def test_an_export_batch_of_moves_costs_the_same_statements_for_one_as_for_more(ps, worked, count_queries):
    from core import db
    from core.services import exports

    fresh = ps.new_request()
    ps.act(fresh["id"], "dispatch", team_id=str(ps.security.id), assignee_id=str(ps.sec.id))
    with ps.runtime.database.unit_of_work():
        admin = db.session().get(type(ps.people.admin), ps.people.admin.id)
        with count_queries() as one:
            few = list(exports.rows(admin, "property_service.request_history", {"request_id": fresh["id"]}))
        with count_queries() as more:
            many = list(exports.rows(admin, "property_service.request_history", {"request_id": worked["done"]["id"]}))
    assert len(few) == 1 and len(many) >= 3
    assert one.count == more.count == 2   # the request; its moves
