"""The exhibitor users, and a participation's and a meeting's status moves, export as their REST lists show
them: the same records for the same filters and the same (scoped) user, each row the list item's fields.
The two lists under one record take it as a required filter named as its path's parameter
(``participation_id``, ``meeting_id``): missing, or one the caller may not see, is a 422 naming it."""
from __future__ import annotations

import json
import uuid

import pytest

from tests.plugins.exhibitions.conftest import BASE, ok, participate, register


def exported(api, name, query=""):
    response = api.get(f"/api/v1/exports/{name}?format=jsonl&{query}")
    assert response.status_code == 200, response.get_json()
    return [json.loads(line) for line in response.get_data(as_text=True).splitlines()]


def assert_exports_the_list(api, name, path, query=""):
    """The export of ``name`` with ``query`` holds the records ``GET path`` lists, each row its item's fields."""
    listed = {item["id"]: item for item in ok(api.get(f"{BASE}/{path}"))}
    rows = exported(api, name, query)
    assert sorted(r["id"] for r in rows) == sorted(listed) and rows
    for row in rows:
        assert row == listed[row["id"]]
    return rows


@pytest.fixture
def moved(show):
    """Alpha booked (invited → applied → confirmed → paid) and beta applied; a meeting alpha asked for,
    accepted by the organiser and held."""
    show.participations["alpha"] = participate(show, "alpha", show.first)
    show.participations["beta"] = participate(show, "beta", show.first, status="applied")
    show.visitors["wang"] = register(show, show.first, "Wang Wei")
    meeting = ok(show.as_("alpha").post(f"{BASE}/meetings", json={
        "participation_id": show.participations["alpha"]["id"], "registration_id": show.visitors["wang"]["id"],
        "starts_at": "2025-05-11T02:00:00Z"}), 201)
    ok(show.api.post(f"{BASE}/meetings/{meeting['id']}/status", json={"to": "accepted"}))
    ok(show.as_("alpha").post(f"{BASE}/meetings/{meeting['id']}/status", json={"to": "held"}))
    show.meeting = meeting
    return show


def test_the_exhibitor_users_export_as_their_list_for_the_organiser_and_an_exhibitor(moved):
    rows = assert_exports_the_list(moved.api, "exhibitions.exhibitor_users", "exhibitor-users")
    assert {r["company_id"] for r in rows} == {c["id"] for c in moved.companies.values()}
    beta = moved.companies["beta"]["id"]
    [row] = assert_exports_the_list(moved.api, "exhibitions.exhibitor_users", f"exhibitor-users?company_id={beta}",
                                    f"company_id={beta}")
    assert row["company_id"] == beta
    [own] = assert_exports_the_list(moved.as_("alpha"), "exhibitions.exhibitor_users", "exhibitor-users")
    assert own["company_id"] == moved.companies["alpha"]["id"]
    assert exported(moved.as_("alpha"), "exhibitions.exhibitor_users", f"company_id={beta}") == []
    assert exported(moved.as_("loose"), "exhibitions.exhibitor_users") == []   # linked to no company


def test_a_participations_and_a_meetings_moves_export_with_their_id_as_a_filter(moved):
    alpha = moved.participations["alpha"]["id"]
    for who in ("organiser", "alpha"):
        rows = assert_exports_the_list(moved.as_(who), "exhibitions.participation_history",
                                       f"participations/{alpha}/history", f"participation_id={alpha}")
        assert sorted(r["to_state"] for r in rows) == ["applied", "confirmed", "paid"]
    meeting = moved.meeting["id"]
    for who in ("organiser", "alpha"):
        rows = assert_exports_the_list(moved.as_(who), "exhibitions.meeting_history", f"meetings/{meeting}/history",
                                       f"meeting_id={meeting}")
        assert sorted(r["to_state"] for r in rows) == ["accepted", "held"]


@pytest.mark.parametrize("name, query, field", [
    ("exhibitions.exhibitor_users", "company_id=nope", "company_id"),
    ("exhibitions.exhibitor_users", "colour=red", "colour"),
    ("exhibitions.participation_history", "", "participation_id"),
    ("exhibitions.participation_history", "participation_id=nope", "participation_id"),
    ("exhibitions.participation_history", f"participation_id={uuid.uuid4()}", "participation_id"),
    ("exhibitions.participation_history", "participation_id={alpha}", "participation_id"),   # beta may not see it
    ("exhibitions.meeting_history", "", "meeting_id"),
    ("exhibitions.meeting_history", f"meeting_id={uuid.uuid4()}", "meeting_id"),
    ("exhibitions.meeting_history", "meeting_id={meeting}", "meeting_id"),                    # nor this one
])
def test_a_bad_missing_or_unseen_filter_is_a_422_naming_it(moved, name, query, field):
    query = query.format(alpha=moved.participations["alpha"]["id"], meeting=moved.meeting["id"])
    response = moved.as_("beta").get(f"/api/v1/exports/{name}?{query}")
    assert response.status_code == 422 and field in response.get_json()["errors"]["json"], response.get_json()


def test_the_cli_exports_a_meetings_moves_and_the_types_are_listed(moved, cli):
    result = cli("export", "exhibitions.meeting_history", "--format", "jsonl", "--filter",
                 f"meeting_id={moved.meeting['id']}")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert sorted(r["to_state"] for r in rows) == ["accepted", "held"]
    types = {t["name"]: t for t in moved.api.get("/api/v1/exports").get_json()}
    assert types["exhibitions.participation_history"]["filters"] == ["participation_id"]
    assert types["exhibitions.meeting_history"]["filters"] == ["meeting_id"]
    assert types["exhibitions.exhibitor_users"]["filters"] == ["company_id"]
    assert {"from_state", "to_state", "reason"} <= set(types["exhibitions.meeting_history"]["columns"])


@pytest.mark.parametrize("name, filters, one, more, expected", [
    ("exhibitions.participation_history", "participation_id", "beta", "alpha", 2),   # the participation; the moves
    ("exhibitions.meeting_history", "meeting_id", None, None, 2),                    # the meeting; the moves
    ("exhibitions.exhibitor_users", "company_id", "beta", None, 1),                  # the links
])
def test_an_export_batch_costs_the_same_statements_for_one_record_as_for_more(moved, runtime, people, count_queries,
                                                                              name, filters, one, more, expected):
    from core import db
    from core.services import exports

    if name == "exhibitions.meeting_history":
        declined = ok(moved.api.post(f"{BASE}/meetings", json={
            "participation_id": moved.participations["alpha"]["id"], "registration_id": moved.visitors["wang"]["id"]}), 201)
        ok(moved.as_("alpha").post(f"{BASE}/meetings/{declined['id']}/status", json={"to": "declined"}))
        one_filter, more_filter = {filters: declined["id"]}, {filters: moved.meeting["id"]}
    elif name == "exhibitions.exhibitor_users":
        one_filter, more_filter = {filters: moved.companies["beta"]["id"]}, {}
    else:
        one_filter, more_filter = {filters: moved.participations[one]["id"]}, {filters: moved.participations[more]["id"]}
    with runtime.database.unit_of_work():
        admin = db.session().get(type(people.admin), people.admin.id)
        with count_queries() as few:
            assert len(list(exports.rows(admin, name, one_filter))) == 1
        with count_queries() as many:
            assert len(list(exports.rows(admin, name, more_filter))) >= 2
    assert few.count == many.count == expected


# --- the matches: rankings computed per request (Export.computed) ---------------------------------------

def assert_exports_the_ranking(api, name, path, parent, query=""):
    """The export of ``name`` (the record as the filter ``parent``) is what ``GET path?query`` lists, row for
    item, in its rank order; a nested value (the visitor) is JSON text in the row."""
    listed = ok(api.get(f"{BASE}/{path}?{query}"))
    rows = exported(api, name, "&".join(q for q in (parent, query) if q))
    assert len(rows) == len(listed) and rows
    for row, item in zip(rows, listed):
        assert set(row) == set(item)
        assert {k: json.loads(v) if isinstance(item[k], dict) else v for k, v in row.items()} == item
    return rows


@pytest.fixture
def matched(show):
    """Alpha offers machinery and software, beta (a key exhibitor) textiles; four buyers and a general visitor
    (no buyer) at the first edition."""
    show.participations["alpha"] = participate(show, "alpha", show.first, categories=("machinery", "software"))
    show.participations["beta"] = participate(show, "beta", show.first, categories=("textiles",), is_key=True)
    for key, name, extra in (("wang", "Wang Wei", {"interests": ["machinery", "software"]}),
                             ("li", "Li Na", {"interests": ["machinery"], "purchase_intent": "low"}),
                             ("chen", "Chen Jie", {"interests": ["machinery", "textiles"]}),
                             ("zhou", "Zhou Min", {"category": "general"}),
                             ("xu", "Xu Jie", {"category": "vip", "interests": ["textiles"]})):
        show.visitors[key] = register(show, show.first, name, **extra)
    return show


def test_an_exhibitors_matches_export_as_their_list_in_rank_order_with_its_limit(matched):
    alpha = matched.participations["alpha"]["id"]
    path, parent = f"participations/{alpha}/matches", f"participation_id={alpha}"
    for who in ("organiser", "alpha"):
        rows = assert_exports_the_ranking(matched.as_(who), "exhibitions.participation_matches", path, parent)
        assert [json.loads(r["visitor"])["name"] for r in rows] == ["Wang Wei", "Chen Jie", "Li Na"]
        assert rows[0]["score"] > rows[1]["score"] > rows[2]["score"]
        assert ("email" in json.loads(rows[0]["visitor"])) is (who == "organiser")   # the fields you may see
    [top] = assert_exports_the_ranking(matched.as_("alpha"), "exhibitions.participation_matches", path, parent,
                                       "limit=1")
    assert json.loads(top["visitor"])["name"] == "Wang Wei"
    text = matched.as_("alpha").get(f"/api/v1/exports/exhibitions.participation_matches?format=csv&{parent}")
    lines = text.get_data(as_text=True).splitlines()
    assert lines[0] == "score,reasons,common_categories,registration_id,participation_id,visitor,exhibitor_name"
    assert len(lines) == 4
    xlsx = matched.as_("alpha").get(f"/api/v1/exports/exhibitions.participation_matches?format=xlsx&{parent}")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"


def test_a_buyers_matches_export_as_their_list_in_rank_order_with_its_limit(matched):
    chen = matched.visitors["chen"]["id"]
    path, parent = f"registrations/{chen}/matches", f"registration_id={chen}"
    rows = assert_exports_the_ranking(matched.api, "exhibitions.registration_matches", path, parent)
    assert [r["exhibitor_name"] for r in rows] == ["Beta Machines Ltd", "Alpha Machines Ltd"]   # the key one first
    [top] = assert_exports_the_ranking(matched.api, "exhibitions.registration_matches", path, parent, "limit=1")
    assert top["exhibitor_name"] == "Beta Machines Ltd" and top["reasons"][-1] == "Key exhibitor"


def test_a_rep_refused_the_matches_is_refused_their_export(matched, people):
    """A rep who sees the exhibitor's company reads its participation, not its buyers: 403, as the list."""
    company = matched.companies["alpha"]
    ok(matched.as_("admin").patch(f"/api/v1/customers/{company['id']}",
                                  json={"version": company["version"], "owner_id": str(people.rep.id)}))
    alpha = matched.participations["alpha"]["id"]
    rep = matched.as_("rep")
    assert rep.get(f"{BASE}/participations/{alpha}/matches").status_code == 403
    assert rep.get(f"/api/v1/exports/exhibitions.participation_matches?participation_id={alpha}").status_code == 403


@pytest.mark.parametrize("name, query, field", [
    ("exhibitions.participation_matches", "", "participation_id"),
    ("exhibitions.participation_matches", "participation_id=nope", "participation_id"),
    ("exhibitions.participation_matches", f"participation_id={uuid.uuid4()}", "participation_id"),
    ("exhibitions.participation_matches", "participation_id={alpha}", "participation_id"),   # beta may not see it
    ("exhibitions.participation_matches", "participation_id={beta}&limit=0", "limit"),
    ("exhibitions.participation_matches", "participation_id={beta}&limit=101", "limit"),
    ("exhibitions.participation_matches", "participation_id={beta}&limit=many", "limit"),
    ("exhibitions.participation_matches", "participation_id={beta}&colour=red", "colour"),
    ("exhibitions.registration_matches", "", "registration_id"),
    ("exhibitions.registration_matches", "registration_id=nope", "registration_id"),
    ("exhibitions.registration_matches", f"registration_id={uuid.uuid4()}", "registration_id"),
    ("exhibitions.registration_matches", "registration_id={wang}&limit=0", "limit"),
])
def test_a_bad_missing_or_unseen_filter_of_the_matches_is_a_422_naming_it(matched, name, query, field):
    query = query.format(alpha=matched.participations["alpha"]["id"], beta=matched.participations["beta"]["id"],
                         wang=matched.visitors["wang"]["id"])
    who = "beta" if name == "exhibitions.participation_matches" else "organiser"
    response = matched.as_(who).get(f"/api/v1/exports/{name}?{query}")
    assert response.status_code == 422 and field in response.get_json()["errors"]["json"], response.get_json()


def test_the_cli_exports_the_matches_in_rank_order_and_the_types_are_listed(matched, cli, runtime, people):
    from core import db
    from core.services import exports

    chen = matched.visitors["chen"]["id"]
    result = cli("export", "exhibitions.registration_matches", "--format", "jsonl", "--filter",
                 f"registration_id={chen}")
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["exhibitor_name"] for line in result.stdout.splitlines()] == [
        "Beta Machines Ltd", "Alpha Machines Ltd"]
    types = {t["name"]: t for t in matched.api.get("/api/v1/exports").get_json()}
    assert types["exhibitions.participation_matches"]["filters"] == ["limit", "participation_id"]
    assert types["exhibitions.registration_matches"]["filters"] == ["limit", "registration_id"]
    assert types["exhibitions.participation_matches"]["route"] == (
        "/exhibitions/participations/{participation_id}/matches")
    # batches of one keep the rank order
    with runtime.database.unit_of_work():
        admin = db.session().get(type(people.admin), people.admin.id)
        one_by_one = list(exports.rows(admin, "exhibitions.registration_matches", {"registration_id": chen},
                                       batch_size=1))
    assert [r["exhibitor_name"] for r in one_by_one] == ["Beta Machines Ltd", "Alpha Machines Ltd"]
