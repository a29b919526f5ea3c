"""A browser elsewhere can reach the API (CORS for listed origins), and GraphiQL and Swagger UI work with
no internet access: every script and style they load is served by Trellis itself."""
from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest

from api.app import create_app
from api.testing import app_config

VITE = "http://localhost:5173"
#: what Chromium sends when the address bar opens a page
CHROMIUM_ACCEPT = ("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,"
                   "*/*;q=0.8,application/signed-exchange;v=b3;q=0.7")
PAGES = ["/api/v1/docs", "/graphql"]


@pytest.fixture(scope="module")
def cors_app(engine, database_url):
    app = create_app(app_config(database_url, PLUGINS="exhibitions",
                                CORS_ORIGINS=f"{VITE}, https://crm.example.com"))
    yield app
    app.extensions["trellis"].database.dispose()


def _preflight(client, path, origin, method="POST"):
    return client.options(path, headers={"Origin": origin, "Access-Control-Request-Method": method,
                                         "Access-Control-Request-Headers": "content-type, authorization"})


@pytest.mark.parametrize("path", ["/api/v1/customers", "/graphql", "/auth/login"])
def test_a_preflight_from_a_listed_origin_is_allowed_with_credentials(cors_app, path):
    response = _preflight(cors_app.test_client(), path, VITE)
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == VITE
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    allowed = {h.strip().lower() for h in response.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"content-type", "authorization"} <= allowed
    assert "Origin" in response.headers.get("Vary", "")


def test_a_listed_origin_reads_answers_and_the_pagination_header(cors_app):
    client = cors_app.test_client()
    response = client.get("/api/v1/customers", headers={"Origin": "https://crm.example.com"})
    assert response.status_code == 401  # the caller still has to sign in; the browser may read why
    assert response.headers["Access-Control-Allow-Origin"] == "https://crm.example.com"
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert "X-Pagination" in response.headers["Access-Control-Expose-Headers"]


@pytest.mark.parametrize("origin", ["http://localhost:5174", "https://evil.example", "null"])
def test_an_unlisted_origin_gets_no_cors_headers(cors_app, origin):
    client = cors_app.test_client()
    for response in (_preflight(client, "/api/v1/customers", origin),
                     client.get("/api/v1/customers", headers={"Origin": origin})):
        assert not [h for h in response.headers.keys() if h.lower().startswith("access-control-")]


def test_without_configured_origins_no_origin_is_allowed(client):
    response = _preflight(client, "/api/v1/customers", VITE)
    assert response.status_code != 401
    assert "Access-Control-Allow-Origin" not in response.headers


@pytest.mark.parametrize("path", ["/api/v1/customers", "/graphql", "/api/v1/customers/00000000-0000-0000-0000-000000000000"])
def test_a_preflight_is_answered_before_authentication_and_runs_nothing(cors_app, path):
    response = _preflight(cors_app.test_client(), path, VITE, method="DELETE")
    assert response.status_code == 200
    assert response.data == b""


@pytest.mark.parametrize("value", ["*", "localhost:5173", "http://localhost:5173/app", "ftp://x.example"])
def test_a_cors_origin_that_is_not_an_origin_stops_the_start(database_url, value):
    with pytest.raises(ValueError, match="TRELLIS_CORS_ORIGINS"):
        create_app(app_config(database_url, PLUGINS="exhibitions", CORS_ORIGINS=value))


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("src", "href") and value and not value.startswith("data:"):
                self.urls.append((tag, value))


def _links(html: str) -> list[tuple[str, str]]:
    parser = _Links()
    parser.feed(html)
    return parser.urls


@pytest.mark.parametrize("path", PAGES)
def test_the_docs_pages_load_nothing_from_another_host(api, path):
    html = api.as_("rep").get(path, headers={"Accept": CHROMIUM_ACCEPT}).get_data(as_text=True)
    links = _links(html)
    assert [tag for tag, _ in links].count("script") >= 2  # the UI's code is there, from us
    for _tag, url in links:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc, url
    assert not re.search(r"https?://", re.sub(r"<script>.*?</script>", "", html, flags=re.S)), \
        "an absolute URL outside the inline script"
    assert "unpkg.com" not in html and "jsdelivr" not in html


@pytest.mark.parametrize("path", PAGES)
def test_the_docs_pages_assets_are_served_with_their_content_type(api, client, path):
    html = api.as_("rep").get(path, headers={"Accept": "text/html"}).get_data(as_text=True)
    assets = [url for _tag, url in _links(html)]
    assert any(u.endswith(".js") for u in assets) and any(u.endswith(".css") for u in assets)
    for url in assets:
        response = client.get(url)  # signed out: the assets are public, like the sign-in page
        assert response.status_code == 200, url
        expected = ("text/javascript", "application/javascript") if url.endswith(".js") else ("text/css",)
        assert response.mimetype in expected, (url, response.mimetype)
        assert len(response.data) > 100
        response.close()


@pytest.mark.parametrize("path", PAGES)
def test_a_signed_out_chromium_is_sent_to_sign_in_and_then_to_the_page(client, people, path):
    response = client.get(path, headers={"Accept": CHROMIUM_ACCEPT})
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/auth/login"
    assert parse_qs(location.query)["next"] == [path]
    login = client.get(response.headers["Location"])
    token = re.search(r'name="csrf_token" value="([^"]+)"', login.get_data(as_text=True)).group(1)
    signed_in = client.post(response.headers["Location"], data={
        "email": "rep@example.com", "password": "rep-password", "csrf_token": token})
    assert signed_in.status_code == 302 and signed_in.headers["Location"] == path
    page = client.get(path, headers={"Accept": CHROMIUM_ACCEPT})
    assert page.status_code == 200 and page.mimetype == "text/html"


@pytest.mark.parametrize("path", PAGES)
def test_programs_that_do_not_ask_for_html_still_get_401(client, path):
    for accept in ("application/json", "*/*", None):
        headers = {"Accept": accept} if accept else {}
        response = client.get(path, headers=headers)
        assert response.status_code == 401, accept
