"""REST composition: one flask-smorest Api at /api/v1, the core's blueprints and every plugin's."""
from __future__ import annotations

import contextlib
import importlib.resources
import re
import warnings
from decimal import Decimal

from apispec import BasePlugin
from flask import Blueprint, Flask
from flask_smorest import Api
from marshmallow import fields as ma_fields

from core.errors import PluginError
from core.plugins import CORE_NAME, naming_the_plugin, type_prefix
from core.runtime import Runtime, _check_prefixed

API_PREFIX = "/api/v1"
#: where the Swagger UI page at /api/v1/docs loads swagger-ui-bundle.js and the rest from
SWAGGER_UI_URL = "/static/swagger-ui/"
SWAGGER_UI_ASSETS = "swagger_ui"

PAGINATION_HEADER = {
    "description": "Pagination metadata: a JSON object (total, total_pages, first_page, last_page, page, "
                   "previous_page, next_page) serialised into the header's string value. Lists that page by "
                   "cursor too add next_cursor and previous_cursor (pass them as `after` / `before`); a page "
                   "read by cursor carries total, page_size and the cursors. The total counts at most "
                   "TRELLIS_LIST_COUNT_LIMIT rows (2,000 by default): when the list has more, total says that "
                   "number and total_capped is true (the page numbers end there; next_cursor goes on).",
    "schema": {"type": "string"},
    "example": '{"total": 42, "total_pages": 3, "first_page": 1, "last_page": 3, "page": 1, "next_page": 2}',
}


def _plain_number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def decimal_bounds_as_numbers(_converter, field, ret=None, **_kwargs) -> dict:
    """apispec attribute function: ``Range(min=Decimal("0.00"))`` documents ``minimum: 0``, a JSON number
    (apispec passes Decimal bounds through, and JSON encodes them as the string "0.00", which is no valid
    OpenAPI). Registered once, so every schema of the core and of every plugin gets it."""
    return {key: _plain_number(value) for key, value in (ret or {}).items()
            if key in ("minimum", "maximum", "default", "example") and isinstance(value, Decimal)}


def decimal_strings_as_strings(_converter, field, ret=None, **_kwargs) -> dict:
    """apispec attribute function: ``Decimal(as_string=True)`` is sent as ``"12.50"``; document a string
    (apispec documents every Decimal as a number)."""
    if isinstance(field, ma_fields.Decimal) and field.as_string:
        return {"type": "string", "format": "decimal"}
    return {}


#: the shared response every operation documents for 503 (:class:`ServiceUnavailable`)
SERVICE_UNAVAILABLE = "API_UNAVAILABLE"   # not an HTTPStatus name: flask-smorest would replace it by its own
SERVICE_UNAVAILABLE_RESPONSE = {
    "description": (
        "The API is unavailable for now: the database does not answer (`Retry-After: 5`), or its schema is "
        "behind the code — run `trellis db upgrade` (`Retry-After: 30`). The message says which; try again "
        "after `Retry-After` seconds. `GET /readyz` tells a load balancer the same. See docs/deployment.md."),
    "content": {"application/json": {"schema": "Error"}},
    "headers": {"Retry-After": {"description": "Seconds to wait before trying again.",
                                "schema": {"type": "integer"}}},
}


class ServiceUnavailable(BasePlugin):
    """apispec plugin: every operation, the core's and every plugin's, documents the 503 the schema gate and
    the error handlers answer (api/health.py, api/rest/errors.py) as the shared :data:`SERVICE_UNAVAILABLE`
    response — the gate refuses every API request, so no view declares it."""

    def operation_helper(self, path=None, operations=None, **kwargs):
        for operation in (operations or {}).values():
            if isinstance(operation, dict) and isinstance(operation.get("responses"), dict):
                operation["responses"].setdefault("503", SERVICE_UNAVAILABLE)


class TrellisApi(Api):
    """flask-smorest's Api with the document telling the truth about what the API sends."""

    def _register_pagination_header(self):
        # flask-smorest declares X-Pagination as an object; a header is a string (holding JSON)
        self.spec.components.header("PAGINATION", PAGINATION_HEADER, lazy=True)

    def register_blueprint(self, blp, *, parameters=None, **options):
        # flask-smorest's Blueprint.register_views_in_doc deep-copies the blueprint's whole doc table
        # (``blp._docs``) before documenting it, so that registering the blueprint again (another app)
        # starts from the original: that copies every marshmallow schema and field in it too, the bulk
        # of the cost. Only the dicts and lists are edited while documenting (apispec replaces a schema
        # by a reference, it never changes the schema), so the table copies those and shares the rest.
        if type(blp._docs) is dict:
            blp._docs = _DocTable(blp._docs)
        return super().register_blueprint(blp, parameters=parameters, **options)


class _DocTable(dict):
    """A blueprint's doc table whose ``deepcopy`` copies the containers only (see
    :meth:`TrellisApi.register_blueprint`)."""

    def __deepcopy__(self, memo):
        return _copy_containers(self)


def _copy_containers(value):
    if isinstance(value, dict):
        return {key: _copy_containers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy_containers(item) for item in value]
    if isinstance(value, tuple) and type(value) is tuple:
        return tuple(_copy_containers(item) for item in value)
    return value


def swagger_ui_assets() -> Blueprint:
    """Swagger UI's scripts and styles at :data:`SWAGGER_UI_URL`, from the ``flask-swagger-ui`` package
    (it ships swagger-ui-dist's files; only they are used, not its blueprint), so ``/api/v1/docs`` works
    with no internet access. Public, like the sign-in page: they are the published Swagger UI."""
    dist = importlib.resources.files("flask_swagger_ui") / "dist"
    return Blueprint(SWAGGER_UI_ASSETS, __name__, static_folder=str(dist),
                     static_url_path=SWAGGER_UI_URL.rstrip("/"))


def init_rest(app: Flask, runtime: Runtime) -> Api:
    app.config.update(
        API_TITLE="Trellis CRM",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX=API_PREFIX,
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="/docs",
        OPENAPI_SWAGGER_UI_URL=SWAGGER_UI_URL,
        # no badge fetched from the public validator: the page loads nothing from another host
        OPENAPI_SWAGGER_UI_CONFIG={"validatorUrl": None},
        API_SPEC_OPTIONS={
            "components": {"securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "session"},
            }},
            "security": [{"bearer": []}, {"session": []}],
        },
    )
    app.register_blueprint(swagger_ui_assets())
    api = TrellisApi(app)
    api.spec.components.response(SERVICE_UNAVAILABLE, SERVICE_UNAVAILABLE_RESPONSE)
    api.spec.plugins.append(ServiceUnavailable())
    api.ma_plugin.converter.add_attribute_function(decimal_bounds_as_numbers)
    api.ma_plugin.converter.add_attribute_function(decimal_strings_as_strings)
    from api.rest import errors
    from api.rest.resources import core_blueprints

    errors.init_error_handlers(app)
    schema_owners: dict[str, str] = {}
    for blueprint in core_blueprints():
        with _schema_names_kept(api, CORE_NAME, schema_owners):
            api.register_blueprint(blueprint, url_prefix=API_PREFIX + (blueprint.url_prefix or ""))
    owners: dict[str, str] = {}
    for owner, blueprints in runtime.plugins.call_each("trellis_rest_blueprints"):
        if owner == CORE_NAME:
            continue
        for blueprint in blueprints:
            prefix = f"{API_PREFIX}/{owner.replace('_', '-')}{blueprint.url_prefix or ''}"
            _check_prefixed(owner, "REST blueprint", blueprint.name, separators=("_",))
            if blueprint.name in owners or blueprint.name in app.blueprints:
                raise PluginError(
                    f"Plugins '{owners.get(blueprint.name, CORE_NAME)}' and '{owner}' both register a REST "
                    f"blueprint named '{blueprint.name}'. Rename one (prefix it with the plugin name)."
                )
            owners[blueprint.name] = owner
            with naming_the_plugin(owner, f"registering its REST blueprint '{blueprint.name}'"), \
                    _schema_names_kept(api, owner, schema_owners, legacy=_legacy_schema_names(runtime, owner)):
                api.register_blueprint(blueprint, url_prefix=prefix)
    for owner, mounted in runtime.plugins.call_each("trellis_mounted_blueprints"):
        for blueprint, prefix in mounted:
            _check_prefixed(owner, "mounted blueprint", blueprint.name, separators=("_",))
            _check_mount(owner, blueprint, prefix, owners, app)
            owners[blueprint.name] = owner
            app.register_blueprint(blueprint, url_prefix=prefix)
    _check_path_clashes(app, owners)
    app.config["TRELLIS_PUBLIC_ENDPOINTS"] = _public_endpoints(runtime, owners)
    return api


RESERVED_PREFIXES = ("/api", "/graphql", "/auth", "/healthz", "/readyz", "/metrics")
_RENAMED_SCHEMA = re.compile(r"Multiple schemas resolved to the name (\S+?)\.")


def _legacy_schema_names(runtime: Runtime, owner: str) -> frozenset[str]:
    """The plugin object's ``legacy_schema_names``: OpenAPI schema names it published before they had to
    carry its prefix (kept so clients' generated code does not break; the list only ever shrinks)."""
    info = next((p for p in runtime.plugins.enabled if p.name == owner), None)
    return frozenset(getattr(info.obj, "legacy_schema_names", ()) or ()) if info is not None else frozenset()


@contextlib.contextmanager
def _schema_names_kept(api: Api, owner: str, schema_owners: dict[str, str], legacy: frozenset[str] = frozenset()):
    """While ``owner``'s blueprint is documented, a marshmallow schema whose OpenAPI name is already
    taken by another schema class is a start-up error naming both owners (apispec would only warn and
    publish it as ``Name1``, so clients would get a renamed, unpredictable type), and so is a plugin's
    new schema name without the plugin's prefix (:func:`core.plugins.type_prefix`: ``TrainingCourseOut``),
    unless listed in ``legacy``. ``schema_owners`` (component name → owner) grows with the names the
    blueprint adds."""
    before = set(api.spec.components.schemas)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for warning in caught:
        clash = _RENAMED_SCHEMA.search(str(warning.message))
        if clash is None:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
            continue
        name = clash.group(1)
        other = schema_owners.get(name, CORE_NAME)
        raise PluginError(
            f"Plugins '{other}' and '{owner}' both have a REST schema named '{name}' (the marshmallow class "
            f"name less 'Schema'); OpenAPI needs one name per schema. Rename the class in '{owner}' "
            "(prefix it with the plugin's name).")
    added = sorted(set(api.spec.components.schemas) - before)
    if owner != CORE_NAME:
        prefix = type_prefix(owner)
        for name in added:
            if not name.startswith(prefix) and name not in legacy:
                raise PluginError(
                    f"Plugin '{owner}' publishes the REST schema '{name}' (the marshmallow class name less "
                    f"'Schema'), which does not start with '{prefix}'. Rename the class '{prefix}{name}': a "
                    "plugin's OpenAPI schemas start with the first word of its name, singular and capitalised, "
                    "so two plugins never collide.")
    for name in added:
        schema_owners.setdefault(name, owner)


def _check_mount(owner: str, blueprint, prefix: str, owners: dict[str, str], app: Flask) -> None:
    if not prefix.startswith("/") or any(prefix == r or prefix.startswith(r + "/") for r in RESERVED_PREFIXES):
        raise PluginError(
            f"Plugin '{owner}' mounts blueprint '{blueprint.name}' at '{prefix}'. Mounted blueprints need an "
            f"absolute prefix outside {', '.join(RESERVED_PREFIXES)}; use trellis_rest_blueprints for /api/v1."
        )
    if blueprint.name in owners or blueprint.name in app.blueprints:
        raise PluginError(
            f"Plugins '{owners.get(blueprint.name, CORE_NAME)}' and '{owner}' both register a blueprint named "
            f"'{blueprint.name}'. Rename one (prefix it with the plugin name)."
        )


def _public_endpoints(runtime: Runtime, owners: dict[str, str]) -> frozenset[str]:
    """The endpoints plugins declared public, each checked to belong to the declaring plugin."""
    public = set()
    for owner, endpoints in runtime.plugins.call_each("trellis_public_endpoints"):
        for endpoint in endpoints:
            if owners.get(endpoint.split(".")[0]) != owner:
                raise PluginError(
                    f"Plugin '{owner}' declares '{endpoint}' public, but that endpoint is not in one of its own "
                    "blueprints. A plugin may only open up its own endpoints."
                )
            public.add(endpoint)
    return frozenset(public)


def _check_path_clashes(app: Flask, owners: dict[str, str]) -> None:
    seen: dict[tuple[str, str], str] = {}
    for rule in app.url_map.iter_rules():
        owner = owners.get(rule.endpoint.split(".")[0], CORE_NAME)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            key = (method, rule.rule)
            if key in seen and seen[key] != owner:
                raise PluginError(
                    f"Plugins '{seen[key]}' and '{owner}' both answer {method} {rule.rule}. "
                    "Change one plugin's path or disable one of them."
                )
            seen[key] = owner
