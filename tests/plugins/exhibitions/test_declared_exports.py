"""Editions and booths are declared records, so their lists export (RecordSpec.list_export through
trellis_export_types): the rows the list shows, with its filters, in the fields of its REST output."""
from __future__ import annotations

import json

from .conftest import BASE, ok


def exported(api, name: str, query: str = "") -> list[dict]:
    response = api.get(f"/api/v1/exports/{name}?format=jsonl{'&' + query if query else ''}")
    assert response.status_code == 200, response.get_json()
    return [json.loads(line) for line in response.get_data(as_text=True).splitlines()]


def test_editions_and_booths_export_as_their_lists_show_them(show):
    api = show.api
    booth = ok(api.post(f"{BASE}/booths", json={"edition_id": show.first["id"], "number": "A-01", "hall": "1",
                                               "area": "18", "price": "12000"}), 201)
    ok(api.post(f"{BASE}/booths", json={"edition_id": show.second["id"], "number": "B-01", "hall": "2",
                                     "area": "9"}), 201)

    editions = ok(api.get(f"{BASE}/editions?exhibition_id={show.exhibition['id']}"))
    rows = exported(api, "exhibitions.editions", f"exhibition_id={show.exhibition['id']}")
    assert sorted(r["id"] for r in rows) == sorted(e["id"] for e in editions)
    by_id = {e["id"]: e for e in editions}
    assert all(row == {k: by_id[row["id"]][k] for k in row} for row in rows)   # halls: a list of text as listed

    booths = exported(api, "exhibitions.booths", f"edition_id={show.first['id']}")
    assert [b["id"] for b in booths] == [booth["id"]] and booths[0]["number"] == "A-01"
    assert booths[0]["price"] == booth["price"]
    bad = api.get("/api/v1/exports/exhibitions.booths?colour=red")
    assert bad.status_code == 422 and "colour" in bad.get_json()["errors"]["json"]
    names = {t["name"] for t in ok(api.get("/api/v1/exports"))}
    assert {"exhibitions.shows", "exhibitions.editions", "exhibitions.booths"} <= names
