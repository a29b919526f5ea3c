"""The core's lists that are exported but not imported — the audit trail, users, teams, approval requests,
notifications, webhook subscriptions and their deliveries, API tokens, import runs, a customer's history,
the duplicate candidates, a person's erasures, the analytics segments and the win-back ranking — export as
their REST lists show them: the same records for the same filters and the same (scoped) user, each row the
list item's fields (a nested value as JSON text), a refused list refused (403), a bad filter a 422 naming
it; a ranked list (duplicates, segments, win-back) in its own order."""
from __future__ import annotations

import json
import uuid

import pytest

from tests.api.rest.test_customers import create


def exported(api, name, query=""):
    response = api.get(f"/api/v1/exports/{name}?format=jsonl&{query}")
    assert response.status_code == 200, response.get_json()
    return [json.loads(line) for line in response.get_data(as_text=True).splitlines()]


def assert_exports_the_list(api, name, path, query="", *, parent="", paged=None):
    """The export of ``name`` holds the records ``GET /api/v1/<path>?query`` lists, each row its item's fields
    (``parent``: the export's filter naming what the list has in its path, e.g. ``subscription_id=…``;
    ``paged``: whether the list takes ``page_size``, as all but the teams do unless told)."""
    paged = path != "teams" if paged is None else paged
    response = api.get(f"/api/v1/{path}?{'page_size=100&' if paged else ''}{query}")
    assert response.status_code == 200, response.get_json()
    listed = {item["id"]: item for item in response.get_json()}
    rows = exported(api, name, "&".join(q for q in (parent, query) if q))
    assert sorted(r["id"] for r in rows) == sorted(listed) and rows
    for row in rows:
        assert as_item(row, listed[row["id"]]) == listed[row["id"]]
    return rows


def as_item(row, item):
    """An exported row as the list's item it stands for: its nested values (JSON text) parsed."""
    assert set(row) == set(item)
    return {k: json.loads(v) if isinstance(item[k], (list, dict)) and not isinstance(v, list) else v
            for k, v in row.items()}


def assert_exports_the_ranking(api, name, path, query="", *, paged=False):
    """The export of ``name`` is what ``GET /api/v1/<path>?query`` lists, row for item, in its order."""
    response = api.get(f"/api/v1/{path}?{'page_size=100&' if paged else ''}{query}")
    assert response.status_code == 200, response.get_json()
    listed = response.get_json()
    rows = exported(api, name, query)
    assert [as_item(row, item) for row, item in zip(rows, listed)] == listed and len(rows) == len(listed)
    return rows


@pytest.fixture
def trail(api, people):
    """Three customers (two of the rep's, one of the other team's), a stage request from the rep (the
    manager is notified of it), a second one decided, two webhook subscriptions (one inactive)."""
    mine = [create(api, name=f"Mine {i}") for i in range(2)]
    theirs = create(api, who="other_rep", name="Theirs")
    for customer in (mine[0], theirs):
        who = "rep" if customer is mine[0] else "other_rep"
        asked = api.as_(who).post(f"/api/v1/customers/{customer['id']}/stage-requests",
                                  json={"to": "lost", "reason": "went elsewhere"})
        assert asked.status_code == 201, asked.get_json()
    asked = api.as_("rep").post(f"/api/v1/customers/{mine[1]['id']}/stage-requests",
                                json={"to": "lost", "reason": "too quiet"})
    assert asked.status_code == 201, asked.get_json()
    decided = api.as_("manager").post(f"/api/v1/approvals/{asked.get_json()['id']}/decision",
                                      json={"approve": False, "note": "keep trying"})
    assert decided.status_code == 200, decided.get_json()
    hooks = []
    for url, active in (("https://erp.example/hook", True), ("https://bi.example/in", False)):
        response = api.as_("admin").post("/api/v1/webhooks", json={"url": url, "events": ["customer.*"],
                                                                    "active": active})
        assert response.status_code == 201, response.get_json()
        hooks.append(response.get_json())
    return {"mine": mine, "theirs": theirs, "hooks": hooks}


def test_the_audit_trail_exports_as_its_list_for_admins_only(api, trail):
    customer = trail["mine"][0]["id"]
    rows = assert_exports_the_list(api, "audit", "audit", f"record_type=customer&record_id={customer}")
    assert [r["action"] for r in sorted(rows, key=lambda r: r["at"])][:1] == ["customer.created"]
    assert len(assert_exports_the_list(api, "audit", "audit", "record_type=webhook_subscription")) == 2
    assert len(assert_exports_the_list(api, "audit", "audit")) >= 8
    for who in ("rep", "manager"):
        assert api.as_(who).get("/api/v1/audit").status_code == 403
        assert api.as_(who).get("/api/v1/exports/audit?format=jsonl").status_code == 403


def test_users_and_teams_export_as_their_lists_for_a_scoped_user(api, people, trail):
    rep = api.as_("rep")
    rows = assert_exports_the_list(rep, "users", "users")
    assert {r["email"] for r in rows} == {"manager@example.com", "rep@example.com", "rep2@example.com"}
    assert len(assert_exports_the_list(api, "users", "users")) == 6
    [manager] = assert_exports_the_list(api, "users", "users", f"role=manager&team_id={people.rep.team_id}")
    assert manager["id"] == str(people.manager.id)
    assert len(assert_exports_the_list(api, "users", "users", "q=REP")) == 3
    [team] = assert_exports_the_list(rep, "teams", "teams")
    assert team["name"] == "East"
    assert len(assert_exports_the_list(api, "teams", "teams")) == 2


def test_approvals_and_notifications_export_as_their_lists_for_a_scoped_user(api, people, trail):
    [pending] = assert_exports_the_list(api.as_("manager"), "approvals", "approvals")
    assert pending["record_id"] == trail["mine"][0]["id"]
    [rejected] = assert_exports_the_list(api.as_("rep"), "approvals", "approvals", "status=rejected")
    assert rejected["decision_note"] == "keep trying"
    assert len(assert_exports_the_list(api.as_("rep"), "approvals", "approvals", "status=")) == 2
    assert len(assert_exports_the_list(api, "approvals", "approvals")) == 2   # both teams' pending ones
    assert exported(api.as_("other_manager"), "approvals", "status=rejected") == []
    notes = assert_exports_the_list(api.as_("manager"), "notifications", "notifications", "unread=true")
    assert {n["kind"] for n in notes} == {"workflow.approval_requested"} and len(notes) == 2
    [note] = assert_exports_the_list(api.as_("rep"), "notifications", "notifications")
    assert note["kind"] == "workflow.approval_rejected" and isinstance(note["data"], str)


def test_webhook_subscriptions_export_as_their_list_without_a_secret(api, trail):
    rows = assert_exports_the_list(api, "webhooks", "webhooks")
    assert len(rows) == 2 and not any("secret" in r for r in rows)
    assert json.loads(rows[0]["breaker"])["state"] == "closed"
    [inactive] = assert_exports_the_list(api, "webhooks", "webhooks", "active=false")
    assert inactive["url"] == "https://bi.example/in"
    assert api.as_("manager").get("/api/v1/exports/webhooks?format=jsonl").status_code == 403
    lines = api.get("/api/v1/exports/webhooks?format=csv&active=true").get_data(as_text=True).splitlines()
    assert len(lines) == 2 and "secret" not in lines[0] and "customer.*" in lines[1]
    xlsx = api.get("/api/v1/exports/webhooks?format=xlsx")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
    types = {t["name"]: t for t in api.get("/api/v1/exports").get_json()}
    assert "secret" not in types["webhooks"]["columns"] and "url" in types["webhooks"]["columns"]


@pytest.mark.parametrize("name, query, field", [("audit", "record_id=nope", "record_id"),
                                                ("audit", "request_id=" + "x" * 129, "request_id"),
                                                ("audit", "colour=red", "colour"),
                                                ("users", "role=king", "role"),
                                                ("users", "team_id=nope", "team_id"),
                                                ("teams", "name=East", "name"),
                                                ("approvals", "status=maybe", "status"),
                                                ("notifications", "unread=perhaps", "unread"),
                                                ("webhooks", "active=perhaps", "active")])
def test_a_bad_filter_is_a_422_naming_it(api, people, name, query, field):
    response = api.get(f"/api/v1/exports/{name}?{query}")
    assert response.status_code == 422 and field in response.get_json()["errors"]["json"], response.get_json()


def test_the_cli_exports_the_filtered_audit_trail_and_the_types_are_listed(api, trail, cli):
    result = cli("export", "audit", "--format", "jsonl", "--filter", "record_type=customer")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    listed = api.get("/api/v1/audit?record_type=customer&page_size=100").get_json()
    assert sorted(r["id"] for r in rows) == sorted(e["id"] for e in listed) and len(rows) >= 3
    types = {t["name"]: t for t in api.get("/api/v1/exports").get_json()}
    assert types["audit"]["filters"] == ["record_id", "record_type", "request_id"]
    assert types["users"]["filters"] == ["q", "role", "team_id"] and types["teams"]["filters"] == []
    assert types["approvals"]["filters"] == ["status"] and types["notifications"]["filters"] == ["unread"]
    assert types["webhooks"]["filters"] == ["active", "deleted"]


@pytest.mark.parametrize("name, one, more", [
    ("audit", lambda t, p: {"record_type": "customer", "record_id": t["theirs"]["id"]}, lambda t, p: {}),
    ("users", lambda t, p: {"q": "admin"}, lambda t, p: {}),
    ("approvals", lambda t, p: {"status": "rejected"}, lambda t, p: {"status": ""}),
    ("webhooks", lambda t, p: {"active": "false"}, lambda t, p: {}),
])
def test_an_export_batch_costs_the_same_statements_for_one_as_for_more(runtime, people, trail, count_queries,
                                                                       name, one, more):
    from core import db
    from core.services import exports

    with runtime.database.unit_of_work():
        admin = db.session().get(type(people.admin), people.admin.id)
        with count_queries() as single:
            assert len(list(exports.rows(admin, name, one(trail, people)))) == 1
        with count_queries() as several:
            assert len(list(exports.rows(admin, name, more(trail, people)))) >= 2
    assert single.count == several.count == 1   # the records: nothing read per record


def test_an_unknown_filter_value_is_not_taken_for_another_users_records(api, people):
    assert exported(api.as_("rep"), "users", f"team_id={uuid.uuid4()}") == []


# --- API tokens, a subscription's deliveries, import runs ------------------------------------------------

@pytest.fixture
def issued(api, people):
    """Beside each user's "test" token: the rep's "laptop" and a revoked "old" one, and the admin's "ci" for
    the other rep (the plain tokens, shown once)."""
    plain = []
    for who, body in (("rep", {"name": "laptop"}), ("rep", {"name": "old"}),
                      ("admin", {"name": "ci", "user_id": str(people.other_rep.id)})):
        response = api.as_(who).post("/api/v1/tokens", json=body)
        assert response.status_code == 201, response.get_json()
        plain.append(response.get_json()["token"])
        if body["name"] == "old":
            revoked = api.as_("rep").post(f"/api/v1/tokens/{response.get_json()['id']}/revoke")
            assert revoked.status_code == 200, revoked.get_json()
    return plain


def test_api_tokens_export_as_their_list_for_a_scoped_user_never_the_token(api, people, issued):
    rows = assert_exports_the_list(api.as_("rep"), "tokens", "tokens")
    assert sorted(r["name"] for r in rows) == ["laptop", "test"]
    assert {r["user_id"] for r in rows} == {str(people.rep.id)}
    assert len(assert_exports_the_list(api.as_("rep"), "tokens", "tokens", "include_revoked=true")) == 3
    assert len(assert_exports_the_list(api, "tokens", "tokens")) == 8   # everybody's: six "test", laptop, ci
    theirs = assert_exports_the_list(api, "tokens", "tokens", f"user_id={people.other_rep.id}")
    assert sorted(r["name"] for r in theirs) == ["ci", "test"]
    [ci] = [r for r in theirs if r["name"] == "ci"]
    assert ci["user_id"] == str(people.other_rep.id)
    # a user_id not theirs is the list's filter on their own tokens: nothing, as the list answers
    assert exported(api.as_("rep"), "tokens", f"user_id={people.other_rep.id}") == []
    text = api.get("/api/v1/exports/tokens?format=csv&include_revoked=true").get_data(as_text=True)
    assert text.splitlines()[0] == "id,user_id,name,prefix,created_at,expires_at,last_used_at,revoked_at"
    assert len(text.splitlines()) == 10 and not any(token in text for token in issued)
    assert not any(token[:20] in text for token in issued)   # nor anything longer than the shown prefix


@pytest.fixture
def deliveries(api, runtime):
    """Two subscriptions: three pings to the first (one of them marked failed), one to the second."""
    from sqlalchemy import update

    from core import db
    from core.models.webhooks import WebhookDelivery

    subs = []
    for url in ("https://erp.example/hook", "https://bi.example/in"):
        response = api.post("/api/v1/webhooks", json={"url": url, "events": ["customer.*"]})
        assert response.status_code == 201, response.get_json()
        subs.append(response.get_json()["id"])
    pings = []
    for sub in (subs[0], subs[0], subs[0], subs[1]):
        response = api.post(f"/api/v1/webhooks/{sub}/ping")
        assert response.status_code == 202, response.get_json()
        pings.append(response.get_json()["id"])
    with runtime.database.unit_of_work():
        db.session().execute(update(WebhookDelivery).where(WebhookDelivery.id == uuid.UUID(pings[0]))
                             .values(status="failed", last_status_code=500, last_error="HTTP 500"))
    return {"subs": subs, "pings": pings}


def test_a_subscriptions_deliveries_export_as_its_list_for_admins_only(api, people, deliveries):
    first, second = deliveries["subs"]
    rows = assert_exports_the_list(api, "webhook_deliveries", f"webhooks/{first}/deliveries",
                                   parent=f"subscription_id={first}")
    assert sorted(r["id"] for r in rows) == sorted(deliveries["pings"][:3])
    assert {r["event"] for r in rows} == {"webhook.ping"} and {r["subscription_id"] for r in rows} == {first}
    [failed] = assert_exports_the_list(api, "webhook_deliveries", f"webhooks/{first}/deliveries", "status=failed",
                                       parent=f"subscription_id={first}")
    assert (failed["id"], failed["last_status_code"]) == (deliveries["pings"][0], 500)
    [other] = assert_exports_the_list(api, "webhook_deliveries", f"webhooks/{second}/deliveries",
                                      parent=f"subscription_id={second}")
    assert other["id"] == deliveries["pings"][3]
    for who in ("manager", "rep"):
        assert api.as_(who).get(f"/api/v1/webhooks/{first}/deliveries").status_code == 403
        assert api.as_(who).get(f"/api/v1/exports/webhook_deliveries?subscription_id={first}").status_code == 403
    # a deleted subscription is not seen: its list is a 404, its export a 422 on the filter naming it
    assert api.delete(f"/api/v1/webhooks/{second}").status_code == 204
    assert api.get(f"/api/v1/webhooks/{second}/deliveries").status_code == 404
    response = api.get(f"/api/v1/exports/webhook_deliveries?subscription_id={second}")
    assert response.status_code == 422 and "subscription_id" in response.get_json()["errors"]["json"]
    assert api.get(f"/api/v1/webhooks/{first}/deliveries?status=lost").status_code == 422


@pytest.fixture
def runs(api, runtime, tmp_path, monkeypatch):
    """Two import runs: one run by the worker (a row refused), one still pending."""
    from tests.api.rest.test_imports import run_the_job, upload
    from core.services import imports

    monkeypatch.setattr(imports, "upload_dir", lambda: tmp_path)
    first = upload(api)
    assert first.status_code == 202, first.get_json()
    assert run_the_job(runtime) == "1 of 1 import(s) run"
    second = upload(api, b"external_id,name,kind\nR9,Later Co,company\n", "later.csv")
    assert second.status_code == 202, second.get_json()
    return [first.get_json()["id"], second.get_json()["id"]]


def test_import_runs_export_as_their_list_for_admins_only(api, runs):
    rows = assert_exports_the_list(api, "imports", "imports")
    assert sorted(r["id"] for r in rows) == sorted(runs)
    done = next(r for r in rows if r["id"] == runs[0])
    assert (done["status"], done["created"], done["error_count"]) == ("done", 2, 1)
    assert json.loads(done["errors"]) == [{"row": 3, "column": "name", "reason": "Missing data for required field."}]
    for who in ("manager", "rep"):
        assert api.as_(who).get("/api/v1/imports").status_code == 403
        assert api.as_(who).get("/api/v1/exports/imports?format=jsonl").status_code == 403
    lines = api.get("/api/v1/exports/imports?format=csv").get_data(as_text=True).splitlines()
    assert len(lines) == 3 and lines[0].startswith("id,record_type,file_name,format,dry_run,request_id,status")


@pytest.mark.parametrize("name, query, field", [("tokens", "user_id=nope", "user_id"),
                                                ("tokens", "include_revoked=perhaps", "include_revoked"),
                                                ("tokens", "colour=red", "colour"),
                                                ("webhook_deliveries", "", "subscription_id"),
                                                ("webhook_deliveries", "status=failed", "subscription_id"),
                                                ("webhook_deliveries", "subscription_id=nope", "subscription_id"),
                                                ("webhook_deliveries", f"subscription_id={uuid.uuid4()}",
                                                 "subscription_id"),
                                                ("webhook_deliveries", "status=lost", "status"),
                                                ("webhook_deliveries", "colour=red", "colour"),
                                                ("imports", "colour=red", "colour")])
def test_a_bad_filter_of_the_tokens_deliveries_or_runs_is_a_422_naming_it(api, people, name, query, field):
    response = api.get(f"/api/v1/exports/{name}?{query}")
    assert response.status_code == 422 and field in response.get_json()["errors"]["json"], response.get_json()


def test_the_lists_own_bad_filters_are_422s_too(api, deliveries):
    assert api.get("/api/v1/tokens?include_revoked=perhaps").status_code == 422
    assert api.get("/api/v1/tokens?user_id=nope").status_code == 422
    first = deliveries["subs"][0]
    response = api.get(f"/api/v1/exports/webhook_deliveries?subscription_id={first}&status=lost")
    assert response.status_code == 422 and "status" in response.get_json()["errors"]["json"]


def test_the_three_types_are_listed_with_their_filters(api, people):
    types = {t["name"]: t for t in api.get("/api/v1/exports").get_json()}
    assert types["tokens"]["filters"] == ["include_revoked", "user_id"]
    assert types["webhook_deliveries"]["filters"] == ["status", "subscription_id"]
    assert types["imports"]["filters"] == []
    assert not {"token", "token_hash", "hash"} & set(types["tokens"]["columns"])


@pytest.mark.parametrize("name, one, more", [
    ("tokens", lambda p, d: {"user_id": str(p.rep.id)}, lambda p, d: {}),
    ("webhook_deliveries", lambda p, d: {"subscription_id": d["subs"][1]},
     lambda p, d: {"subscription_id": d["subs"][0]}),
])
def test_a_batch_of_tokens_or_deliveries_costs_the_same_statements_for_one_as_for_more(
        runtime, people, tokens, deliveries, count_queries, name, one, more):
    from core import db
    from core.services import exports

    with runtime.database.unit_of_work():
        admin = db.session().get(type(people.admin), people.admin.id)
        with count_queries() as single:
            assert len(list(exports.rows(admin, name, one(people, deliveries)))) == 1
        with count_queries() as several:
            assert len(list(exports.rows(admin, name, more(people, deliveries)))) >= 2
    assert single.count == several.count   # nothing read per record


# --- a customer's history, duplicate candidates, a person's erasures, segments, the win-back ranking ------

@pytest.fixture
def moves(api):
    """The rep's customer moved potential → intent → potential → intent; the other rep's moved once."""
    mine, theirs = create(api, who="rep", name="Moving Co"), create(api, who="other_rep", name="Still Co")
    for who, customer, stages in (("rep", mine, ("intent", "potential", "intent")), ("other_rep", theirs, ("intent",))):
        for stage in stages:
            moved = api.as_(who).post(f"/api/v1/customers/{customer['id']}/stage", json={"to": stage, "reason": "call"})
            assert moved.status_code == 200, moved.get_json()
    return {"mine": mine, "theirs": theirs}


def test_a_customers_history_exports_as_its_list_for_who_may_see_the_customer(api, moves):
    mine, theirs = moves["mine"]["id"], moves["theirs"]["id"]
    rep = api.as_("rep")
    rows = assert_exports_the_list(rep, "customer_history", f"customers/{mine}/history", paged=False,
                                   parent=f"customer_id={mine}")
    assert [r["to_state"] for r in sorted(rows, key=lambda r: (r["at"], r["id"]))][-3:] == ["intent", "potential",
                                                                                          "intent"]
    assert {r["workflow"] for r in rows} == {"customer.lifecycle"}
    levels = rep.get(f"/api/v1/customers/{mine}/history?workflow=customer.level").get_json()
    assert sorted(r["id"] for r in exported(rep, "customer_history", f"customer_id={mine}&workflow=customer.level")) \
        == sorted(e["id"] for e in levels)
    assert len(assert_exports_the_list(api.as_("manager"), "customer_history", f"customers/{mine}/history",
                                       paged=False, parent=f"customer_id={mine}")) == len(rows)
    # the other team's customer: the list is a 404, the export a 422 on the filter naming it
    assert rep.get(f"/api/v1/customers/{theirs}/history").status_code == 404
    response = rep.get(f"/api/v1/exports/customer_history?customer_id={theirs}")
    assert response.status_code == 422 and "customer_id" in response.get_json()["errors"]["json"]
    assert rep.get(f"/api/v1/customers/{mine}/history?workflow=customer.mood").status_code == 422
    text = rep.get(f"/api/v1/exports/customer_history?format=csv&customer_id={mine}").get_data(as_text=True)
    assert text.splitlines()[0] == ("id,workflow,from_state,to_state,at,actor_id,approved_by_id,trigger,"
                                    "trigger_event,reason,seconds_in_previous")


@pytest.fixture
def twins(api):
    """The rep's "Twin Co" ×3 (three pairs by name), two of them sharing a contact's e-mail too; a rep2's
    "Twin Co" (a pair with each of the rep's for their manager only); the other team's "Twin Co"."""
    from tests.api.rest.test_contacts_interactions import add_contact

    mine = [create(api, who="rep", name="Twin Co") for _ in range(3)]
    for customer in mine[:2]:
        add_contact(api, customer["id"], name="Li Lei", email="li.lei@twin.example")
    teammate = create(api, who="rep2", name="TWIN  co")
    theirs = create(api, who="other_rep", name="Twin Co")
    return {"mine": mine, "teammate": teammate, "theirs": theirs}


def test_duplicate_candidates_export_as_their_list_in_its_order_only_pairs_the_caller_sees(api, twins):
    rows = assert_exports_the_ranking(api.as_("rep"), "duplicates", "customers/duplicates", paged=True)
    assert len(rows) == 3 and sorted(rows[0]["reasons"]) == ["email", "name"]   # most reasons first
    assert {json.loads(r["customer"])["owner_id"] for r in rows} == {json.loads(rows[0]["duplicate"])["owner_id"]}
    assert len(assert_exports_the_ranking(api.as_("manager"), "duplicates", "customers/duplicates", paged=True)) == 6
    assert len(assert_exports_the_ranking(api, "duplicates", "customers/duplicates", paged=True)) == 10
    [email] = assert_exports_the_ranking(api.as_("rep"), "duplicates", "customers/duplicates", "reason=email",
                                         paged=True)
    assert email["email"] == "li.lei@twin.example"
    one = twins["mine"][2]["id"]
    assert len(assert_exports_the_ranking(api.as_("manager"), "duplicates", "customers/duplicates",
                                          f"customer_id={one}", paged=True)) == 3
    assert exported(api.as_("other_rep"), "duplicates") == []
    for who in ("rep", "admin"):
        assert api.as_(who).get("/api/v1/exports/duplicates?format=xlsx").data[:2] == b"PK"


@pytest.fixture
def erased(api):
    """A person erased twice (a contact added between: a second erasure is recorded) and another once."""
    person = create(api, kind="person", name="Wang Fang")
    other = create(api, kind="person", name="Li Na")
    for who in (person, other, person):
        if who is person:
            added = api.post("/api/v1/contacts", json={"customer_id": who["id"], "name": "Wang Fang",
                                                       "email": f"wang{uuid.uuid4().hex[:6]}@example.com"})
            assert added.status_code == 201, added.get_json()
        response = api.post("/api/v1/privacy/erase?wait=true", json={"person": who["id"], "reason": "asked"})
        assert response.status_code == 200, response.get_json()
    return {"person": person, "other": other}


def test_a_persons_erasures_export_as_their_list_for_admins_only(api, people, erased):
    person, other = erased["person"]["id"], erased["other"]["id"]
    rows = assert_exports_the_list(api, "privacy_erasures", "privacy/erasures", f"person={person}", paged=False)
    assert len(rows) == 2 and {r["by"] for r in rows} == {str(people.admin.id)}
    [one] = assert_exports_the_list(api, "privacy_erasures", "privacy/erasures", f"person={other}", paged=False)
    assert one["reason"] == "asked"
    for who in ("manager", "rep"):
        assert api.as_(who).get(f"/api/v1/privacy/erasures?person={person}").status_code == 403
        assert api.as_(who).get(f"/api/v1/exports/privacy_erasures?person={person}").status_code == 403
    # nobody by that id: the list is a 404, the export a 422 naming the filter
    assert api.get(f"/api/v1/privacy/erasures?person={uuid.uuid4()}").status_code == 404
    response = api.get(f"/api/v1/exports/privacy_erasures?person={uuid.uuid4()}")
    assert response.status_code == 422 and "person" in response.get_json()["errors"]["json"]


@pytest.fixture
def analysed(api):
    """Six frequent small buyers of the rep's, six rare big ones of rep2's, two of the rep's lost (one
    worth more) and one of the other rep's lost; analytics refreshed."""
    from tests.core.analytics.test_service import build_population, buy, refresh

    build_population(api)
    lost = []
    for who, name, amount in (("rep", "Gone big", "3000.00"), ("rep", "Gone small", "10.00"),
                              ("other_rep", "Gone elsewhere", "500.00")):
        customer = create(api, who=who, name=name)
        buy(api, customer, 200, amount, who=who)
        buy(api, customer, 100, amount, who=who)
        manager = "manager" if who == "rep" else "other_manager"
        moved = api.as_(manager).post(f"/api/v1/customers/{customer['id']}/stage",
                                      json={"to": "lost", "reason": f"{name}: moved on"})
        assert moved.status_code == 200, moved.get_json()
        lost.append(customer)
    run = refresh(api)
    assert run["params"]["kmeans"]["ok"], run["params"]["kmeans"]
    return lost


def test_the_segments_export_as_their_list_sized_for_the_caller(api, analysed):
    rows = assert_exports_the_ranking(api, "analytics_segments", "analytics/segments")
    assert len(rows) >= 2 and [r["number"] for r in rows] == sorted(r["number"] for r in rows)
    assert all(r["size_all"] == r["size"] for r in rows)
    mine = assert_exports_the_ranking(api.as_("rep"), "analytics_segments", "analytics/segments")
    assert {r["id"] for r in mine} == {r["id"] for r in rows} and all(r["size_all"] is None for r in mine)
    assert sum(r["size"] for r in mine) < sum(r["size"] for r in rows)


def test_the_win_back_ranking_exports_as_its_list_in_rank_order_with_its_limit(api, analysed):
    rows = assert_exports_the_ranking(api.as_("rep"), "win_back", "analytics/win-back")
    assert [r["name"] for r in rows] == ["Gone big", "Gone small"] and rows[0]["lost_reason"] == "Gone big: moved on"
    assert rows[0]["expected_value"] > rows[1]["expected_value"]
    [top] = assert_exports_the_ranking(api.as_("rep"), "win_back", "analytics/win-back", "limit=1")
    assert top["name"] == "Gone big"
    everyone = assert_exports_the_ranking(api, "win_back", "analytics/win-back", "limit=500")
    assert {r["name"] for r in everyone} >= {"Gone big", "Gone small", "Gone elsewhere"}
    text = api.as_("rep").get("/api/v1/exports/win_back?format=csv").get_data(as_text=True).splitlines()
    assert text[0] == "customer_id,name,stage,owner_id,status,expected_value,clv,clv_seed,lost_reason,churn_flags"
    assert [line.split(",")[1] for line in text[1:]] == ["Gone big", "Gone small"]


@pytest.mark.parametrize("name, query, field", [("customer_history", "", "customer_id"),
                                                ("customer_history", "workflow=customer.level", "customer_id"),
                                                ("customer_history", "customer_id=nope", "customer_id"),
                                                ("customer_history", f"customer_id={uuid.uuid4()}", "customer_id"),
                                                ("customer_history", "colour=red", "colour"),
                                                ("duplicates", "reason=birthday", "reason"),
                                                ("duplicates", "customer_id=nope", "customer_id"),
                                                ("duplicates", "colour=red", "colour"),
                                                ("privacy_erasures", "", "person"),
                                                ("privacy_erasures", "person=", "person"),
                                                ("privacy_erasures", "person=nobody", "person"),
                                                ("privacy_erasures", "person=nobody@nowhere.example", "person"),
                                                ("privacy_erasures", f"person={uuid.uuid4()}", "person"),
                                                ("analytics_segments", "colour=red", "colour"),
                                                ("win_back", "limit=0", "limit"),
                                                ("win_back", "limit=501", "limit"),
                                                ("win_back", "limit=many", "limit"),
                                                ("win_back", "colour=red", "colour")])
def test_a_bad_filter_of_the_five_is_a_422_naming_it(api, people, name, query, field):
    response = api.get(f"/api/v1/exports/{name}?{query}")
    assert response.status_code == 422 and field in response.get_json()["errors"]["json"], response.get_json()


def test_a_bad_workflow_of_a_history_is_a_422_naming_it(api, moves):
    response = api.get(f"/api/v1/exports/customer_history?customer_id={moves['mine']['id']}&workflow=customer.mood")
    assert response.status_code == 422 and "workflow" in response.get_json()["errors"]["json"]


def test_the_five_types_are_listed_with_their_filters(api, people):
    types = {t["name"]: t for t in api.get("/api/v1/exports").get_json()}
    assert types["customer_history"]["filters"] == ["customer_id", "workflow"]
    assert types["duplicates"]["filters"] == ["customer_id", "reason"]
    assert types["privacy_erasures"]["filters"] == ["person"]
    assert types["analytics_segments"]["filters"] == [] and types["win_back"]["filters"] == ["limit"]
    assert types["duplicates"]["columns"] == ["customer", "duplicate", "reasons", "email", "phone", "name"]


@pytest.mark.parametrize("name, one, more", [
    ("customer_history", lambda m: {"customer_id": m["theirs"]["id"]}, lambda m: {"customer_id": m["mine"]["id"]}),
])
def test_a_batch_of_a_history_costs_the_same_statements_for_one_as_for_more(runtime, people, moves, count_queries,
                                                                             name, one, more):
    from core import db
    from core.services import exports

    with runtime.database.unit_of_work():
        admin = db.session().get(type(people.admin), people.admin.id)
        with count_queries() as single:
            rows = list(exports.rows(admin, name, one(moves)))
        with count_queries() as several:
            assert len(list(exports.rows(admin, name, more(moves)))) > len(rows)
    # the customer and its tags (the filter's check, once an export), then one statement a batch: the moves
    assert single.count == several.count == 3, [s[:60] for s in several.statements]


def _counted_rows(runtime, people, count_queries, name, filters, batch_size, who="admin"):
    from core import db
    from core.services import exports

    with runtime.database.unit_of_work():
        actor = db.session().get(type(people.admin), getattr(people, who).id)
        with count_queries() as counted:
            rows = list(exports.rows(actor, name, filters, batch_size=batch_size))
    return rows, counted.count


def test_a_batch_of_duplicates_costs_the_same_statements_however_many_pairs(runtime, people, api, twins,
                                                                           count_queries):
    # one streamed statement (the pairs); per batch of pairs: their customers, the customers' tags, their analytics
    one, single = _counted_rows(runtime, people, count_queries, "duplicates", {"reason": "email"}, 1000)
    few, several = _counted_rows(runtime, people, count_queries, "duplicates", {}, 1000)
    assert len(one) == 1 and len(few) == 10 and single == several == 4
    paired, batched = _counted_rows(runtime, people, count_queries, "duplicates", {}, 5)
    assert paired == few and batched == several + (several - 1)   # two batches: the per-batch statements twice


def test_a_batch_of_the_win_back_ranking_or_the_segments_costs_the_same_statements_for_one_as_for_more(
        runtime, people, api, analysed, count_queries):
    one, single = _counted_rows(runtime, people, count_queries, "win_back", {"limit": 1}, 1000)
    more, several = _counted_rows(runtime, people, count_queries, "win_back", {"limit": 500}, 1000)
    # one streamed statement (the ranking); per batch: the customers' tags, the lost customers' reasons
    assert len(one) == 1 and len(more) >= 3 and single == several == 3
    segments, counted = _counted_rows(runtime, people, count_queries, "analytics_segments", {}, 1000, who="rep")
    assert len(segments) >= 2 and counted == 2   # the segments, the numbers of the members the rep sees
