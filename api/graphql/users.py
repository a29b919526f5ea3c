"""GraphQL for users: the ``User`` type and ``me``."""
from typing import Optional

import strawberry

from core.services.permissions import require_actor


def types(registry) -> None:
    @registry.type("User")
    class User:
        """Someone who works with customers."""

        id: strawberry.ID
        email: str
        name: str
        role: str = strawberry.field(description="admin, manager, rep or a plugin's role (see labels(vocabulary: \"role\")).")
        team_id: Optional[strawberry.ID]
        locale: str


def query_fields(registry) -> dict:
    def me(info: strawberry.Info) -> Optional[registry.ref("User")]:
        return require_actor(info.context.user)

    return {"me": strawberry.field(resolver=me, description="The signed-in user.")}


def mutation_fields(registry) -> dict:
    return {}
