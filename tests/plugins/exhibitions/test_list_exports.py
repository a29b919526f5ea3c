"""Leads, meetings, survey answers, and one edition's invitations and check-ins export as their REST lists
show them: the same records for the same filters and the same (scoped) user — an exhibitor sees its own
leads, with the visitor fields the organiser allows — each row the list item's fields (a nested value as
JSON text), a bad filter a 422 naming it. The two lists under one edition take ``edition_id`` as a
required filter."""
from __future__ import annotations

import json
import uuid

import pytest

from tests.plugins.exhibitions.conftest import BASE, ok, participate, register


def exported(api, name, query=""):
    response = api.get(f"/api/v1/exports/{name}?format=jsonl&{query}")
    assert response.status_code == 200, response.get_json()
    return [json.loads(line) for line in response.get_data(as_text=True).splitlines()]


def assert_exports_the_list(api, name, path, query="", edition=None):
    """The export of ``name`` holds the records ``GET path?query`` lists, each row its item's fields; a list
    under ``edition`` (in its path) is exported with ``edition_id`` as a filter."""
    listed = {item["id"]: item for item in ok(api.get(f"{BASE}/{path}?page_size=100&{query}"))}
    rows = exported(api, name, f"edition_id={edition}&{query}" if edition else query)
    assert sorted(r["id"] for r in rows) == sorted(listed) and rows
    for row in rows:
        item = listed[row["id"]]
        assert set(row) == set(item)
        assert {k: json.loads(v) if isinstance(v, str) and isinstance(item[k], (list, dict)) else v
                for k, v in row.items()} == item
    return rows


@pytest.fixture
def fair(show):
    """Two booked exhibitors; their leads and meetings; survey answers; two visitors scanned at the gate;
    the next edition's invitations."""
    show.participations["alpha"] = participate(show, "alpha", show.first)
    show.participations["beta"] = participate(show, "beta", show.first, categories=("textiles",))
    for key, name in (("wang", "Wang Wei"), ("li", "Li Na"), ("xu", "Xu Jie")):
        show.visitors[key] = register(show, show.first, name, company_name=f"{name} Trading")
    for who, visitor, rating in (("alpha", "wang", "hot"), ("alpha", "li", "warm"), ("beta", "xu", "hot")):
        ok(show.as_(who).post(f"{BASE}/leads", json={"participation_id": show.participations[who]["id"], "rating": rating,
                                                     "badge_code": show.visitors[visitor]["badge_code"],
                                                     "tags": ["sample", visitor]}), 201)
    ok(show.as_("alpha").post(f"{BASE}/meetings", json={"participation_id": show.participations["alpha"]["id"],
                                                        "registration_id": show.visitors["wang"]["id"],
                                                        "starts_at": "2025-05-11T02:00:00Z"}), 201)
    ok(show.api.post(f"{BASE}/meetings", json={"participation_id": show.participations["beta"]["id"],
                                               "registration_id": show.visitors["xu"]["id"]}), 201)
    for key, satisfaction in (("wang", 4), ("li", 2)):
        ok(show.api.post(f"{BASE}/surveys", json={"edition_id": show.first["id"], "satisfaction": satisfaction,
                                                  "registration_id": show.visitors[key]["id"]}), 201)
    ok(show.as_("alpha").post(f"{BASE}/surveys", json={"edition_id": show.first["id"], "satisfaction": 5,
                                                       "participation_id": show.participations["alpha"]["id"]}), 201)
    for key, at in (("wang", "2025-05-11T03:00:00Z"), ("li", "2025-05-11T04:00:00Z"), ("wang", "2025-05-12T03:00:00Z")):
        ok(show.api.post(f"{BASE}/editions/{show.first['id']}/scan", json={"badge_code": show.visitors[key]["badge_code"],
                                                                           "scanned_at": at}), 201)
    ok(show.api.post(f"{BASE}/editions/{show.second['id']}/invitations", json={}))
    return show


def test_leads_meetings_and_surveys_export_as_their_lists_for_an_exhibitor(fair):
    alpha = fair.as_("alpha")
    leads = assert_exports_the_list(alpha, "exhibitions.leads", "leads")
    assert len(leads) == 2 and all("email" not in json.loads(lead["visitor"]) for lead in leads)
    [hot] = assert_exports_the_list(alpha, "exhibitions.leads", "leads", "rating=hot&tag=wang")
    assert json.loads(hot["visitor"])["name"] == "Wang Wei" and hot["tags"] == ["sample", "wang"]
    every = assert_exports_the_list(fair.api, "exhibitions.leads", "leads", f"edition_id={fair.first['id']}")
    assert len(every) == 3 and all("email" in json.loads(lead["visitor"]) for lead in every)   # the organiser's view
    [meeting] = assert_exports_the_list(alpha, "exhibitions.meetings", "meetings")
    assert meeting["exhibitor_name"] == "Alpha Machines Ltd"
    assert len(assert_exports_the_list(fair.api, "exhibitions.meetings", "meetings", "status=requested")) == 2
    [answer] = assert_exports_the_list(alpha, "exhibitions.surveys", "surveys")
    assert answer["satisfaction"] == 5
    assert len(assert_exports_the_list(fair.api, "exhibitions.surveys", "surveys", "respondent=visitor")) == 2
    assert exported(fair.as_("rep"), "exhibitions.leads") == [] and exported(fair.as_("beta"), "exhibitions.surveys") == []


def test_an_editions_invitations_and_check_ins_export_with_edition_id_as_a_filter(fair):
    organiser = fair.as_("organiser")
    second, first = fair.second["id"], fair.first["id"]
    path = f"editions/{second}/invitations"
    assert len(assert_exports_the_list(organiser, "exhibitions.invitations", path, edition=second)) == 3
    assert len(assert_exports_the_list(organiser, "exhibitions.invitations", path, "status=invited", edition=second)) == 3
    assert exported(organiser, "exhibitions.invitations", f"edition_id={first}") == []
    path = f"editions/{first}/checkins"
    assert len(assert_exports_the_list(organiser, "exhibitions.checkins", path, edition=first)) == 3
    assert len(assert_exports_the_list(organiser, "exhibitions.checkins", path,
                                       f"registration_id={fair.visitors['wang']['id']}", edition=first)) == 2
    assert fair.as_("alpha").get(f"/api/v1/exports/exhibitions.checkins?edition_id={first}").status_code == 403


@pytest.mark.parametrize("name, query, field", [
    ("exhibitions.leads", "rating=lukewarm", "rating"),
    ("exhibitions.meetings", "colour=red", "colour"),
    ("exhibitions.surveys", "respondent=martian", "respondent"),
    ("exhibitions.invitations", "status=invited", "edition_id"),              # required
    ("exhibitions.invitations", f"edition_id={uuid.uuid4()}", "edition_id"),   # no such edition
    ("exhibitions.checkins", "", "edition_id"),
    ("exhibitions.checkins", "edition_id={first}&registration_id=nope", "registration_id"),
])
def test_a_bad_filter_is_a_422_naming_it(show, name, query, field):
    response = show.api.get(f"/api/v1/exports/{name}?{query.format(first=show.first['id'])}")
    assert response.status_code == 422 and field in response.get_json()["errors"]["json"], response.get_json()


def test_the_cli_exports_an_editions_check_ins_and_the_types_are_listed(fair, cli):
    result = cli("export", "exhibitions.checkins", "--format", "jsonl", "--filter", f"edition_id={fair.first['id']}",
                 "--filter", f"registration_id={fair.visitors['li']['id']}")
    assert result.exit_code == 0, result.output
    [row] = [json.loads(line) for line in result.stdout.splitlines()]
    assert row["registration_id"] == fair.visitors["li"]["id"] and row["scanned_at"].startswith("2025-05-11T04:00")
    types = {t["name"]: t for t in fair.api.get("/api/v1/exports").get_json()}
    assert {"exhibitions.leads", "exhibitions.meetings", "exhibitions.surveys", "exhibitions.invitations",
            "exhibitions.checkins"} <= set(types)
    assert "edition_id" in types["exhibitions.invitations"]["filters"] and "visitor" in types["exhibitions.leads"]["columns"]
    assert "new" not in types["exhibitions.leads"]["columns"]   # the capture's answer only, not the list's


@pytest.mark.parametrize("name, expected", [("exhibitions.leads", 5), ("exhibitions.meetings", 6)])
def test_an_export_batch_costs_the_same_statements_for_one_record_as_for_more(fair, runtime, people, count_queries,
                                                                              name, expected):
    """Leads and meetings show the visitor (and the exhibitor's name): a few queries per batch, not per record."""
    from core import db
    from core.services import exports

    with runtime.database.unit_of_work():
        admin = db.session().get(type(people.admin), people.admin.id)
        with count_queries() as one:
            assert len(list(exports.rows(admin, name, {"participation_id": fair.participations["beta"]["id"]}))) == 1
        with count_queries() as more:
            assert len(list(exports.rows(admin, name, {}))) >= 2
    # the records; the registrations, their visitors and the visitors' tags, the editions; (meetings) the names
    assert one.count == more.count == expected
