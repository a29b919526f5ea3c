"""Fixtures for the exhibitions plugin: organiser staff, two exhibitors with their users, one show with
two editions, booths, and a few registered visitors — all built through the REST API."""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from api.testing import Api

BASE = "/api/v1/exhibitions"


def ok(response, status=200):
    assert response.status_code == status, (response.status_code, response.get_json())
    return response.get_json()


@dataclass
class Show:
    api: Api
    exhibition: dict
    first: dict
    second: dict
    companies: dict = field(default_factory=dict)
    participations: dict = field(default_factory=dict)
    visitors: dict = field(default_factory=dict)

    def as_(self, who):
        return self.api.as_(who)


@pytest.fixture
def ex_tokens(runtime, people, tokens):
    """Adds an organiser, two exhibitor users (alpha, beta) and a second organiser-less exhibitor user."""
    from core.services import users

    out = dict(tokens)
    made = {}
    with runtime.database.unit_of_work():
        for key, email, role in (("organiser", "org@example.com", "organiser"),
                                 ("alpha", "alpha@example.com", "exhibitor"),
                                 ("beta", "beta@example.com", "exhibitor"),
                                 ("loose", "loose@example.com", "exhibitor")):
            user = users.create_user(None, {"email": email, "name": key.title(), "role": role})
            made[key] = user
            out[key] = users.create_token(user, "test")[1]
    return out, made


@pytest.fixture
def show(client, ex_tokens) -> Show:
    tokens, made = ex_tokens
    api = Api(client, tokens).as_("organiser")
    exhibition = ok(api.post(f"{BASE}/exhibitions", json={"name": "China Machinery Fair", "industry": "machinery"}), 201)
    first = ok(api.post(f"{BASE}/editions", json={
        "exhibition_id": exhibition["id"], "name": "CMF 2025", "starts_on": "2025-05-10", "ends_on": "2025-05-12",
        "venue": "Shanghai NECC", "halls": ["1", "2"]}), 201)
    second = ok(api.post(f"{BASE}/editions", json={
        "exhibition_id": exhibition["id"], "name": "CMF 2026", "starts_on": "2026-05-10", "ends_on": "2026-05-12",
        "venue": "Shanghai NECC", "halls": ["1", "2"]}), 201)
    s = Show(api, exhibition, first, second)
    for key in ("alpha", "beta"):
        company = ok(api.post("/api/v1/customers", json={"name": f"{key.title()} Machines Ltd"}), 201)
        s.companies[key] = company
        ok(api.post(f"{BASE}/exhibitor-users", json={"user_id": str(made[key].id), "company_id": company["id"]}))
    return s


def participate(s: Show, key: str, edition: dict, status="paid", categories=("machinery",), is_key=False):
    p = ok(s.api.post(f"{BASE}/participations", json={"edition_id": edition["id"], "company_id": s.companies[key]["id"],
                                                      "categories": list(categories), "is_key": is_key}), 201)
    path = ["applied", "confirmed", "paid", "arrived", "attended"]
    for state in path[:path.index(status) + 1] if status in path else []:
        p = ok(s.api.post(f"{BASE}/participations/{p['id']}/status", json={"to": state}))
    return p


def register(s: Show, edition: dict, name: str, **extra):
    body = {"edition_id": edition["id"], "name": name, "job_title": "Buyer", "email": f"{name.lower().replace(' ', '.')}@buyer.example",
            "phone": "+86 21 5555 0000", "category": "buyer", "interests": ["machinery"], "purchase_intent": "high",
            **extra}
    return ok(s.api.post(f"{BASE}/registrations", json=body), 201)
