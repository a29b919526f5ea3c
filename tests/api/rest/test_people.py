"""Users and teams: admins manage them; managers and reps see their team."""
from __future__ import annotations

import uuid


def test_admin_creates_a_team_and_a_rep_who_then_sees_only_the_team(api, people):
    team = api.as_("admin").post("/api/v1/teams", json={"name": "North", "manager_id": str(people.other_manager.id)})
    assert team.status_code == 201 and team.get_json()["manager_id"] == str(people.other_manager.id)
    user = api.as_("admin").post("/api/v1/users", json={"email": "New@Example.com", "name": "Nia", "role": "rep",
                                                        "team_id": team.get_json()["id"]})
    assert user.status_code == 201 and user.get_json()["email"] == "new@example.com"
    listed = {u["email"] for u in api.as_("rep").get("/api/v1/users").get_json()}
    assert listed == {"manager@example.com", "rep@example.com", "rep2@example.com"}
    assert len(api.as_("admin").get("/api/v1/users").get_json()) == 7  # six people + Nia
    assert [t["name"] for t in api.as_("rep").get("/api/v1/teams").get_json()] == ["East"]
    trail = api.as_("admin").get("/api/v1/audit?record_type=user_account").get_json()
    assert trail[0]["action"] == "user_account.created"


def test_only_admins_manage_people(api, people):
    assert api.as_("manager").post("/api/v1/teams", json={"name": "Rogue"}).status_code == 403
    assert api.as_("manager").post("/api/v1/users", json={"email": "x@example.com"}).status_code == 403
    url = f"/api/v1/users/{people.rep.id}"
    assert api.as_("manager").patch(url, json={"version": 1, "role": "admin"}).status_code == 403
    assert api.as_("other_rep").get(url).status_code == 404


def test_moving_a_rep_to_another_team_changes_what_managers_see(api, people):
    customer = api.as_("rep").post("/api/v1/customers", json={"name": "Mover"}).get_json()
    assert api.as_("other_manager").get(f"/api/v1/customers/{customer['id']}").status_code == 404
    rep = api.as_("admin").get(f"/api/v1/users/{people.rep.id}").get_json()
    moved = api.as_("admin").patch(f"/api/v1/users/{people.rep.id}",
                                   json={"version": rep["version"], "team_id": str(people.other_manager.team_id)})
    assert moved.status_code == 200, moved.get_json()
    assert api.as_("other_manager").get(f"/api/v1/customers/{customer['id']}").status_code == 200
    assert api.as_("manager").get(f"/api/v1/customers/{customer['id']}").status_code == 404
    stale = api.as_("admin").patch(f"/api/v1/users/{people.rep.id}", json={"version": rep["version"], "name": "x"})
    assert stale.status_code == 409


def test_bad_people_input_names_the_field(api, people):
    assert "name" in api.as_("admin").post("/api/v1/teams", json={}).get_json()["errors"]["json"]
    dup = api.as_("admin").post("/api/v1/teams", json={"name": "East"})
    assert dup.status_code == 409
    bad_role = api.as_("admin").patch(f"/api/v1/users/{people.rep.id}", json={"version": 1, "role": "king"})
    assert bad_role.status_code == 422 and "role" in bad_role.get_json()["errors"]["json"]
    not_manager = api.as_("admin").post("/api/v1/teams", json={"name": "Z", "manager_id": str(people.rep.id)})
    assert not_manager.status_code == 422 and "manager_id" in not_manager.get_json()["errors"]["json"]
    me = api.as_("admin").patch(f"/api/v1/users/{people.admin.id}", json={"version": 1, "is_active": False})
    assert me.status_code == 422


def test_people_over_graphql(api, people):
    body = api.as_("admin").graphql('mutation { createTeam(input: {name: "South"}) { id name } }')
    assert body.get("errors") is None, body
    team_id = body["data"]["createTeam"]["id"]
    body = api.as_("admin").graphql('mutation($t: ID!) { createUser(input: {email: "s@example.com", role: MANAGER, '
                                    'teamId: $t}) { email role teamId } }', {"t": team_id})
    assert body["data"]["createUser"] == {"email": "s@example.com", "role": "MANAGER", "teamId": team_id}
    listed = api.as_("rep").graphql("{ users(first: 10) { totalCount } teams { totalCount edges { node { name } } } }"
                                    )["data"]
    assert listed == {"users": {"totalCount": 3}, "teams": {"totalCount": 1, "edges": [{"node": {"name": "East"}}]}}
    denied = api.as_("rep").graphql('mutation { createTeam(input: {name: "X"}) { id } }')
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_listing_users_by_an_unknown_role_is_a_422_not_an_empty_list(api, people):
    bad = api.as_("admin").get("/api/v1/users?role=kingg")
    assert bad.status_code == 422 and "Unknown role" in str(bad.get_json()["errors"])
    reps = api.as_("admin").get("/api/v1/users?role=rep")
    assert reps.status_code == 200 and {u["role"] for u in reps.get_json()} == {"rep"}
    body = api.as_("admin").graphql('{ users(filter: {role: KINGG}) { totalCount } }')
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body


def test_users_keeping_a_disabled_plugins_role_can_still_be_found(api, runtime, people, database_url, connection):
    from core.services import users
    from tests.api.graphql.helpers import app_with

    with runtime.database.unit_of_work():
        users.create_user(None, {"email": "staff@example.com", "name": "Store", "role": "store_staff"})
    with app_with(database_url, connection, people=people, PLUGINS="exhibitions") as (without_retail, _):
        found = without_retail.as_("admin").get("/api/v1/users?role=store_staff")
        assert found.status_code == 200 and [u["email"] for u in found.get_json()] == ["staff@example.com"]
        assert without_retail.as_("admin").get("/api/v1/users?role=kingg").status_code == 422


def test_user_search_takes_percent_and_underscore_literally_in_names_and_emails(api, people):
    admin = api.as_("admin")
    assert admin.get("/api/v1/users?q=r_y").get_json() == []  # not "Ray Rep"
    assert admin.get("/api/v1/users?q=rep_@").get_json() == []  # not "rep2@example.com"
    assert admin.get("/api/v1/users?q=%25").get_json() == []
    assert [u["email"] for u in admin.get("/api/v1/users?q=RITA").get_json()] == ["rep2@example.com"]
    assert [u["email"] for u in admin.get("/api/v1/users?q=om@").get_json()] == ["om@example.com"]
    assert admin.get(f"/api/v1/users?q={'x' * 120}").status_code == 200
    too_long = admin.get(f"/api/v1/users?q={'x' * 121}")
    assert too_long.status_code == 422 and "q" in too_long.get_json()["errors"]["query"]


def test_a_user_edit_is_audited_with_its_changes_and_a_no_op_edit_is_not(api, people):
    url = f"/api/v1/users/{people.rep.id}"
    admin = api.as_("admin")
    edited = admin.patch(url, json={"version": 1, "name": "n" * 120})
    assert edited.status_code == 200, edited.get_json()
    too_long = admin.patch(url, json={"version": edited.get_json()["version"], "name": "n" * 121})
    assert too_long.status_code == 422 and "name" in too_long.get_json()["errors"]["json"]
    same = admin.patch(url, json={"version": edited.get_json()["version"], "name": "n" * 120})
    assert same.status_code == 200
    trail = admin.get(f"/api/v1/audit?record_type=user_account&record_id={people.rep.id}").get_json()
    assert [(e["action"], e["changes"]) for e in trail] == [("user_account.updated", {"name": ["Ray Rep", "n" * 120]})]


def test_a_team_without_a_manager_or_with_an_unknown_one(api, people):
    made = api.as_("admin").post("/api/v1/teams", json={"name": "Floaters", "manager_id": None})
    assert made.status_code == 201 and made.get_json()["manager_id"] is None
    unknown = api.as_("admin").post("/api/v1/teams", json={"name": "Ghosts", "manager_id": str(uuid.uuid4())})
    assert unknown.status_code == 422, unknown.get_json()
    assert unknown.get_json()["errors"]["json"] == {"manager_id": ["No manager has this id."]}


def test_a_user_without_a_team_sees_only_themself(api, runtime, people):
    from core.services import users

    made = api.as_("admin").post("/api/v1/users", json={"email": "solo@example.com", "name": "Solo", "role": "rep"})
    assert made.status_code == 201 and made.get_json()["team_id"] is None
    with runtime.database.unit_of_work():
        _, token = users.create_token(users.by_email("solo@example.com"))
    listed = api.client.get("/api/v1/users", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert [u["email"] for u in listed] == ["solo@example.com"]
