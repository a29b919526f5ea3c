"""A list's total counts at most ``TRELLIS_LIST_COUNT_LIMIT`` rows (issue #16, item 5): an exact COUNT
reads every row, so the first page of a million customers cost 0.2 s against 12 ms at ten thousand
(bench/million.py). Past the limit the total says the limit and ``total_capped`` says there are more."""
from __future__ import annotations

import dataclasses
import json

import pytest

from core.services import customers


@pytest.fixture
def limit_of_three(runtime, monkeypatch):
    monkeypatch.setattr(runtime, "settings", dataclasses.replace(runtime.settings, list_count_limit=3))


def make(runtime, people, n):
    with runtime.database.unit_of_work():
        for i in range(n):
            customers.create(people.rep, {"name": f"Customer {i:02d}"})


def pagination(response):
    assert response.status_code == 200, response.get_json()
    return json.loads(response.headers["X-Pagination"])


def test_a_list_longer_than_the_limit_says_the_limit_and_that_there_are_more(api, runtime, people, limit_of_three,
                                                                            count_queries):
    make(runtime, people, 5)
    with count_queries() as statements:
        meta = pagination(api.as_("rep").get("/api/v1/customers?page_size=2"))
    assert meta["total"] == 3 and meta["total_capped"] is True
    assert meta["next_cursor"]
    counts = [s for s in statements.statements if "count(" in s.lower()]
    assert counts and all(s.upper().count("LIMIT") >= 2 for s in counts), counts   # the count stops at the limit
    # by cursor, the list goes on past the counted rows
    rows, after = [], None
    while True:
        response = api.as_("rep").get("/api/v1/customers?page_size=2" + (f"&after={after}" if after else ""))
        rows += response.get_json()
        after = pagination(response).get("next_cursor")
        if not after:
            break
    assert [c["name"] for c in rows] == [f"Customer {i:02d}" for i in range(5)]
    # the last page by number still offers the cursor beyond it
    last = pagination(api.as_("rep").get("/api/v1/customers?page_size=3&page=1"))
    assert last["total"] == 3 and last["next_cursor"]


def test_a_page_by_number_past_the_counted_rows_still_leads_on(api, runtime, people, limit_of_three):
    make(runtime, people, 7)
    middle = api.as_("rep").get("/api/v1/customers?page_size=2&page=3")   # rows 5-6 of 7, past the 3 counted
    assert [c["name"] for c in middle.get_json()] == ["Customer 04", "Customer 05"]
    after = pagination(middle)["next_cursor"]
    last = api.as_("rep").get(f"/api/v1/customers?page_size=2&after={after}")
    assert [c["name"] for c in last.get_json()] == ["Customer 06"] and "next_cursor" not in pagination(last)
    end = api.as_("rep").get("/api/v1/customers?page_size=2&page=4")
    assert [c["name"] for c in end.get_json()] == ["Customer 06"] and "next_cursor" not in pagination(end)


def test_a_list_within_the_limit_has_its_exact_total_and_no_flag(api, runtime, people, limit_of_three):
    make(runtime, people, 3)
    meta = pagination(api.as_("rep").get("/api/v1/customers"))
    assert meta["total"] == 3 and "total_capped" not in meta


def test_graphql_says_when_total_count_is_capped(api, runtime, people, limit_of_three):
    make(runtime, people, 4)
    query = "{ customers(first: 2) { totalCount totalCountCapped edges { node { name } } } }"
    data = api.as_("rep").graphql(query)["data"]["customers"]
    assert data["totalCount"] == 3 and data["totalCountCapped"] is True
    nested = api.as_("rep").graphql("{ customers(first: 1) { edges { node { contacts { totalCount "
                                    "totalCountCapped } } } } }")
    assert nested["data"]["customers"]["edges"][0]["node"]["contacts"] == {"totalCount": 0, "totalCountCapped": False}


def test_zero_counts_every_row(api, runtime, people, monkeypatch):
    monkeypatch.setattr(runtime, "settings", dataclasses.replace(runtime.settings, list_count_limit=0))
    make(runtime, people, 4)
    meta = pagination(api.as_("rep").get("/api/v1/customers?page_size=1"))
    assert meta["total"] == 4 and "total_capped" not in meta


def test_the_setting_is_checked_at_start_up():
    from core.config import Settings

    assert any("TRELLIS_LIST_COUNT_LIMIT" in problem for problem in Settings(list_count_limit=-1).problems())
