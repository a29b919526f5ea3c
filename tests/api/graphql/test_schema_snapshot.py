"""The committed ``schema.graphql`` is the schema an app with every built-in plugin serves (DESIGN §4):
front-end teams read it, and a change to it shows in review."""
from __future__ import annotations

import difflib
from pathlib import Path

from api.app import create_app
from api.graphql import sdl

SNAPSHOT = Path(__file__).resolve().parents[3] / "schema.graphql"


def test_schema_graphql_matches_the_served_schema():
    served = sdl(create_app({"DATABASE_URL": "sqlite://", "PLUGINS": "all"}))
    committed = SNAPSHOT.read_text(encoding="utf-8") if SNAPSHOT.exists() else ""
    if served != committed:
        diff = "".join(list(difflib.unified_diff(committed.splitlines(True), served.splitlines(True),
                                                 "schema.graphql (committed)", "served"))[:60])
        raise AssertionError("schema.graphql is out of date: run `trellis graphql-schema > schema.graphql` "
                             f"and commit it.\n{diff}")
