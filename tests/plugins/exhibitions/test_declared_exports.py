"""Shows, editions and booths are declared records that import (RecordSpec.import_type through
trellis_import_types), so their lists export: the rows the list shows, with its filters, in the fields of
its REST output and each reference by the referenced record's external id too (none here: made in
Trellis, so the Trellis ids stay)."""
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
    assert all({k: v for k, v in row.items() if k != "exhibition_external_id"} == by_id[row["id"]]
               for row in rows)   # halls: a list of text as listed
    assert {r["exhibition_external_id"] for r in rows} == {None}

    booths = exported(api, "exhibitions.booths", f"edition_id={show.first['id']}")
    assert [b["id"] for b in booths] == [booth["id"]] and booths[0]["number"] == "A-01"
    assert booths[0]["price"] == booth["price"]
    assert (booths[0]["edition_external_id"], booths[0]["edition_id"], booths[0]["external_id"]) == \
        (None, show.first["id"], None)
    bad = api.get("/api/v1/exports/exhibitions.booths?colour=red")
    assert bad.status_code == 422 and "colour" in bad.get_json()["errors"]["json"]
    names = {t["name"] for t in ok(api.get("/api/v1/exports"))}
    assert {"exhibitions.shows", "exhibitions.editions", "exhibitions.booths"} <= names
