"""Merging duplicate customers (issue #19) in the exhibitions: participations, exhibitor users,
registrations and invitations move to the survivor; two participations (or registrations) in one edition
refuse the merge, naming it, with nothing written."""
from __future__ import annotations

import uuid

from sqlalchemy import select

from plugins.exhibitions.models import ExhibitorParticipation, ExhibitorUser, VisitorRegistration
from tests.plugins.exhibitions.conftest import BASE, ok, participate, register


def merge(show, survivor_id, merged_id):
    return show.as_("admin").post(f"/api/v1/customers/{survivor_id}/merge", json={"merged_id": merged_id})


def test_the_duplicate_companys_participations_and_exhibitor_users_move(show, runtime):
    alpha, beta = show.companies["alpha"], show.companies["beta"]
    participate(show, "alpha", show.first)
    moved = participate(show, "beta", show.second)
    response = merge(show, alpha["id"], beta["id"])
    assert response.status_code == 200, response.get_json()
    assert ok(show.api.get(f"{BASE}/participations/{moved['id']}"))["company_id"] == alpha["id"]
    with runtime.database.unit_of_work() as s:
        assert set(s.scalars(select(ExhibitorUser.company_id))) == {uuid.UUID(alpha["id"])}
        assert set(s.scalars(select(ExhibitorParticipation.company_id))) == {uuid.UUID(alpha["id"])}


def test_two_participations_in_one_edition_refuse_the_merge_naming_it(show, runtime):
    alpha, beta = show.companies["alpha"], show.companies["beta"]
    participate(show, "alpha", show.first)
    participate(show, "beta", show.first)
    response = merge(show, alpha["id"], beta["id"])
    assert response.status_code == 409
    assert show.first["id"] in response.get_json()["errors"]["json"]["merged_id"][0]
    with runtime.database.unit_of_work() as s:
        assert len(set(s.scalars(select(ExhibitorUser.company_id)))) == 2
        assert len(set(s.scalars(select(ExhibitorParticipation.company_id)))) == 2
    assert ok(show.api.get(f"/api/v1/customers/{beta['id']}"))["merged_into_id"] is None


def test_a_visitors_registrations_move_to_the_survivor(show, runtime):
    first = register(show, show.first, "Li Lei", email="li.lei@buyer.example", phone="13800138000")
    second = register(show, show.second, "Lei Li", email="lei.li@other.example", phone="13900139000")
    assert first["visitor_id"] != second["visitor_id"]
    response = merge(show, first["visitor_id"], second["visitor_id"])
    assert response.status_code == 200, response.get_json()
    with runtime.database.unit_of_work() as s:
        assert set(s.scalars(select(VisitorRegistration.visitor_id))) == {uuid.UUID(first["visitor_id"])}


def test_two_registrations_in_one_edition_refuse_the_merge(show):
    first = register(show, show.first, "Li Lei", email="li.lei@buyer.example", phone="13800138000")
    twin = register(show, show.first, "Lei Li", email="lei.li@other.example", phone="13900139000")
    response = merge(show, first["visitor_id"], twin["visitor_id"])
    assert response.status_code == 409 and "registration" in response.get_json()["message"]
