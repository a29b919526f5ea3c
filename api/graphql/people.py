"""GraphQL for users and teams, translating to core.services.people."""
import datetime as dt
from typing import Annotated, Optional

import strawberry
from strawberry import UNSET

from api.graphql.inputs import field_names, input_to_dict
from api.graphql.nodes import NodeSource
from api.graphql.ordering import order_by_argument, order_to_service
from api.graphql.pagination import After, Before, First, Last, connection, page_request
from core import models
from core.services import people


def types(registry) -> None:
    Role, Locale = registry.vocabulary_enum("role"), registry.vocabulary_enum("locale")

    @registry.type("Team", node=NodeSource(models.Team, visible=people.visible_teams))
    class Team:
        """A group of users with a manager: the manager sees the team's customers."""

        id: strawberry.ID
        name: str = strawberry.field(description="The team's name, unique among teams.")
        manager_id: Optional[strawberry.ID] = strawberry.field(description="The id of the user who manages the team; null when it has no manager.")
        created_at: dt.datetime = strawberry.field(description="When the team was created (UTC, ISO 8601).")
        version: int

    @registry.input("UserCreateInput")
    class UserCreateInput:
        email: str = strawberry.field(description="The sign-in email address (up to 254 characters), unique among users.")
        role: Optional[Role] = strawberry.field(default=UNSET, description="What the user may do; default rep.")
        name: Optional[str] = strawberry.field(default=UNSET, description="The name shown to colleagues (up to 120 characters).")
        password: Optional[str] = strawberry.field(default=UNSET, description="The initial password (8–200 characters); null or left out: the user cannot sign in with a password until one is set.")
        team_id: Optional[strawberry.ID] = UNSET
        locale: Optional[Locale] = strawberry.field(default=UNSET, description="The language Trellis speaks to the user in; default English (en).")

    @registry.input("UserUpdateInput")
    class UserUpdateInput:
        version: int
        name: Optional[str] = strawberry.field(default=UNSET, description="The name shown to colleagues (up to 120 characters).")
        role: Optional[Role] = UNSET
        team_id: Optional[strawberry.ID] = UNSET
        is_active: Optional[bool] = strawberry.field(default=UNSET, description="False deactivates the user: they can no longer sign in or use their API tokens.")
        locale: Optional[Locale] = UNSET

    @registry.input("UserFilter")
    class UserFilter:
        """Which users to list (all conditions hold)."""

        q: Optional[str] = strawberry.field(default=UNSET, description="In the name or email.")
        role: Optional[Role] = strawberry.field(default=UNSET, description="Users with this role.")
        team_id: Optional[strawberry.ID] = strawberry.field(default=UNSET, description="Members of this team.")

    @registry.input("TeamCreateInput")
    class TeamCreateInput:
        name: str = strawberry.field(description="The team's name, unique among teams.")
        manager_id: Optional[strawberry.ID] = UNSET


def query_fields(registry) -> dict:
    user_order = order_by_argument(registry, "User", list(people.USER_SORTABLE), "name,email")
    team_order = order_by_argument(registry, "Team", list(people.TEAM_SORTABLE), "name")

    def user_list(info: strawberry.Info, first: First = None, after: After = None, last: Last = None,
                  before: Before = None, filter: Optional[registry.ref("UserFilter")] = None,
                  order_by: user_order = None) -> registry.connection("User"):
        filters = {k: v for k, v in input_to_dict(filter).items() if v is not None}
        with field_names(prefix="filter."):
            page = people.list_users(info.context.user, filters, page=page_request(first, after, last, before),
                                     sort=order_to_service(order_by))
        return connection(info, page)

    def team_list(info: strawberry.Info, first: First = None, after: After = None, last: Last = None,
                  before: Before = None, order_by: team_order = None) -> registry.connection("Team"):
        return connection(info, people.team_page(info.context.user, page_request(first, after, last, before),
                                                 order_to_service(order_by)))

    def user(info: strawberry.Info, id: strawberry.ID) -> Optional[registry.ref("User")]:
        return people.get_user(info.context.user, id)

    return {"users": strawberry.field(resolver=user_list, description="Users you may see, by name then email."),
            "user": strawberry.field(resolver=user, description="One user you may see."),
            "teams": strawberry.field(resolver=team_list, description="Teams you may see, by name.")}


def mutation_fields(registry) -> dict:
    def create_user(info: strawberry.Info, input: registry.ref("UserCreateInput")) -> registry.ref("User"):
        return people.create_user(info.context.user, input_to_dict(input))

    def update_user(info: strawberry.Info, id: strawberry.ID,
                    input: registry.ref("UserUpdateInput")) -> registry.ref("User"):
        return people.update_user(info.context.user, id, input_to_dict(input))

    def create_team(info: strawberry.Info, input: registry.ref("TeamCreateInput")) -> registry.ref("Team"):
        return people.create_team(info.context.user, input_to_dict(input))

    def set_user_password(info: strawberry.Info, id: strawberry.ID,
                          password: Annotated[str, strawberry.argument(description="The new password, 8–200 characters.")]) -> Optional[registry.ref("User")]:
        people.reset_password(info.context.user, id, {"password": password})
        return people.get_user(info.context.user, id)

    return {"setUserPassword": strawberry.mutation(resolver=set_user_password, description=(
                "Set a user's password (admins, at least 8 characters); every session of that user ends.")),
            "createUser": strawberry.mutation(resolver=create_user, description="Admins."),
            "updateUser": strawberry.mutation(resolver=update_user, description="Admins; send the version."),
            "createTeam": strawberry.mutation(resolver=create_team, description="Admins.")}
