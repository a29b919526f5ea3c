"""The page at `/`: a person opening the address `trellis demo` prints learns where to go; an API client
gets an index of links. Every link answers (none is a 404)."""
from __future__ import annotations

import re

import pytest

HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}  # what a browser sends
JSON = {"Accept": "application/json"}


def _links(html: str) -> list[str]:
    return re.findall(r'href="([^"]+)"', html)


def test_a_browser_that_is_not_signed_in_gets_a_page_saying_where_to_go(api):
    response = api.as_(None).get("/", headers=HTML)
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "You are not signed in" in html
    links = _links(html)
    for path in ("/api/v1/docs", "/graphql", "/api/v1/labels", "/api/v1/openapi.json", "/healthz"):
        assert path in links
    assert any(link.startswith("/auth/login") for link in links)
    for name in ("exhibitions", "property_service", "retail_membership"):
        assert f"<code>{name}</code>" in html
    assert "Retail membership (零售会员): stores, member cards" in html  # what the plugin adds
    assert "Database: <span class=\"ok\">reachable</span>" in html
    assert "<script" not in html and "http://" not in html and "https://" not in html  # nothing from elsewhere


def test_the_page_says_who_is_signed_in(api, people):
    html = api.as_("rep").get("/", headers=HTML).get_data(as_text=True)
    assert f"Signed in as <strong>{people.rep.email}</strong>" in html and "not signed in" not in html


def test_the_pages_policy_allows_its_own_style_and_nothing_from_elsewhere(api):
    response = api.as_(None).get("/", headers=HTML)
    csp = {part.split()[0]: part.split()[1:] for part in response.headers["Content-Security-Policy"].split(";")}
    assert "'unsafe-inline'" not in csp["script-src"] and csp["default-src"] == ["'none'"]
    assert "'unsafe-inline'" in csp["style-src"]  # the page's one <style> element
    assert response.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("who", [None, "rep"])
def test_an_api_client_gets_an_index_of_links_that_answer(api, who):
    response = api.as_(who).get("/", headers=JSON)
    assert response.status_code == 200 and response.mimetype == "application/json"
    body = response.get_json()
    assert body["signed_in"] is (who is not None)
    assert {"openapi", "graphql", "auth", "healthz"} <= set(body["links"])
    for name, path in body["links"].items():
        followed = api.as_(who).get(path, headers=JSON if name != "graphql" else HTML)
        assert followed.status_code != 404, (name, path, followed.status_code)
        assert followed.status_code < 500, (name, path)


@pytest.mark.parametrize("who", [None, "rep"])
def test_every_link_on_the_page_answers(api, who):
    html = api.as_(who).get("/", headers=HTML).get_data(as_text=True)
    for path in _links(html):
        followed = api.as_(who).get(path, headers=HTML)
        assert followed.status_code != 404 and followed.status_code < 500, (path, followed.status_code)
