"""Duplicate customers (issue #19): candidates by normalised e-mail, phone and name, in the actor's scope;
the merge (contacts, interactions, tags, audit, event, merged-into reads, refusals, rollback); REST and
GraphQL over the same service."""
from __future__ import annotations

import datetime
import json
import uuid

import pytest
from sqlalchemy import func, select

from core import normalize
from core.models import AnalyticsRun, AuditEntry, Contact, Customer, CustomerAnalytics, Interaction, OutboxEvent
from tests.api.rest.test_contacts_interactions import add_contact
from tests.api.rest.test_customers import create
from tests.api.rest.test_deleted_customer_records import add_interaction


def candidates(api, who="rep", query=""):
    response = api.as_(who).get(f"/api/v1/customers/duplicates{query}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def pair_of(rows, a, b):
    wanted = {a["id"], b["id"]}
    found = [r for r in rows if {r["customer"]["id"], r["duplicate"]["id"]} == wanted]
    return found[0] if found else None


def merge(api, survivor, merged, who="rep", **body):
    return api.as_(who).post(f"/api/v1/customers/{survivor['id']}/merge", json={"merged_id": merged["id"], **body})


# --- the keys -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw", ["+86 138-0013-8000", "13800138000", "0086 138 0013 8000", "8613800138000",
                                 "（+86）１３８００１３８０００"])
def test_every_way_of_writing_one_mobile_number_is_one_key(raw):
    assert normalize.phone_key(raw) == "+8613800138000"


def test_names_are_matched_full_width_as_half_width_case_and_spaces_aside():
    assert normalize.name_key("  ＡＣＭＥ　Trading  Co. ") == normalize.name_key("acme trading co.") == "acme trading co."
    assert normalize.email_key(" Li.Lei@Example.COM ") == "li.lei@example.com"
    assert normalize.name_key("[erased]") == normalize.email_key("[erased]") == normalize.phone_key("[erased]") == ""


# --- candidates -----------------------------------------------------------------------------------------

def test_customers_sharing_an_email_in_another_case_are_candidates(api):
    a, b, c = create(api, name="Alpha Ltd"), create(api, name="Beta Ltd"), create(api, name="Gamma Ltd")
    add_contact(api, a["id"], name="Li Lei", email="Li.Lei@Example.com")
    add_contact(api, b["id"], name="Lei Li", email="LI.lei@example.COM")
    add_contact(api, c["id"], name="Han Mei", email="han@example.com")
    rows = candidates(api)
    assert len(rows) == 1
    assert pair_of(rows, a, b)["reasons"] == ["email"] and rows[0]["email"] == "li.lei@example.com"


def test_customers_sharing_a_phone_number_written_differently_are_candidates(api):
    a, b = create(api, name="Alpha Ltd"), create(api, name="Beta Ltd")
    add_contact(api, a["id"], name="Li Lei", mobile="+86 138-0013-8000")
    add_contact(api, b["id"], name="Lei Li", phone="13800138000")
    row = pair_of(candidates(api), a, b)
    assert row["reasons"] == ["phone"] and row["phone"] == "+8613800138000"


def test_a_full_width_name_matches_its_half_width_twin_and_more_reasons_rank_first(api):
    a, b = create(api, name="ＡＣＭＥ 贸易"), create(api, name="acme  贸易")
    c, d = create(api, name="Zeta Co"), create(api, name="ZETA CO")
    add_contact(api, c["id"], name="X", email="x@zeta.cn")
    add_contact(api, d["id"], name="Y", email="X@zeta.cn")
    rows = candidates(api)
    assert [sorted(r["reasons"]) for r in rows] == [["email", "name"], ["name"]]
    assert pair_of(rows, a, b)["name"] == "acme 贸易"
    assert [r["reasons"] for r in candidates(api, query="?reason=email")] == [["email"]]
    assert len(candidates(api, query=f"?customer_id={a['id']}")) == 1


def test_a_rep_sees_no_candidate_pair_with_someone_elses_customer(api):
    mine = create(api, "rep", name="Same Name Ltd")
    theirs = create(api, "rep2", name="Same Name Ltd")
    assert candidates(api, "rep") == [] and candidates(api, "rep2") == []
    assert pair_of(candidates(api, "manager"), mine, theirs) is not None   # the team's manager sees both
    assert candidates(api, "other_manager") == []


def test_candidates_are_paged_and_found_in_a_fixed_number_of_statements(api, count_queries):
    for i in range(6):
        create(api, name="Twin Co")   # 15 pairs
    first = api.as_("rep").get("/api/v1/customers/duplicates?page_size=4")
    assert len(first.get_json()) == 4 and json.loads(first.headers["X-Pagination"])["total"] == 15
    second = api.as_("rep").get(f"/api/v1/customers/duplicates?page_size=4&after="
                                f"{json.loads(first.headers['X-Pagination'])['next_cursor']}")
    assert second.status_code == 200 and len(second.get_json()) == 4
    assert {r["customer"]["id"] + r["duplicate"]["id"] for r in first.get_json()}.isdisjoint(
        {r["customer"]["id"] + r["duplicate"]["id"] for r in second.get_json()})
    back = api.as_("rep").get(f"/api/v1/customers/duplicates?page_size=4&before="
                              f"{json.loads(second.headers['X-Pagination'])['previous_cursor']}")
    assert [r["customer"]["id"] + r["duplicate"]["id"] for r in back.get_json()] == [
        r["customer"]["id"] + r["duplicate"]["id"] for r in first.get_json()]
    with count_queries() as counted:
        api.as_("rep").get("/api/v1/customers/duplicates?page_size=10")
    small = len(counted.statements)
    for i in range(10):
        create(api, name="Triplet Co")
    with count_queries() as counted:
        api.as_("rep").get("/api/v1/customers/duplicates?page_size=50")
    assert len(counted.statements) == small
    assert api.as_("rep").get("/api/v1/customers/duplicates?after=nonsense").status_code == 422
    assert api.as_("rep").get("/api/v1/customers/duplicates?sort=name").status_code == 422


# --- merge --------------------------------------------------------------------------------------------------

@pytest.mark.unaudited_writes("gives a customer the import id an import would, without an import")
def test_merge_moves_contacts_interactions_and_tags_and_fills_blank_fields(api, runtime):
    survivor = create(api, name="Acme", industry=None, tags=["vip"])
    merged = create(api, name="ACME", industry="retail", region="East", tags=["export"])
    with runtime.database.unit_of_work() as s:
        s.get(Customer, uuid.UUID(merged["id"])).external_id = "OLD-17"   # imported from an old system
    kept = add_contact(api, survivor["id"], name="Kept Primary")
    moved = add_contact(api, merged["id"], name="Moved Person", email="m@acme.cn")
    call = add_interaction(api, merged["id"], subject="old call")
    response = merge(api, survivor, merged)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["tags"] == ["export", "vip"] and body["industry"] == "retail" and body["region"] == "East"
    assert body["version"] > survivor["version"] and body["merged_into_id"] is None
    contacts = api.as_("rep").get(f"/api/v1/contacts?customer_id={survivor['id']}").get_json()
    assert {c["id"]: c["is_primary"] for c in contacts} == {kept["id"]: True, moved["id"]: False}
    timeline = api.as_("rep").get(f"/api/v1/customers/{survivor['id']}/timeline").get_json()
    assert [i["id"] for i in timeline] == [call["id"]]
    with runtime.database.unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(Interaction).where(
            Interaction.customer_id == uuid.UUID(merged["id"]))) == 0
        assert s.scalar(select(func.count()).select_from(Contact).where(Contact.customer_id == uuid.UUID(merged["id"]))) == 0
        # a re-import of the old system's file finds the survivor by the duplicate's id
        assert s.get(Customer, uuid.UUID(survivor["id"])).external_id == "OLD-17"


def test_the_merged_customer_is_hidden_from_lists_but_reads_as_merged_into(api):
    survivor, merged = create(api, name="Acme"), create(api, name="Acme")
    assert merge(api, survivor, merged).status_code == 200
    names = [c["id"] for c in api.as_("rep").get("/api/v1/customers").get_json()]
    assert names == [survivor["id"]]
    assert api.as_("rep").get("/api/v1/customers?deleted=true").get_json() == []   # not in the bin either
    read = api.as_("rep").get(f"/api/v1/customers/{merged['id']}")
    assert read.status_code == 200
    assert read.get_json()["merged_into_id"] == survivor["id"] and read.get_json()["merged_at"]
    assert candidates(api) == []
    # it is no longer changed, restored or merged again
    assert api.as_("rep").patch(f"/api/v1/customers/{merged['id']}", json={"version": 2, "name": "x"}).status_code == 404
    assert api.as_("rep").post(f"/api/v1/customers/{merged['id']}/restore").status_code == 404
    assert api.as_("rep2").get(f"/api/v1/customers/{merged['id']}").status_code == 404   # scope still holds


def test_merge_is_audited_on_both_customers_and_emits_customer_merged(api, runtime):
    survivor, merged = create(api, name="Acme"), create(api, name="Acme")
    add_contact(api, merged["id"], name="Moved")
    assert merge(api, survivor, merged).status_code == 200
    with runtime.database.unit_of_work() as s:
        on_merged = s.scalars(select(AuditEntry).where(AuditEntry.record_id == uuid.UUID(merged["id"]),
                                                       AuditEntry.action == "customer.merged")).one()
        assert on_merged.changes["merged_into_id"] == [None, survivor["id"]]
        assert len(on_merged.changes["contact_ids"][1]) == 1
        on_survivor = s.scalars(select(AuditEntry).where(AuditEntry.record_id == uuid.UUID(survivor["id"]),
                                                         AuditEntry.action == "customer.updated")).one()
        assert on_survivor.changes["merged_from"] == [None, merged["id"]]
        event = s.scalars(select(OutboxEvent).where(OutboxEvent.name == "customer.merged")).one()
        assert event.payload["survivor_id"] == survivor["id"] and event.payload["moved"]["contacts"] == 1
        moved_contact = s.scalars(select(AuditEntry).where(AuditEntry.record_type == "contact",
                                                           AuditEntry.action == "contact.updated")).one()
        assert moved_contact.changes["customer_id"] == [merged["id"], survivor["id"]]


def test_merge_refusals_name_the_field(api):
    a, b, c = create(api, name="A"), create(api, name="B"), create(api, name="C")
    theirs = create(api, "rep2", name="Theirs")
    assert merge(api, a, a).status_code == 422
    missing = merge(api, a, theirs)   # not in the rep's scope: as if it did not exist
    assert missing.status_code == 422 and "merged_id" in missing.get_json()["errors"]["json"]
    assert merge(api, theirs, a).status_code == 404
    assert api.as_("rep").post(f"/api/v1/customers/{a['id']}/merge", json={}).status_code == 422
    stale = merge(api, a, b, version=a["version"] + 5)
    assert stale.status_code == 409 and "version" in stale.get_json()["errors"]["json"]
    stale = merge(api, a, b, merged_version=b["version"] + 5)
    assert stale.status_code == 409 and "merged_version" in stale.get_json()["errors"]["json"]
    assert merge(api, a, b, version=a["version"], merged_version=b["version"]).status_code == 200
    twice = merge(api, c, b)
    assert twice.status_code == 409 and "merged_id" in twice.get_json()["errors"]["json"]
    into_merged = merge(api, b, c)
    assert into_merged.status_code == 409 and "survivor_id" in into_merged.get_json()["errors"]["json"]


@pytest.mark.parametrize("failure", ["conflict", "bug"])
def test_a_failing_plugin_hook_rolls_the_whole_merge_back(api, runtime, failure):
    from core.errors import Conflict
    from core.hookspecs import hookimpl

    class Refuser:
        name = "refuser"

        @hookimpl
        def trellis_merge_customers(self, survivor, merged):
            if failure == "bug":
                raise RuntimeError("a plugin's own bug")
            raise Conflict("Both have something only one may have.", fields={"merged_id": ["Clash."]})

    survivor, merged = create(api, name="Acme"), create(api, name="Acme")
    add_contact(api, merged["id"], name="Stays")
    add_interaction(api, merged["id"], subject="stays")
    runtime.plugins.pm.register(Refuser(), name="refuser")
    try:
        response = merge(api, survivor, merged)
    finally:
        runtime.plugins.pm.unregister(name="refuser")
    if failure == "bug":   # a 500 naming no stack trace; the merge is rolled back all the same
        assert response.status_code == 500 and "Traceback" not in response.get_data(as_text=True)
    else:
        assert response.status_code == 409 and response.get_json()["errors"]["json"]["merged_id"] == ["Clash."]
    assert api.as_("rep").get(f"/api/v1/customers/{merged['id']}").get_json()["merged_into_id"] is None
    assert len(api.as_("rep").get(f"/api/v1/contacts?customer_id={merged['id']}").get_json()) == 1
    assert len(api.as_("rep").get(f"/api/v1/customers/{merged['id']}/timeline").get_json()) == 1
    with runtime.database.unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(OutboxEvent).where(OutboxEvent.name == "customer.merged")) == 0


def test_the_merged_customers_analytics_row_goes(api, runtime):
    survivor, merged = create(api, name="Acme"), create(api, name="Acme")
    with runtime.database.unit_of_work() as s:
        run = AnalyticsRun(as_of=datetime.date.today())
        s.add(run)
        s.flush()
        s.add(CustomerAnalytics(customer_id=uuid.UUID(merged["id"]), run_id=run.id))
    assert merge(api, survivor, merged).status_code == 200
    with runtime.database.unit_of_work() as s:
        assert s.get(CustomerAnalytics, uuid.UUID(merged["id"])) is None


def test_only_core_roles_merge(api, runtime, people):
    from core.errors import Forbidden
    from core.services import duplicates, users

    with runtime.database.unit_of_work():
        outsider = users.create_user(None, {"email": "x@example.com", "name": "X", "role": "exhibitor"}) \
            if "exhibitor" in runtime.labels.values("role") else None
    if outsider is None:
        pytest.skip("no plugin role enabled")
    with runtime.database.unit_of_work(), pytest.raises(Forbidden):
        duplicates.find_duplicate_candidates(outsider)


def test_match_keys_follow_every_write(api, runtime):
    a = create(api, name="Ｏｌｄ Name")
    with runtime.database.unit_of_work() as s:
        assert s.get(Customer, uuid.UUID(a["id"])).name_key == "old name"
    api.as_("rep").patch(f"/api/v1/customers/{a['id']}", json={"version": a["version"], "name": "New  NAME"})
    c = add_contact(api, a["id"], name="P", email="A@B.cn", phone="021 5555 0000")
    with runtime.database.unit_of_work() as s:
        assert s.get(Customer, uuid.UUID(a["id"])).name_key == "new name"
        row = s.get(Contact, uuid.UUID(c["id"]))
        assert (row.email_key, row.phone_key, row.mobile_key) == ("a@b.cn", "+862155550000", "")


# --- GraphQL: the same service -----------------------------------------------------------------------------

def test_graphql_lists_the_same_candidates_and_merges_like_rest(api):
    a, b = create(api, name="Acme"), create(api, name="ＡＣＭＥ")
    found = api.as_("rep").graphql("""{ duplicateCustomers(first: 5, filter: {reason: NAME},
        orderBy: [{field: REASONS, direction: DESC}]) { totalCount edges { node {
        reasons name customer { id } duplicate { id } } } } }""")
    assert "errors" not in found, found
    edge = found["data"]["duplicateCustomers"]["edges"][0]["node"]
    assert edge["reasons"] == ["NAME"] and edge["name"] == "acme"
    assert {edge["customer"]["id"], edge["duplicate"]["id"]} == {a["id"], b["id"]}
    assert found["data"]["duplicateCustomers"]["totalCount"] == len(candidates(api))

    merged = api.as_("rep").graphql("""mutation($s: ID!, $m: ID!, $v: Int) {
        mergeCustomers(survivorId: $s, mergedId: $m, version: $v) { id version } }""",
                                    {"s": a["id"], "m": b["id"], "v": a["version"]})
    assert "errors" not in merged, merged
    read = api.as_("rep").graphql("""query($id: ID!) { customer(id: $id) { id mergedIntoId mergedAt
        mergedInto { id name } } }""", {"id": b["id"]})
    assert read["data"]["customer"]["mergedIntoId"] == a["id"]
    assert read["data"]["customer"]["mergedInto"] == {"id": a["id"], "name": "Acme"}
    again = api.as_("rep").graphql("""mutation($s: ID!, $m: ID!) { mergeCustomers(survivorId: $s, mergedId: $m) { id } }""",
                                   {"s": a["id"], "m": b["id"]})
    assert again["data"]["mergeCustomers"] is None
    assert again["errors"][0]["extensions"]["code"] == "CONFLICT"
    assert "mergedId" in again["errors"][0]["extensions"]["fields"]


def test_a_merge_costs_the_same_statements_for_2_and_20_contacts_and_interactions(api, count_queries):
    def statements(n):
        survivor, merged = create(api, name=f"Big {n}"), create(api, name=f"BIG {n}")
        for i in range(n):
            add_contact(api, merged["id"], name=f"Person {i}")
            add_interaction(api, merged["id"], subject=f"call {i}")
        with count_queries() as counted:
            assert merge(api, survivor, merged).status_code == 200
        return len(counted.statements)

    assert statements(2) == statements(20)
