"""/graphql over HTTP: GraphiQL for a signed-in browser, the login form for anyone else."""
from __future__ import annotations


def test_browser_gets_graphiql_when_signed_in(api):
    response = api.as_("rep").get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200 and b"graphiql" in response.data.lower()


def test_browser_without_a_session_is_sent_to_the_login_form(client):
    response = client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_a_session_cookie_works_as_well_as_a_token(client, people):
    assert client.post("/auth/login", json={"email": "rep@example.com", "password": "rep-password"}).status_code == 200
    body = client.post("/graphql", json={"query": "{ me { email } }"}).get_json()
    assert body == {"data": {"me": {"email": "rep@example.com"}}}


def test_mutations_are_refused_over_get(api):
    response = api.as_("rep").get("/graphql", query_string={"query": 'mutation { deleteCustomer(id: "x") { id } }'})
    assert response.status_code == 400, response.get_data(as_text=True)
    assert "mutation" in response.get_data(as_text=True).lower()
