"""REST for users and teams (admins manage; managers and reps see their team)."""
from __future__ import annotations

from flask.views import MethodView
from flask_login import current_user
from marshmallow import EXCLUDE, fields

from api.rest.crud import LINK_HEADER, Blueprint, CursorArgs, NoArgs, body_doc, json_body, list_query, served, sort_field
from core.schemas import MAX_PAGE_SIZE, SalesTeamOut, TokenOut, UserCreate, UserDetailOut
from core.services import people, users


class UserQuery(people.UserFilter, CursorArgs):
    class Meta:
        unknown = EXCLUDE

    sort = sort_field(sorted(people.USER_SORTABLE))


class TokenCreatedOut(TokenOut):
    token = fields.String(metadata={"description": "Send as `Authorization: Bearer <token>`. Shown only in "
                                                   "this response: store it now."})


class TokenQuery(users.TokenFilter, CursorArgs):
    class Meta:
        unknown = EXCLUDE

    sort = sort_field(sorted(users.TOKEN_SORTABLE))


def people_blueprints() -> list[Blueprint]:
    blp = Blueprint("people", "people", url_prefix="", description="Users and teams.")

    @blp.route("/users")
    class Users(MethodView):
        @blp.arguments(UserQuery, location="query", as_kwargs=False)
        @blp.response(200, UserDetailOut(many=True), headers={"Link": LINK_HEADER})
        @blp.paginate(max_page_size=MAX_PAGE_SIZE)
        def get(self, _args, pagination_parameters):
            """Users you may see (admins: all; others: their team), by name then email"""
            filters, paging = list_query(pagination_parameters)
            sort = filters.pop("sort", None)
            return served(pagination_parameters, people.list_users(current_user, filters, page=paging, sort=sort))

        @blp.doc(**body_doc(UserCreate))
        @blp.response(201, UserDetailOut)
        def post(self):
            """Create a user (admins)"""
            return people.create_user(current_user, json_body())

    @blp.route("/users/<uuid:user_id>")
    class OneUser(MethodView):
        @blp.response(200, UserDetailOut)
        def get(self, user_id):
            """One user"""
            return people.get_user(current_user, user_id)

        @blp.doc(**body_doc(people.UserUpdate))
        @blp.response(200, UserDetailOut)
        def patch(self, user_id):
            """Change a user's name, role, team, activity or locale (admins; send version)"""
            return people.update_user(current_user, user_id, json_body())

    @blp.route("/users/<uuid:user_id>/password", methods=["POST"])
    @blp.doc(**body_doc(users.PasswordReset))
    @blp.response(204)
    def reset_password(user_id):
        """Set a user's password (admins); every session of that user ends"""
        people.reset_password(current_user, user_id, json_body())

    @blp.route("/teams")
    class Teams(MethodView):
        @blp.arguments(NoArgs, location="query", as_kwargs=True)
        @blp.response(200, SalesTeamOut(many=True))
        def get(self):
            """Teams (admins: all; others: their own)"""
            return people.list_teams(current_user)

        @blp.doc(**body_doc(people.SalesTeamCreate))
        @blp.response(201, SalesTeamOut)
        def post(self):
            """Create a team, optionally with its manager (admins)"""
            return people.create_team(current_user, json_body())

    tokens = Blueprint("tokens", "tokens", url_prefix="",
                       description="API tokens: yours (admins: everybody's). The token is shown once.")

    @tokens.route("/tokens")
    class Tokens(MethodView):
        @tokens.arguments(TokenQuery, location="query", as_kwargs=False)
        @tokens.response(200, TokenOut(many=True), headers={"Link": LINK_HEADER})
        @tokens.paginate(max_page_size=MAX_PAGE_SIZE)
        def get(self, _args, pagination_parameters):
            """Your API tokens, newest first (admins: all, or one user's with user_id); revoked ones with
            include_revoked=true"""
            filters, paging = list_query(pagination_parameters)
            sort = filters.pop("sort", None)
            return served(pagination_parameters, users.list_tokens(current_user, filters, page=paging, sort=sort))

        @tokens.doc(**body_doc(users.TokenCreate))
        @tokens.response(201, TokenCreatedOut)
        def post(self):
            """Create an API token (for yourself; admins: for anyone), optionally expiring"""
            row, plain = users.issue_token(current_user, json_body())
            row.token = plain  # not a column: only this response carries it
            return row

    @tokens.route("/tokens/<uuid:token_id>")
    @tokens.response(200, TokenOut)
    def get_token(token_id):
        """One API token (never the token itself)"""
        return users.get_token(current_user, token_id)

    @tokens.route("/tokens/<uuid:token_id>/revoke", methods=["POST"])
    @tokens.response(200, TokenOut)
    def revoke_token(token_id):
        """Revoke an API token for good; it stops working at once"""
        return users.revoke_token(current_user, token_id)

    return [blp, tokens]
