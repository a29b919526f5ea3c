"""Stores are a declared record (services.STORES): the code stays unique ignoring case with the answer it
always had, and a clash the pre-check cannot see (a concurrent insert) is a 409 naming the code rather
than the database's error."""
from __future__ import annotations

from tests.plugins.retail_membership.conftest import BASE


def codes(api):
    return sorted(s["code"] for s in api.get(f"{BASE}/stores?page_size=100").get_json())


def test_a_code_taken_ignoring_case_is_a_409_naming_code_and_writes_nothing(shop):
    response = shop.api.post(f"{BASE}/stores", json={"code": "n01", "name": "North Again"})
    assert response.status_code == 409, response.get_json()
    assert response.get_json()["errors"]["json"] == {"code": ["Already taken."]}
    renamed = shop.api.patch(f"{BASE}/stores/{shop.south['id']}", json={"code": "N01", "version": shop.south["version"]})
    assert renamed.status_code == 409 and renamed.get_json()["errors"]["json"] == {"code": ["Already taken."]}
    assert codes(shop.api) == ["N01", "S01"]


def test_a_clash_the_check_did_not_see_is_a_409_naming_code_not_a_500(shop, monkeypatch):
    from plugins.retail_membership import services

    # as if another request inserted N01 between this one's check and its insert
    monkeypatch.setitem(services.STORES.hooks, "before_create", lambda user, values: None)
    response = shop.api.post(f"{BASE}/stores", json={"code": "N01", "name": "North Twin"})
    assert response.status_code == 409, response.get_json()
    assert list(response.get_json()["errors"]["json"]) == ["code"]
    assert codes(shop.api) == ["N01", "S01"]
