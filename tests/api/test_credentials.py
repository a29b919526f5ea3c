"""Credentials that can be ended, and an honest login: rate limits and lockout, one hash check per
sign-in whatever the email, sessions ended server-side, tokens that expire, are listed and revoked."""
from __future__ import annotations

import os
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from api.app import create_app
from core.db import utcnow
from core.errors import ValidationFailed
from core.models import ApiToken, User
from core.services import users
from api.testing import app_config, bound

REP = {"email": "rep@example.com", "password": "rep-password"}


def login(client, email="rep@example.com", password="rep-password", **kw):
    return client.post("/auth/login", json={"email": email, "password": password}, **kw)


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


# --- rate limits and lockout ------------------------------------------------------------------------

def test_an_account_is_locked_after_five_failed_sign_ins_with_retry_after(client, people):
    for _ in range(5):
        assert login(client, password="wrong-password").status_code == 401
    locked = login(client)  # even the right password, while locked
    assert locked.status_code == 429
    assert locked.get_json()["code"] == 429 and "Try again in" in locked.get_json()["message"]
    assert 0 < int(locked.headers["Retry-After"]) <= 15 * 60
    assert client.get("/auth/me").status_code == 401
    assert login(client, "admin@example.com", "admin-password").status_code == 200  # other accounts sign in


def test_the_account_limit_counts_the_email_however_it_is_written(client, people):
    for email in ("rep@example.com", "REP@example.com", " Rep@Example.com ", "rep@EXAMPLE.com", "rep@example.com"):
        assert login(client, email, "wrong-password").status_code == 401
    assert login(client, "Rep@example.com").status_code == 429


def test_successful_sign_ins_are_not_counted(client, people):
    for _ in range(8):
        assert login(client).status_code == 200


def test_a_client_address_is_limited_across_accounts(client, people):
    for i in range(20):
        assert login(client, f"ghost{i}@example.com", "wrong-password").status_code == 401
    refused = login(client, "admin@example.com", "admin-password")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    elsewhere = login(client, "admin@example.com", "admin-password", environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert elsewhere.status_code == 200


def test_the_form_login_is_limited_too(client, people):
    from tests.api.test_auth import form_login

    for _ in range(5):
        assert form_login(client, password="wrong-password").status_code == 401
    assert form_login(client).status_code == 429


@pytest.fixture
def strict_app(database_url, connection):
    app = create_app(app_config(database_url, LOGIN_ACCOUNT_LIMIT="2 per hour", LOGIN_ADDRESS_LIMIT="3 per hour"))
    with bound(app, connection):
        yield app
    app.extensions["trellis"].database.dispose()


def test_limits_are_configurable(strict_app, people):
    client = strict_app.test_client()
    for _ in range(2):
        assert login(client, password="wrong-password").status_code == 401
    locked = login(client)
    assert locked.status_code == 429 and 3000 < int(locked.headers["Retry-After"]) <= 3600
    assert login(client, "ghost@example.com", "wrong-password").status_code == 401
    assert login(client, "admin@example.com", "admin-password").status_code == 429  # 3 failures from here


def test_behind_a_proxy_the_address_limit_counts_the_forwarded_client(database_url, connection, people):
    app = create_app(app_config(database_url, LOGIN_ADDRESS_LIMIT="2 per hour", PROXY_HOPS=1))
    try:
        with bound(app, connection):
            client = app.test_client()

            def attempt(client_address, email="ghost@example.com", password="wrong-password"):
                return login(client, email, password, headers={"X-Forwarded-For": client_address})

            assert attempt("198.51.100.1").status_code == 401
            assert attempt("198.51.100.1", "ghost2@example.com").status_code == 401
            assert attempt("198.51.100.1", "admin@example.com", "admin-password").status_code == 429
            assert attempt("198.51.100.2", "admin@example.com", "admin-password").status_code == 200
    finally:
        app.extensions["trellis"].database.dispose()


def test_with_the_store_down_the_limits_hold_per_process_instead_of_failing(database_url, connection, people):
    """Nothing listens on port 1: sign-ins are still answered (not a 500) and still limited, in memory."""
    app = create_app(app_config(database_url, RATELIMIT_STORAGE_URI="redis://127.0.0.1:1",
                                LOGIN_ACCOUNT_LIMIT="2 per hour"))
    try:
        with bound(app, connection):
            client = app.test_client()
            assert login(client, password="wrong-password").status_code == 401
            assert login(client, password="wrong-password").status_code == 401
            assert login(client).status_code == 429
            assert login(client, "admin@example.com", "admin-password").status_code == 200
    finally:
        app.extensions["trellis"].database.dispose()


def _redis_or_skip(url: str) -> None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.exceptions.ConnectionError:
        if os.environ.get("CI"):
            pytest.fail(f"Redis is not reachable at {url}; CI must run this test (.ci/run starts redis-server).")
        pytest.skip(f"Redis is not reachable at {url}")


def test_the_limit_holds_across_workers_sharing_a_redis_store(database_url, connection, people):
    """Two apps (two gunicorn workers) with the production store count one account's failures together."""
    url = "redis://127.0.0.1:6379"
    _redis_or_skip(url)
    config = app_config(database_url, RATELIMIT_STORAGE_URI=url, LOGIN_ACCOUNT_LIMIT="3 per 15 minutes")
    first, second = create_app(config), create_app(config)
    email = f"nobody-{uuid.uuid4().hex}@example.com"  # keys of their own: runs never meet in the store
    address = {"REMOTE_ADDR": f"2001:db8::{uuid.uuid4().hex[:4]}"}
    try:
        with bound(first, connection):
            a = first.test_client()
            assert login(a, email, "wrong-password", environ_base=address).status_code == 401
            assert login(a, email, "wrong-password", environ_base=address).status_code == 401
        with bound(second, connection):
            b = second.test_client()
            assert login(b, email, "wrong-password", environ_base=address).status_code == 401
            refused = login(b, email, "wrong-password", environ_base=address)
            assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
        with bound(first, connection):
            assert login(a, email, "wrong-password", environ_base=address).status_code == 429
    finally:
        for app in (first, second):
            app.extensions["trellis"].database.dispose()


# --- one hash check per sign-in -----------------------------------------------------------------------

def test_unknown_email_and_wrong_password_each_cost_exactly_one_hash_check(runtime, people, monkeypatch):
    """No timing assertion: count the key-derivation calls (each costs the configured KDF's time)."""
    calls = []
    real_check, real_generate = users.check_password_hash, users.generate_password_hash
    monkeypatch.setattr(users, "check_password_hash", lambda *a, **k: calls.append("check") or real_check(*a, **k))
    monkeypatch.setattr(users, "generate_password_hash",
                        lambda *a, **k: calls.append("generate") or real_generate(*a, **k))
    with runtime.database.unit_of_work():
        for email, password in (("ghost@example.com", "x-password"), ("rep@example.com", "x-password"),
                                ("ghost2@example.com", "y-password"), ("manager@example.com", "x-password")):
            calls.clear()
            with pytest.raises(Exception, match="Wrong email or password"):
                users.authenticate(email, password)
            assert calls == ["check"], email  # the manager has no password: the dummy hash is checked


# --- sessions ended server-side -------------------------------------------------------------------------

def session_cookie(client) -> str:
    return client.get_cookie("session").value


def replay(app, cookie: str):
    other = app.test_client()
    other.set_cookie("session", cookie)
    return other.get("/auth/me")


def test_a_session_cookie_saved_before_logout_is_refused_after_it(client, app, people):
    assert login(client).status_code == 200
    saved = session_cookie(client)
    assert replay(app, saved).status_code == 200
    assert client.post("/auth/logout").status_code == 204
    assert replay(app, saved).status_code == 401
    assert client.get("/auth/me").status_code == 401
    assert login(client).status_code == 200 and client.get("/auth/me").status_code == 200


def test_changing_your_password_ends_your_other_sessions_and_keeps_this_one(client, app, people):
    other = app.test_client()
    assert login(client).status_code == 200 and login(other).status_code == 200
    wrong = client.post("/auth/password", json={"current_password": "not-it-at-all", "new_password": "brand-new-pw"})
    assert wrong.status_code == 422 and "current_password" in wrong.get_json()["errors"]["json"]
    assert other.get("/auth/me").status_code == 200  # nothing changed
    short = client.post("/auth/password", json={"current_password": "rep-password", "new_password": "short"})
    assert short.status_code == 422 and "new_password" in short.get_json()["errors"]["json"]
    changed = client.post("/auth/password", json={"current_password": "rep-password", "new_password": "brand-new-pw"})
    assert changed.status_code == 204
    assert client.get("/auth/me").status_code == 200
    assert other.get("/auth/me").status_code == 401
    assert login(app.test_client()).status_code == 401
    assert login(app.test_client(), password="brand-new-pw").status_code == 200


def test_an_admin_password_reset_ends_every_session_of_the_user(client, app, people, tokens):
    assert login(client).status_code == 200
    rep_id = str(people.rep.id)
    by_rep = client.post(f"/api/v1/users/{rep_id}/password", json={"password": "set-by-myself"})
    assert by_rep.status_code == 403
    reset = client.post(f"/api/v1/users/{rep_id}/password", json={"password": "set-by-admin"},
                        headers=bearer(tokens["admin"]))
    assert reset.status_code == 204
    assert client.get("/auth/me").status_code == 401
    assert login(app.test_client(), password="set-by-admin").status_code == 200
    bad = client.post(f"/api/v1/users/{rep_id}/password", json={"password": "short"}, headers=bearer(tokens["admin"]))
    assert bad.status_code == 422 and "password" in bad.get_json()["errors"]["json"]


def test_reactivating_a_user_revives_no_session_or_token(client, app, people, tokens):
    assert login(client).status_code == 200
    admin = bearer(tokens["admin"])
    rep_url = f"/api/v1/users/{people.rep.id}"

    def set_active(value: bool):
        version = client.get(rep_url, headers=admin).get_json()["version"]
        response = client.patch(rep_url, json={"version": version, "is_active": value}, headers=admin)
        assert response.status_code == 200, response.get_json()

    set_active(False)
    assert client.get("/auth/me").status_code == 401
    set_active(True)
    assert client.get("/auth/me").status_code == 401  # the old session stays dead
    assert client.get("/auth/me", headers=bearer(tokens["rep"])).status_code == 401  # and the old token
    assert login(app.test_client()).status_code == 200  # signing in again works


# --- tokens: expiry, last use, list and revoke ------------------------------------------------------------

def test_an_expired_token_no_longer_works(client, runtime, people):
    with runtime.database.unit_of_work():
        row, plain = users.create_token(people.rep, "short-lived", expires_in_days=1)
    assert client.get("/auth/me", headers=bearer(plain)).status_code == 200
    with runtime.database.unit_of_work() as s:
        s.get(ApiToken, row.id).expires_at = utcnow() - timedelta(seconds=1)
    assert client.get("/auth/me", headers=bearer(plain)).status_code == 401


def test_last_used_at_is_recorded_at_most_once_a_minute(client, runtime, people):
    with runtime.database.unit_of_work():
        row, plain = users.create_token(people.rep, "script")

    def last_used():
        with runtime.database.unit_of_work() as s:
            return s.get(ApiToken, row.id).last_used_at

    assert last_used() is None
    client.get("/auth/me", headers=bearer(plain))
    first = last_used()
    assert first is not None and abs(first - utcnow()) < timedelta(minutes=1)  # the request's time, not a stale one
    client.get("/auth/me", headers=bearer(plain))
    assert last_used() == first  # not written again within the minute
    with runtime.database.unit_of_work() as s:
        s.get(ApiToken, row.id).last_used_at = utcnow() - timedelta(minutes=2)
    client.get("/auth/me", headers=bearer(plain))
    assert last_used() > first


def test_users_create_list_and_revoke_their_own_tokens_over_rest(client, tokens, people):
    rep = bearer(tokens["rep"])
    created = client.post("/api/v1/tokens", json={"name": "laptop", "expires_in_days": 30}, headers=rep)
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["token"].startswith("trl_") and body["name"] == "laptop" and body["expires_at"]
    assert client.get("/auth/me", headers=bearer(body["token"])).get_json()["email"] == "rep@example.com"
    listed = client.get("/api/v1/tokens", headers=rep).get_json()
    assert {t["name"] for t in listed} == {"laptop", "test"}
    assert all("token" not in t and "token_hash" not in t for t in listed)
    assert all(t["user_id"] == str(people.rep.id) for t in listed)
    revoked = client.post(f"/api/v1/tokens/{body['id']}/revoke", headers=rep)
    assert revoked.status_code == 200 and revoked.get_json()["revoked_at"]
    assert client.get("/auth/me", headers=bearer(body["token"])).status_code == 401
    assert [t["name"] for t in client.get("/api/v1/tokens", headers=rep).get_json()] == ["test"]
    assert len(client.get("/api/v1/tokens?include_revoked=true", headers=rep).get_json()) == 2


def test_token_rules_a_user_notices(client, runtime, tokens, people):
    rep = bearer(tokens["rep"])
    with runtime.database.unit_of_work() as s:
        admin_token = s.scalars(select(ApiToken).where(ApiToken.user_id == people.admin.id)).one()
    assert client.post(f"/api/v1/tokens/{admin_token.id}/revoke", headers=rep).status_code == 404
    assert client.get(f"/api/v1/tokens/{admin_token.id}", headers=rep).status_code == 404
    for bad in ({"expires_in_days": 0}, {"expires_in_days": 4000}, {"name": "x" * 121}):
        response = client.post("/api/v1/tokens", json=bad, headers=rep)
        assert response.status_code == 422 and set(bad) <= set(response.get_json()["errors"]["json"])
    for_other = client.post("/api/v1/tokens", json={"user_id": str(people.admin.id)}, headers=rep)
    assert for_other.status_code == 422 and "user_id" in for_other.get_json()["errors"]["json"]
    with runtime.database.unit_of_work() as s:
        assert s.scalars(select(ApiToken).where(ApiToken.user_id == people.rep.id)).all().__len__() == 1


def test_admins_see_and_revoke_everybodys_tokens(client, tokens, people):
    admin = bearer(tokens["admin"])
    everything = client.get("/api/v1/tokens?page_size=100", headers=admin).get_json()
    assert len(everything) == 6
    reps = client.get(f"/api/v1/tokens?user_id={people.rep.id}", headers=admin).get_json()
    assert len(reps) == 1
    assert client.post(f"/api/v1/tokens/{reps[0]['id']}/revoke", headers=admin).status_code == 200
    assert client.get("/auth/me", headers=bearer(tokens["rep"])).status_code == 401
    made = client.post("/api/v1/tokens", json={"user_id": str(people.rep.id), "name": "for rep"}, headers=admin)
    assert made.status_code == 201 and made.get_json()["user_id"] == str(people.rep.id)
    assert client.get("/auth/me", headers=bearer(made.get_json()["token"])).get_json()["email"] == "rep@example.com"


def test_tokens_over_graphql(client, tokens, people):
    def gql(query, who="rep", **variables):
        return client.post("/graphql", json={"query": query, "variables": variables},
                           headers=bearer(tokens[who])).get_json()

    made = gql('mutation { createApiToken(input: {name: "ci", expiresInDays: 7}) '
               '{ token apiToken { id name expiresAt revokedAt } } }')["data"]["createApiToken"]
    assert made["token"].startswith("trl_") and made["apiToken"]["expiresAt"] and made["apiToken"]["revokedAt"] is None
    listed = gql("{ apiTokens { totalCount edges { node { name prefix lastUsedAt } } } }")["data"]["apiTokens"]
    assert listed["totalCount"] == 2 and {e["node"]["name"] for e in listed["edges"]} == {"ci", "test"}
    bad = gql('mutation { createApiToken(input: {expiresInDays: 0}) { token } }')
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    revoked = gql("mutation($id: ID!) { revokeApiToken(id: $id) { revokedAt } }", id=made["apiToken"]["id"])
    assert revoked["data"]["revokeApiToken"]["revokedAt"]
    assert client.get("/auth/me", headers=bearer(made["token"])).status_code == 401
    assert gql("{ apiTokens { totalCount } }", who="admin")["data"]["apiTokens"]["totalCount"] == 6
    other = gql("mutation($id: ID!) { revokeApiToken(id: $id) { id } }", who="other_rep", id=made["apiToken"]["id"])
    assert other["errors"][0]["extensions"]["code"] == "NOT_FOUND"


def test_a_token_is_listed_by_its_first_twelve_characters_never_more(client, tokens):
    rep = bearer(tokens["rep"])
    made = client.post("/api/v1/tokens", json={"name": "laptop"}, headers=rep).get_json()
    [listed] = [t for t in client.get("/api/v1/tokens", headers=rep).get_json() if t["name"] == "laptop"]
    assert listed["prefix"] == made["token"][:12] and len(listed["prefix"]) == 12


def test_an_admins_token_for_an_unknown_user_is_422_naming_user_id(client, tokens):
    response = client.post("/api/v1/tokens", json={"user_id": str(uuid.uuid4())}, headers=bearer(tokens["admin"]))
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["errors"]["json"] == {"user_id": ["No user with this id."]}


def test_a_password_of_exactly_200_characters_is_accepted(client, app, people, tokens):
    long = "p" * 200
    reset = client.post(f"/api/v1/users/{people.rep.id}/password", json={"password": long},
                        headers=bearer(tokens["admin"]))
    assert reset.status_code == 204, reset.get_json()
    assert login(app.test_client(), password=long).status_code == 200


def test_the_services_behind_the_cli_and_plugins_refuse_unknown_ids(runtime, people):
    """``system_revoke_token`` (the CLI's revoke) and ``users.reset_password`` look the row up themselves."""
    from core.errors import NotFound

    with runtime.database.unit_of_work():
        with pytest.raises(NotFound, match="No token with this id"):
            users.system_revoke_token(uuid.uuid4())
        row, plain = users.create_token(people.rep, "cli")
        assert users.system_revoke_token(row.id).revoked_at is not None
        assert users.user_for_token(plain) is None
        with pytest.raises(NotFound, match="No user with this id"):
            users.reset_password(people.admin, uuid.uuid4(), {"password": "long-enough"})


def test_a_token_with_a_null_user_id_is_your_own(client, tokens, people):
    made = client.post("/api/v1/tokens", json={"user_id": None, "name": "mine"}, headers=bearer(tokens["rep"]))
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["user_id"] == str(people.rep.id)


def test_the_password_and_team_name_rules_hold_for_callers_without_a_schema(runtime, people):
    """The CLI (``users``/``teams`` commands, the demo's admin reset) calls these services directly."""
    with runtime.database.unit_of_work():
        for bad, message in (("short", "At least 8 characters."), ("p" * 201, "At most 200 characters.")):
            with pytest.raises(ValidationFailed) as refused:
                users.set_password(people.rep, bad)
            assert refused.value.fields == {"password": [message]}
        for name in ("", "n" * 121):
            with pytest.raises(ValidationFailed) as refused:
                users.create_team(None, name)
            assert refused.value.fields == {"name": ["Between 1 and 120 characters."]}
        assert users.create_team(None, "n" * 120).name == "n" * 120
