"""``/graphql``: strawberry's synchronous Flask view over the schema composed for this app.

POST JSON runs an operation; GET in a browser opens GraphiQL (after signing in), its assets served
from the package. Batching is synchronous (:mod:`api.graphql.loaders`): Flask serves the request in
one thread, no event loop. An unauthenticated POST is answered with a GraphQL error coded
UNAUTHENTICATED before anything runs.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, g, request
from flask_login import current_user
from strawberry.flask.views import GraphQLView
from cross_web import HTTPException  # what strawberry's views catch

from api.graphql.compose import schema_for
from api.graphql.context import Context
from api.graphql.errors import INTERNAL, format_error, http_error_response, request_failed
from api.graphql.loaders import LoaderNames, Loaders
from api.input import BadJSON, load_json
from api.json_encoding import dumps_bytes
from core.errors import Unauthenticated
from core.runtime import Runtime

EXTENSION_KEY = "trellis.graphql"
#: /graphql's body limit: room for a POS batch in variables (the cost and list limits bound the work)
GRAPHQL_REQUEST_BYTES = 4 * 1024 * 1024


#: GraphiQL's page, loading its scripts and styles from this package (api/static/graphiql) rather than
#: a CDN, so it works with no internet access; strawberry renders it with Flask's Jinja (``url_for``).
GRAPHIQL_PAGE = Path(__file__).with_name("graphiql.html").read_text(encoding="utf-8")


class TrellisGraphQLView(GraphQLView):
    @property
    def graphql_ide_html(self) -> str:
        return GRAPHIQL_PAGE

    def __init__(self, schema, runtime: Runtime, **kwargs: Any):
        super().__init__(schema, **kwargs)
        self.runtime = runtime
        self.loader_names = LoaderNames(runtime)

    def dispatch_request(self):
        if request.method == "POST" and not current_user.is_authenticated:
            return http_error_response(Unauthenticated())
        response = super().dispatch_request()
        if g.get("trellis_retry_after") and hasattr(response, "headers"):   # an error asked for it
            response.headers["Retry-After"] = str(g.trellis_retry_after)
        return response

    def encode_json(self, data: object) -> bytes:
        """The response body, by orjson as REST's (:mod:`api.json_encoding`)."""
        return dumps_bytes(data)

    def parse_json(self, data):
        """The body was vetted by :mod:`api.input`; here it must also be an operation (an object)."""
        try:
            parsed = load_json(data)
        except BadJSON as exc:
            raise HTTPException(400, str(exc)) from None
        if not isinstance(parsed, (dict, list)) or (isinstance(parsed, list)
                                                    and not all(isinstance(i, dict) for i in parsed)):
            raise HTTPException(400, "The body must be a JSON object with a 'query' string.")
        return parsed

    def get_context(self, request, response) -> Context:
        return Context(user=current_user._get_current_object(), runtime=self.runtime,
                       loaders=Loaders(self.loader_names),
                       request=request, response=response)

    def process_result(self, request, result):
        if result.errors:
            # the schema extension has formatted them (and decided on the rollback); this is the net for
            # errors raised around it
            if any(not (e.extensions or {}).get("code") for e in result.errors):
                request_failed()
            result.errors = [e if (e.extensions or {}).get("code") else format_error(e) for e in result.errors]
        data = super().process_result(request, result)
        for error in data.get("errors", []) if isinstance(data, dict) else []:
            error.setdefault("extensions", {"code": INTERNAL})
        return data


def init_app(app: Flask, runtime: Runtime) -> None:
    """Compose this app's schema (or reuse the same one: ``schema_for``) and mount it at ``/graphql``."""
    schema = schema_for(runtime)
    app.extensions[EXTENSION_KEY] = schema
    view = TrellisGraphQLView.as_view("graphql", schema=schema, runtime=runtime, graphql_ide="graphiql")
    view.max_body_bytes = GRAPHQL_REQUEST_BYTES  # applied by api.input before the body is read
    app.add_url_rule("/graphql", view_func=view)
