"""GraphQL: one strawberry schema composed per app from the core and every enabled plugin.

``registry`` is what plugins' ``trellis_graphql_*`` hooks receive, ``loaders`` the per-request batch
loading their fields use, ``pagination`` the Relay-style connections, ``errors`` the error codes.
"""
from __future__ import annotations

from typing import Any


def schema_of(app: Any):
    """The strawberry schema of an app made by ``create_app``."""
    from api.graphql.view import EXTENSION_KEY

    return app.extensions[EXTENSION_KEY]


def sdl(app: Any) -> str:
    """The app's schema in SDL, as committed in ``schema.graphql`` (``trellis graphql-schema``)."""
    return schema_of(app).as_str().rstrip("\n") + "\n"
