"""Sessions, bearer tokens and the 401 contract."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from core.models import ApiToken


def test_login_sets_a_session_that_authenticates_later_calls(client, people):
    response = client.post("/auth/login", json={"email": "REP@example.com", "password": "rep-password"})
    assert response.status_code == 200 and response.get_json()["email"] == "rep@example.com"
    assert client.get("/api/v1/customers").status_code == 200
    assert client.get("/auth/me").get_json()["role"] == "rep"


def test_wrong_password_and_unknown_email_get_the_same_401(client, people):
    wrong = client.post("/auth/login", json={"email": "rep@example.com", "password": "nope-nope"})
    unknown = client.post("/auth/login", json={"email": "ghost@example.com", "password": "nope-nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_json()["message"] == unknown.get_json()["message"]
    assert client.get("/api/v1/customers").status_code == 401


def test_the_first_sign_in_makes_the_dummy_hash_whether_or_not_the_email_is_known(client, people, monkeypatch):
    # made by the first sign-in, not at start-up: it must then cost the same for a known email, or the
    # first attempt would tell which emails exist
    from core.services import users

    monkeypatch.setattr(users, "_DUMMY_HASH", {})
    assert client.post("/auth/login", json={"email": "rep@example.com", "password": "wrong"}).status_code == 401
    assert len(users._DUMMY_HASH) == 1
    monkeypatch.setattr(users, "_DUMMY_HASH", {})
    assert client.post("/auth/login", json={"email": "nobody@example.com", "password": "x"}).status_code == 401
    assert len(users._DUMMY_HASH) == 1


def test_login_with_missing_fields_is_422(client, people):
    response = client.post("/auth/login", json={"email": "rep@example.com"})
    assert response.status_code == 422 and "password" in response.get_json()["errors"]["json"]


def test_logout_ends_the_session(client, people):
    client.post("/auth/login", json={"email": "rep@example.com", "password": "rep-password"})
    assert client.post("/auth/logout").status_code == 204
    assert client.get("/api/v1/customers").status_code == 401


def test_bearer_token_authenticates(client, tokens):
    response = client.get("/auth/me", headers={"Authorization": f"Bearer {tokens['manager']}"})
    assert response.status_code == 200 and response.get_json()["role"] == "manager"


def test_bearer_header_wins_over_a_session_cookie(client, tokens, people):
    client.post("/auth/login", json={"email": "rep@example.com", "password": "rep-password"})
    as_admin = client.get("/auth/me", headers={"Authorization": f"Bearer {tokens['admin']}"})
    assert as_admin.get_json()["role"] == "admin"
    bad = client.get("/api/v1/customers", headers={"Authorization": "Bearer trl_wrong"})
    assert bad.status_code == 401  # a wrong token is not rescued by the valid cookie


def test_tokens_are_stored_hashed(runtime, tokens):
    with runtime.database.unit_of_work() as s:
        stored = [row.token_hash for row in s.scalars(select(ApiToken))]
    assert stored and not any(plain in stored for plain in tokens.values())
    assert all(len(h) == 64 for h in stored)


def test_revoked_token_no_longer_works(client, runtime, tokens, people):
    from core.services import users

    with runtime.database.unit_of_work() as s:
        row = s.scalars(select(ApiToken).where(ApiToken.user_id == people.rep.id)).one()
        users.revoke_token(people.rep, row.id)
    assert client.get("/auth/me", headers={"Authorization": f"Bearer {tokens['rep']}"}).status_code == 401


def test_openapi_document_needs_login_and_describes_the_api(client, tokens):
    assert client.get("/api/v1/openapi.json").status_code == 401
    spec = client.get("/api/v1/openapi.json", headers={"Authorization": f"Bearer {tokens['rep']}"}).get_json()
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/customers/{record_id}" in spec["paths"]
    body = spec["paths"]["/api/v1/customers"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["$ref"].endswith("CustomerCreate")


def test_browser_opening_the_docs_is_sent_to_the_login_form(client):
    response = client.get("/api/v1/docs", headers={"Accept": "text/html"})
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]
    assert client.get("/auth/login").status_code == 200


def csrf_token(client, path="/auth/login") -> str:
    """The CSRF token the sign-in form carries ("" when the form has none)."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True))
    return match.group(1) if match else ""


def form_login(client, next_page=None, *, email="rep@example.com", password="rep-password", token=None):
    query = "" if next_page is None else "?next=" + next_page
    data = {"email": email, "password": password,
            "csrf_token": csrf_token(client) if token is None else token}
    return client.post("/auth/login" + query, data=data)


def test_login_form_signs_in_and_redirects_only_to_local_pages(client, people):
    response = form_login(client, "//evil.example.com")
    assert response.status_code == 302 and response.headers["Location"] == "/api/v1/docs"
    assert client.get("/auth/me").get_json()["email"] == "rep@example.com"


@pytest.mark.parametrize("next_page", [
    "/%09/evil.example/phish",      # a tab, dropped by browsers: //evil.example/phish
    "/%0a/evil.example", "/%0d/x",  # newlines (a CR in the Location header was a 500)
    "/%5Cevil.example", "/%5C%5Cevil.example",  # backslashes, read as slashes
    "//evil.example", "https://evil.example/", "javascript:alert(1)", "evil.example",
    "/%E3%80%80/evil.example",      # an ideographic space
])
def test_login_form_never_redirects_off_site(client, people, next_page):
    response = form_login(client, next_page)
    assert response.status_code == 302
    assert response.headers["Location"] == "/api/v1/docs"


def test_a_nul_in_next_is_refused_before_sign_in(client, people):
    """A NUL is refused with every other query parameter that holds one (api.input): a 422 naming
    ``next``, no redirect and no session."""
    response = form_login(client, "/%00/x")
    assert response.status_code == 422
    assert "next" in response.get_json()["errors"]["query"]
    assert "Location" not in response.headers
    assert client.get("/auth/me").status_code == 401


def test_login_form_keeps_a_local_next_page(client, people):
    response = form_login(client, "/graphql%3Fq%3D1")
    assert response.status_code == 302 and response.headers["Location"] == "/graphql?q=1"


def test_form_login_needs_the_forms_csrf_token(client, app, people):
    missing = form_login(client, token="")
    assert missing.status_code == 400 and "expired" in missing.get_data(as_text=True)
    assert client.get("/auth/me").status_code == 401
    other = app.test_client()
    foreign = form_login(client, token=csrf_token(other))  # a token from another browser's session
    assert foreign.status_code == 400
    assert client.get("/auth/me").status_code == 401
    assert form_login(client).status_code == 302
    assert client.get("/auth/me").status_code == 200


def test_json_login_needs_no_csrf_token(client, people):
    assert client.post("/auth/login", json={"email": "rep@example.com", "password": "rep-password"}).status_code == 200


def test_cross_site_form_posts_cannot_ride_the_session_cookie(client, people):
    """A cross-site page can only send form or text/plain bodies without a CORS preflight; both transports
    accept JSON only, so a session cookie cannot be used to write from another site (with SameSite=Lax)."""
    client.post("/auth/login", json={"email": "rep@example.com", "password": "rep-password"})
    assert client.post("/api/v1/customers", data={"name": "x"}).status_code == 415
    assert client.post("/graphql", data={"query": 'mutation { createCustomer(input: {name: "x"}) { id } }'}).status_code == 400
    text = client.post("/graphql", data='{"query": "{ me { email } }"}', headers={"Content-Type": "text/plain"})
    assert text.status_code == 400
    assert client.get("/api/v1/customers").get_json() == []


def _sample_url(app, rule) -> str | None:
    """A URL of ``rule`` with made-up arguments (a new UUID, 1, the first choice of an ``any``)."""
    import uuid

    from flask import url_for

    values = {}
    for arg in rule.arguments:
        converter = rule._converters.get(arg)
        kind = type(converter).__name__
        values[arg] = uuid.uuid4() if "UUID" in kind else 1 if "Integer" in kind else \
            sorted(converter.items)[0] if hasattr(converter, "items") else "x"
    with app.test_request_context():
        try:
            return url_for(rule.endpoint, **values)
        except Exception:   # a converter this helper cannot fill
            return None


def test_every_endpoint_but_the_declared_public_ones_answers_a_stranger_401(app, client):
    """Every route of every enabled component, every method, without credentials: 401, except the
    endpoints declared public (api/auth.py's PUBLIC_ENDPOINTS, the plugins' ``trellis_public_endpoints``)
    and ``POST /graphql`` (UNAUTHENTICATED in GraphQL's own answer, HTTP 200). ``/metrics`` is public
    in this sense: it has its own check (a token or an allowed address), never a user's."""
    from api.auth import PUBLIC_ENDPOINTS

    public = set(PUBLIC_ENDPOINTS) | set(app.config["TRELLIS_PUBLIC_ENDPOINTS"])
    assert "metrics" in public and "metrics" in {rule.endpoint for rule in app.url_map.iter_rules()}
    open_, checked = [], 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint in public:
            continue
        url = _sample_url(app, rule)
        if url is None:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method, json=None if method == "GET" else {})
            checked += 1
            if response.status_code != 401 and (rule.rule, method) != ("/graphql", "POST"):
                open_.append(f"{method} {rule.rule} ({rule.endpoint}): {response.status_code}")
    assert checked > 100 and open_ == []
    # and /metrics answers a stranger from outside with 403 (test_prometheus.py: the rest of its check)
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "198.51.100.4"}).status_code == 403
