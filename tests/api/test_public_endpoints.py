"""Every endpoint requires a sign-in except the few the core opens (sign-in, health, the docs' assets)
and those plugins declare public through ``trellis_public_endpoints`` — pinned here, so opening one up is
a visible decision: a new public endpoint must be added to ``DECLARED`` below."""
from __future__ import annotations

import re

from api.auth import PUBLIC_ENDPOINTS as CORE_PUBLIC

#: endpoints plugins declare public (``trellis_public_endpoints``), by plugin
DECLARED = {
    "property_service": {
        # Open311 GeoReport v2, mounted at /open311/v2 (posting still needs its api_key)
        "property_service_open311.services_list", "property_service_open311.service_definition",
        "property_service_open311.post_request", "property_service_open311.list_requests",
        "property_service_open311.get_request", "property_service_open311.token",
        "property_service_open311.discovery", "property_service_open311.unknown",
        # the owner's one-time feedback link (its token is the secret)
        "property_service_feedback.show", "property_service_feedback.rate"},
    # visitors register themselves (rate-limited per address)
    "exhibitions": {"exhibitions_public.self_register"},
}


def _declared(app) -> set[str]:
    return set(app.config["TRELLIS_PUBLIC_ENDPOINTS"])


def test_the_public_endpoints_are_the_declared_ones(app):
    runtime = app.extensions["trellis"]
    hooked = {owner: set(endpoints) for owner, endpoints in runtime.plugins.call_each("trellis_public_endpoints")}
    assert hooked == DECLARED
    assert _declared(app) == set().union(*DECLARED.values())


def test_every_other_api_endpoint_answers_401_without_a_sign_in(app, client):
    public = _declared(app) | CORE_PUBLIC
    checked = 0
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.endpoint in public or rule.endpoint.startswith("api-docs."):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: "00000000-0000-4000-8000-000000000000"
                      if "uuid" in m.group(0) else "x", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(path, method=method, json={})
            assert response.status_code == 401, (method, rule.rule, response.status_code)
            checked += 1
    assert checked > 200


def test_a_declared_public_endpoint_answers_without_a_sign_in(app, client):
    # the visitors' own registration: no 401 (an unknown edition is a 404, a bad body a 422)
    response = client.post("/api/v1/exhibitions/editions/00000000-0000-4000-8000-000000000000/register",
                           json={"name": "A", "email": "a@example.com"})
    assert response.status_code == 404
