"""GraphQL for users: the ``User`` type and ``me``; API tokens (yours; admins: everybody's)."""
import datetime as dt
from typing import Optional

import strawberry
from strawberry import UNSET

from api.graphql.inputs import field_names, input_to_dict
from api.graphql.nodes import NodeSource
from api.graphql.ordering import order_by_argument, order_to_service
from api.graphql.pagination import After, Before, First, Last, connection, page_request
from core import models
from core.services import people, users
from core.services.permissions import require_actor


def types(registry) -> None:
    Role, Locale = registry.vocabulary_enum("role"), registry.vocabulary_enum("locale")

    @registry.type("User", node=NodeSource(models.User, visible=people.visible_users))
    class User:
        """Someone who works with customers."""

        id: strawberry.ID
        email: str = strawberry.field(description="The sign-in email address, unique among users.")
        name: str = strawberry.field(description="The name shown to colleagues; may be empty.")
        role: Role = strawberry.field(description="What the user may do: admin, manager, rep or a plugin's role.")
        team_id: Optional[strawberry.ID] = strawberry.field(description="The id of the user's team (a manager sees its members' customers); null when in none.")
        locale: Locale = strawberry.field(description="The language Trellis speaks to the user in.")
        created_at: dt.datetime = strawberry.field(description="When the user was created (UTC, ISO 8601).")

    @registry.type("ApiToken", node=NodeSource(models.ApiToken, get=users.get_token))
    class ApiToken:
        """A bearer token for programs (`Authorization: Bearer <token>`). The token itself is shown only
        when it is created."""

        id: strawberry.ID
        user_id: strawberry.ID = strawberry.field(description="The id of the user the token acts as.")
        name: str = strawberry.field(description="A name to recognise the token by (what program uses it); may be empty.")
        prefix: str = strawberry.field(description="The token's first characters, to recognise it.")
        created_at: dt.datetime
        expires_at: Optional[dt.datetime] = strawberry.field(description="Null: the token works until revoked.")
        last_used_at: Optional[dt.datetime] = strawberry.field(description="Updated at most once a minute.")
        revoked_at: Optional[dt.datetime] = strawberry.field(description="When the token was revoked (UTC, ISO 8601); null while it works.")

    @registry.type("ApiTokenCreated")
    class ApiTokenCreated:
        """The new token's record and the token itself, shown this once."""

        api_token: registry.ref("ApiToken") = strawberry.field(description="The new token's record.")
        token: str = strawberry.field(description="The bearer token itself: store it now, Trellis keeps only its hash and never shows it again.")

    @registry.input("ApiTokenFilter")
    class ApiTokenFilter:
        """Which tokens to list."""

        user_id: Optional[strawberry.ID] = strawberry.field(default=UNSET, description=(
            "The tokens of this user (admins; others see their own)."))
        include_revoked: Optional[bool] = strawberry.field(default=UNSET, description="Revoked tokens too.")

    @registry.input("ApiTokenCreateInput")
    class ApiTokenCreateInput:
        name: Optional[str] = strawberry.field(default=UNSET, description="A name to recognise the token by (up to 120 characters).")
        expires_in_days: Optional[int] = strawberry.field(
            default=UNSET, description="Days until the token stops working (1 to 3650); omit for none.")
        user_id: Optional[strawberry.ID] = strawberry.field(
            default=UNSET, description="Admins: whose token (default: yours).")


def query_fields(registry) -> dict:
    order = order_by_argument(registry, "ApiToken", list(users.TOKEN_SORTABLE), "-created_at")

    def me(info: strawberry.Info) -> Optional[registry.ref("User")]:
        return require_actor(info.context.user)

    def api_tokens(info: strawberry.Info, first: First = None, after: After = None, last: Last = None, before: Before = None,
                   filter: Optional[registry.ref("ApiTokenFilter")] = None, order_by: order = None
                   ) -> registry.connection("ApiToken"):
        filters = {"include_revoked": False, **{k: v for k, v in input_to_dict(filter).items() if v is not None}}
        with field_names(prefix="filter."):
            page = users.list_tokens(info.context.user, filters, page=page_request(first, after, last, before),
                                     sort=order_to_service(order_by))
        return connection(info, page)

    def api_token(info: strawberry.Info, id: strawberry.ID) -> Optional[registry.ref("ApiToken")]:
        return users.get_token(info.context.user, id)

    return {"me": strawberry.field(resolver=me, description="The signed-in user."),
            "apiToken": strawberry.field(resolver=api_token, description=(
                "One API token (yours; admins: anyone's), never the token itself.")),
            "apiTokens": strawberry.field(resolver=api_tokens, description=(
                "Your API tokens, newest first (admins: everybody's, or one user's with userId); revoked "
                "ones only with includeRevoked."))}


def mutation_fields(registry) -> dict:
    def create_api_token(info: strawberry.Info,
                         input: registry.ref("ApiTokenCreateInput")) -> registry.ref("ApiTokenCreated"):
        row, plain = users.issue_token(info.context.user, input_to_dict(input))
        return registry.module.ApiTokenCreated(api_token=row, token=plain)

    def revoke_api_token(info: strawberry.Info, id: strawberry.ID) -> registry.ref("ApiToken"):
        return users.revoke_token(info.context.user, id)

    return {"createApiToken": strawberry.mutation(resolver=create_api_token, description=(
                "Create an API token (for yourself; admins: for anyone). The token is returned this once.")),
            "revokeApiToken": strawberry.mutation(resolver=revoke_api_token, description=(
                "Revoke an API token for good (yours; admins: anyone's)."))}
