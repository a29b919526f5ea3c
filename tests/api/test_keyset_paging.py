"""Keyset paging (core.services.paging) over both transports: walking a list forward or backward while
other requests insert and delete records returns every record that existed throughout exactly once; the
page info is right in both directions; a cursor from another list or ordering is refused naming the
argument. Run on SQLite and PostgreSQL (TRELLIS_TEST_DATABASE_URL)."""
from __future__ import annotations

import base64
import itertools
import json

import pytest

from tests.api.graphql.helpers import error, ok, rest_contact, rest_customer

PAGE = """query($first: Int, $after: String, $last: Int, $before: String, $orderBy: [CustomerOrder!]) {
    customers(first: $first, after: $after, last: $last, before: $before, orderBy: $orderBy) {
        totalCount edges { cursor node { id name } }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }"""

INDUSTRIES = ["textiles", None, "retail", None, "software"]   # NULLs sort as the largest value
ORDERINGS = ["name", "-createdAt", "industry,-name", "-industry,createdAt"]


def order(ordering: str) -> list[dict]:
    """``"industry,-name"`` → ``[{field: INDUSTRY}, {field: NAME, direction: DESC}]`` (a CustomerOrder list)."""
    out = []
    for part in ordering.split(","):
        key = "".join("_" + c if c.isupper() else c for c in part.lstrip("-")).upper()
        out.append({"field": key, **({"direction": "DESC"} if part.startswith("-") else {})})
    return out
_names = itertools.count()


def seed(api, n: int) -> list[str]:
    """``n`` customers, some sharing a name (the id breaks the tie), some without an industry."""
    ids = []
    for i in range(n):
        number = next(_names)
        body = rest_customer(api, who="admin", name=f"Customer {number % 7:02d}",
                             **({"industry": INDUSTRIES[number % 5]} if INDUSTRIES[number % 5] else {}))
        ids.append(body["id"])
    return ids


def delete(api, record_id: str) -> None:
    assert api.as_("admin").delete(f"/api/v1/customers/{record_id}").status_code == 204


def churn(api, seen: list[str], deleted: set[str], step: int) -> set[str]:
    """Between two page fetches: insert two customers (sorting anywhere) and pick one already seen to
    delete; returns the ids to delete."""
    seed(api, 2)
    left = [i for i in seen if i not in deleted]
    return {left[step % len(left)]} if left else set()


def graphql_walk(api, ordering: str, backward: bool, volatile: list[str]) -> tuple[list[str], set[str]]:
    """Every page of ``customers(orderBy: ordering)`` 4 at a time, churning between fetches. Returns the
    ids in the order read (list order) and the ids deleted on the way."""
    seen: list[str] = []
    deleted: set[str] = set()
    cursor = None
    for step in range(100):
        variables = {"orderBy": order(ordering), ("last" if backward else "first"): 4,
                     ("before" if backward else "after"): cursor}
        page = ok(api.as_("admin").graphql(PAGE, variables))["customers"]
        ids = [edge["node"]["id"] for edge in page["edges"]]
        seen = ids + seen if backward else seen + ids
        info = page["pageInfo"]
        if not (info["hasPreviousPage"] if backward else info["hasNextPage"]):
            return seen, deleted
        cursor = info["startCursor"] if backward else info["endCursor"]
        for record_id in churn(api, seen, deleted, step):
            delete(api, record_id)
            deleted.add(record_id)
        if volatile:   # one record maybe not read yet goes too
            record_id = volatile.pop()
            if record_id not in deleted:
                delete(api, record_id)
                deleted.add(record_id)
    raise AssertionError("the walk did not end")


@pytest.mark.parametrize("backward", [False, True], ids=["forward", "backward"])
@pytest.mark.parametrize("ordering", ORDERINGS)
def test_graphql_walk_with_inserts_and_deletes_returns_every_record_exactly_once(api, ordering, backward):
    stable = seed(api, 17)
    volatile = seed(api, 5)
    seen, deleted = graphql_walk(api, ordering, backward, list(volatile))

    assert len(seen) == len(set(seen)), "a record came twice"
    assert set(stable) - deleted <= set(seen), "a record that existed throughout was skipped"
    # the pages join up in list order: what was read equals the list as it stands, less what went since
    final = [e["node"]["id"] for e in ok(api.as_("admin").graphql(
        PAGE, {"orderBy": order(ordering), "first": 100}))["customers"]["edges"]]
    assert [i for i in seen if i in final] == [i for i in final if i in seen]


def test_graphql_page_info_in_both_directions(api):
    seed(api, 5)
    query = lambda **v: ok(api.as_("admin").graphql(PAGE, {"orderBy": order("name"), **v}))["customers"]  # noqa: E731
    everything = query(first=5)
    cursors = [e["cursor"] for e in everything["edges"]]
    flags = lambda page: (page["pageInfo"]["hasPreviousPage"], page["pageInfo"]["hasNextPage"])  # noqa: E731
    ids = lambda page: [e["node"]["id"] for e in page["edges"]]  # noqa: E731
    all_ids = ids(everything)

    assert flags(everything) == (False, False) and everything["totalCount"] == 5
    first = query(first=2)
    assert ids(first) == all_ids[:2] and flags(first) == (False, True)
    assert first["pageInfo"]["startCursor"] == cursors[0] and first["pageInfo"]["endCursor"] == cursors[1]
    middle = query(first=2, after=cursors[1])
    assert ids(middle) == all_ids[2:4] and flags(middle) == (True, True)
    end = query(first=2, after=cursors[3])
    assert ids(end) == all_ids[4:] and flags(end) == (True, False)
    assert query(first=2, after=cursors[4])["edges"] == [] and flags(query(first=2, after=cursors[4])) == (True, False)

    last = query(last=2)
    assert ids(last) == all_ids[3:] and flags(last) == (True, False)
    back = query(last=2, before=cursors[3])
    assert ids(back) == all_ids[1:3] and flags(back) == (True, True)
    start = query(last=2, before=cursors[1])
    assert ids(start) == all_ids[:1] and flags(start) == (False, True)
    # both bounds: the rows between them
    between = query(first=10, after=cursors[0], before=cursors[4])
    assert ids(between) == all_ids[1:4] and flags(between) == (True, True)
    assert query(last=10)["totalCount"] == 5


def test_graphql_page_info_after_the_cursor_row_was_deleted(api):
    ids = seed(api, 3)
    page = ok(api.as_("admin").graphql(PAGE, {"orderBy": order("-createdAt"), "first": 1}))["customers"]
    delete(api, page["edges"][0]["node"]["id"])
    nxt = ok(api.as_("admin").graphql(PAGE, {"orderBy": order("-createdAt"), "first": 5,
                                              "after": page["pageInfo"]["endCursor"]}))["customers"]
    assert [e["node"]["id"] for e in nxt["edges"]] == [ids[1], ids[0]]
    assert nxt["pageInfo"]["hasPreviousPage"] is False   # nothing is left before it


@pytest.mark.parametrize("direction", ["", "-"], ids=["asc", "desc"])
def test_graphql_sorted_by_a_nullable_field_alone_puts_the_blanks_at_the_large_end_and_pages_through_them(
        api, direction):
    """``orderBy: [INDUSTRY]`` alone (the id only breaks ties): customers without an industry come last
    ascending and first descending, and paging one at a time past them reads every customer once."""
    ids = seed(api, 5)   # textiles, none, retail, none, software (the sequence shifts with the counter)
    industries = {row["id"]: row.get("industry") for row in api.as_("admin").get(
        "/api/v1/customers?page_size=100").get_json()}
    whole = ok(api.as_("admin").graphql(PAGE, {"orderBy": order(f"{direction}industry"), "first": 100}))["customers"]
    listed = [industries[e["node"]["id"]] for e in whole["edges"]]
    blanks = [None] * listed.count(None)
    assert blanks and listed == (sorted(filter(None, listed)) + blanks if not direction
                                 else blanks + sorted(filter(None, listed), reverse=True))
    walked, cursor = [], None
    for _ in range(len(ids) + 1):
        page = ok(api.as_("admin").graphql(PAGE, {"orderBy": order(f"{direction}industry"), "first": 1,
                                                  "after": cursor}))["customers"]
        walked += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        cursor = page["pageInfo"]["endCursor"]
    assert walked == [e["node"]["id"] for e in whole["edges"]]


def test_graphql_a_list_read_without_first_or_last_gives_twenty_rows_and_says_there_are_more(api):
    seed(api, 21)
    page = ok(api.as_("admin").graphql(PAGE, {"orderBy": order("name")}))["customers"]
    assert len(page["edges"]) == 20 and page["totalCount"] == 21
    assert page["pageInfo"]["hasNextPage"] is True
    rest = ok(api.as_("admin").graphql(PAGE, {"orderBy": order("name"), "after": page["pageInfo"]["endCursor"]}))
    assert len(rest["customers"]["edges"]) == 1 and rest["customers"]["pageInfo"]["hasNextPage"] is False


def bad_input(body: dict) -> dict:
    return error(body, "BAD_USER_INPUT")["extensions"]["fields"]


def test_graphql_bad_or_foreign_cursors_and_counts_are_named(api):
    customer = rest_customer(api, who="admin")
    rest_contact(api, customer["id"], who="admin")
    by_name = ok(api.as_("admin").graphql(PAGE, {"orderBy": order("name"), "first": 1}))["customers"]["pageInfo"]
    cursor = by_name["endCursor"]

    for argument, count in (("after", "first"), ("before", "last")):
        fields = bad_input(api.as_("admin").graphql(PAGE, {"orderBy": order("-createdAt"), count: 1, argument: cursor}))
        assert list(fields) == [argument] and "ordering" in fields[argument][0]
        assert list(bad_input(api.as_("admin").graphql(PAGE, {count: 1, argument: "not a cursor"}))) == [argument]
    # a contact's cursor is not a customer's
    contact_cursor = ok(api.as_("admin").graphql("{ contacts(first: 1) { pageInfo { endCursor } } }")
                        )["contacts"]["pageInfo"]["endCursor"]
    assert list(bad_input(api.as_("admin").graphql(PAGE, {"first": 1, "after": contact_cursor}))) == ["after"]
    # a forged cursor of the right shape with a value of the wrong type
    raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw[2][-1] = {"u": "not-a-uuid"}
    forged = base64.urlsafe_b64encode(json.dumps(raw).encode()).decode()
    assert list(bad_input(api.as_("admin").graphql(PAGE, {"orderBy": order("name"), "first": 1, "after": forged}))) == ["after"]

    assert list(bad_input(api.as_("admin").graphql(PAGE, {"first": 1, "last": 1}))) == ["last"]
    assert list(bad_input(api.as_("admin").graphql(PAGE, {"first": 101}))) == ["first"]
    assert list(bad_input(api.as_("admin").graphql(PAGE, {"last": 0}))) == ["last"]
    nested = api.as_("admin").graphql('{ customers { edges { node { contacts(after: "x") { totalCount } } } } }')
    assert list(bad_input(nested)) == ["after"]


def test_graphql_nested_contacts_page_both_ways(api):
    customer = rest_customer(api, who="admin")
    for name in ("Ann", "Bob", "Cid", "Dan", "Eve"):
        rest_contact(api, customer["id"], who="admin", name=name)   # Ann is the primary contact
    query = """query($id: ID!, $first: Int, $after: String, $last: Int, $before: String) { customer(id: $id) {
        contacts(first: $first, after: $after, last: $last, before: $before) { totalCount
            edges { node { name } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }"""
    page = lambda **v: ok(api.as_("admin").graphql(query, {"id": customer["id"], **v}))["customer"]["contacts"]  # noqa: E731
    names = lambda p: [e["node"]["name"] for e in p["edges"]]  # noqa: E731

    first = page(first=2)
    assert names(first) == ["Ann", "Bob"] and first["totalCount"] == 5
    assert (first["pageInfo"]["hasPreviousPage"], first["pageInfo"]["hasNextPage"]) == (False, True)
    second = page(first=2, after=first["pageInfo"]["endCursor"])
    assert names(second) == ["Cid", "Dan"]
    assert (second["pageInfo"]["hasPreviousPage"], second["pageInfo"]["hasNextPage"]) == (True, True)
    last = page(last=2)
    assert names(last) == ["Dan", "Eve"]
    assert (last["pageInfo"]["hasPreviousPage"], last["pageInfo"]["hasNextPage"]) == (True, False)
    before = page(last=2, before=last["pageInfo"]["startCursor"])
    assert names(before) == ["Bob", "Cid"]
    assert (before["pageInfo"]["hasPreviousPage"], before["pageInfo"]["hasNextPage"]) == (True, True)


# --- REST: ?after= / ?before= on the lists of the shared crud helper ---------------------------------

def rest_walk(api, sort: str, backward: bool, volatile: list[str]) -> tuple[list[str], set[str]]:
    """Every page of /api/v1/customers?sort=… 4 at a time by cursor (following the Link header), churning
    between fetches."""
    seen: list[str] = []
    deleted: set[str] = set()
    url = f"/api/v1/customers?page_size=4&sort={sort}"
    if backward:   # start from the end: the last page by number, then its previous_cursor
        total = json.loads(api.as_("admin").get(url).headers["X-Pagination"])["total"]
        url += f"&page={(total - 1) // 4 + 1}"
    for step in range(100):
        response = api.as_("admin").get(url)
        assert response.status_code == 200, response.get_json()
        ids = [row["id"] for row in response.get_json()]
        seen = ids + seen if backward else seen + ids
        links = links_of(response)
        rel = "prev" if backward else "next"
        if rel not in links:
            meta = json.loads(response.headers["X-Pagination"])
            assert ("previous_cursor" if backward else "next_cursor") not in meta
            return seen, deleted
        url = links[rel].replace("http://localhost", "")
        for record_id in churn(api, seen, deleted, step):
            delete(api, record_id)
            deleted.add(record_id)
        if volatile:
            record_id = volatile.pop()
            if record_id not in deleted:
                delete(api, record_id)
                deleted.add(record_id)
    raise AssertionError("the walk did not end")


def links_of(response) -> dict[str, str]:
    """RFC 8288 Link header → {rel: url}."""
    out = {}
    for part in filter(None, (response.headers.get("Link") or "").split(", ")):
        url, rel = part.split("; ")
        out[rel.removeprefix('rel="').removesuffix('"')] = url.strip("<>")
    return out


@pytest.mark.parametrize("backward", [False, True], ids=["forward", "backward"])
@pytest.mark.parametrize("sort", ["name", "industry,-name", "-created_at"])
def test_rest_walk_by_cursor_with_inserts_and_deletes_returns_every_record_exactly_once(api, sort, backward):
    stable = seed(api, 17)
    volatile = seed(api, 5)
    seen, deleted = rest_walk(api, sort, backward, list(volatile))

    assert len(seen) == len(set(seen)), "a record came twice"
    assert set(stable) - deleted <= set(seen), "a record that existed throughout was skipped"


def test_rest_cursor_metadata_links_and_page_numbers_side_by_side(api):
    ids = seed(api, 5)
    by_page = api.as_("admin").get("/api/v1/customers?page_size=2&sort=created_at")
    meta = json.loads(by_page.headers["X-Pagination"])
    assert meta["page"] == 1 and meta["next_page"] == 2 and "previous_cursor" not in meta
    assert [row["id"] for row in by_page.get_json()] == ids[:2]
    assert set(links_of(by_page)) == {"next"}
    assert links_of(by_page)["next"].endswith(f"after={meta['next_cursor']}")

    middle = api.as_("admin").get(f"/api/v1/customers?page_size=2&sort=created_at&after={meta['next_cursor']}")
    assert [row["id"] for row in middle.get_json()] == ids[2:4]
    meta = json.loads(middle.headers["X-Pagination"])
    assert set(meta) == {"total", "page_size", "next_cursor", "previous_cursor"} and meta["total"] == 5
    assert set(links_of(middle)) == {"next", "prev"}
    back = api.as_("admin").get(f"/api/v1/customers?page_size=2&sort=created_at&before={meta['previous_cursor']}")
    assert [row["id"] for row in back.get_json()] == ids[:2]
    assert "previous_cursor" not in json.loads(back.headers["X-Pagination"])


def test_rest_bad_or_foreign_cursors_are_named(api):
    seed(api, 3)
    cursor = json.loads(api.as_("admin").get("/api/v1/customers?page_size=1&sort=name")
                        .headers["X-Pagination"])["next_cursor"]

    def refused(url: str) -> list[str]:
        response = api.as_("admin").get(url)
        assert response.status_code == 422, response.get_json()
        return list(response.get_json()["errors"]["json"])

    assert refused(f"/api/v1/customers?sort=-name&after={cursor}") == ["after"]
    assert refused(f"/api/v1/customers?sort=-name&before={cursor}") == ["before"]
    assert refused(f"/api/v1/contacts?after={cursor}") == ["after"]          # another list's cursor
    assert refused("/api/v1/customers?after=garbage") == ["after"]
    assert refused(f"/api/v1/customers?sort=name&page=2&after={cursor}") == ["page"]
    assert refused(f"/api/v1/customers?sort=name&after={cursor}&before={cursor}") == ["before"]


def test_rest_openapi_documents_the_cursor_arguments_and_link_header(api):
    spec = api.as_("admin").get("/api/v1/openapi.json").get_json()
    listing = spec["paths"]["/api/v1/customers"]["get"]
    params = {p["name"]: p for p in listing["parameters"]}
    assert "cursor" in params["after"]["description"] and "cursor" in params["before"]["description"]
    assert "Link" in listing["responses"]["200"]["headers"]


# --- REST: every other list takes the same cursors (api.rest.crud.list_query / served) ---------------

def walk_both_ways(client, url: str) -> list[str]:
    """The ids of ``url`` (a list with ``page_size`` in it) read three ways: by page numbers, forward by
    the Link rel="next" cursors from the first page, backward by rel="prev" from the last page. All three
    must agree, row for row."""
    def ids_of(response) -> list[str]:
        assert response.status_code == 200, response.get_json()
        return [row["id"] for row in response.get_json()]

    first = client.get(url)
    meta = json.loads(first.headers["X-Pagination"])
    by_number = []
    for number in range(1, meta["total_pages"] + 1):
        by_number += ids_of(client.get(f"{url}&page={number}"))

    forward, response = ids_of(first), first
    while "next" in links_of(response):
        response = client.get(links_of(response)["next"].replace("http://localhost", ""))
        forward += ids_of(response)

    response = client.get(f"{url}&page={meta['total_pages']}")
    backward = ids_of(response)
    while "prev" in links_of(response):
        response = client.get(links_of(response)["prev"].replace("http://localhost", ""))
        backward = ids_of(response) + backward

    assert forward == by_number and backward == by_number
    assert len(set(by_number)) == meta["total"] == len(by_number)
    return by_number


def test_lists_outside_the_crud_helper_walk_by_cursor_both_ways(api, people):
    admin = api.as_("admin")
    customer = rest_customer(api, name="Cursor walker")
    for n in range(5):
        response = admin.post("/api/v1/interactions", json={
            "customer_id": customer["id"], "kind": "call", "subject": f"call {n}", "status": "done",
            "occurred_at": f"2026-11-0{n + 1}T10:00:00Z"})
        assert response.status_code == 201, response.get_json()

    timeline = walk_both_ways(admin, f"/api/v1/customers/{customer['id']}/timeline?page_size=2")
    assert len(timeline) == 5
    assert len(walk_both_ways(admin, "/api/v1/users?page_size=2")) >= 6
    audit = walk_both_ways(admin, f"/api/v1/audit?page_size=2&record_id={customer['id']}")
    assert len(audit) >= 1
    assert len(walk_both_ways(admin, "/api/v1/audit?page_size=3")) >= 6


def test_every_paginated_rest_list_documents_cursors_and_the_link_header(api):
    spec = api.as_("admin").get("/api/v1/openapi.json").get_json()
    lists = {(path, "get") for path, ops in spec["paths"].items()
             if any(p["name"] == "page" for p in ops.get("get", {}).get("parameters", []))}
    assert len(lists) >= 30      # the core's and every built-in plugin's
    undocumented = sorted(
        path for path, _ in lists
        if not {"after", "before"} <= {p["name"] for p in spec["paths"][path]["get"]["parameters"]}
        or "Link" not in spec["paths"][path]["get"]["responses"]["200"].get("headers", {}))
    assert undocumented == []
