"""The one app factory."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Iterable, Mapping

from flask import Flask, g

from core.config import load_settings
from core.runtime import Runtime, build_runtime

log = logging.getLogger("trellis")
STATIC_FOLDER = Path(__file__).with_name("static")


def create_app(config: Mapping[str, Any] | None = None, *, extra_plugins: Iterable[Any] = (),
               bind: Any = None, web: bool = True) -> Flask:
    """Build a Trellis app.

    ``config`` overrides settings by name (``{"DATABASE_URL": ..., "PLUGINS": "exhibitions"}``);
    ``extra_plugins`` registers plugin objects that are not installed as packages (tests, embedding);
    ``bind`` hands in a connection with an open transaction (tests). Every call builds its own plugin
    set and registries, so several apps can live in one process (apps built from the same plugins and
    settings share one GraphQL schema: ``api.graphql.compose.schema_for``).

    ``web=False`` builds the runtime (settings, plugins, registries, database) and an app without routes:
    no REST, GraphQL, sign-in or request hooks. The ``trellis`` commands that only reach the services and
    the database (``users``, ``tokens``, ``db`` …) run in it, so they start in a fraction of the time.
    """
    from core.services.bulk import gc_paused

    # building an app allocates a few hundred thousand long-lived objects (models, schemas, GraphQL types)
    # and hardly any garbage: the cyclic collector walking them again and again was a fifth of the build
    with gc_paused():
        return _create_app(config, extra_plugins=extra_plugins, bind=bind, web=web)


def _create_app(config: Mapping[str, Any] | None, *, extra_plugins: Iterable[Any], bind: Any, web: bool) -> Flask:
    settings = load_settings(config)
    runtime = build_runtime(settings, extra_plugins=extra_plugins, bind=bind)

    # /static: the files the GraphiQL page loads (api/static/graphiql), shipped in the package
    app = Flask("trellis", instance_path=settings.instance_path, instance_relative_config=False,
                static_folder=str(STATIC_FOLDER))
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        REMEMBER_COOKIE_SAMESITE="Lax",
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
    )
    from api.json_encoding import OrjsonProvider

    app.json = OrjsonProvider(app)  # orjson writes the bodies: a tenth of Python's json's time
    # a body's keys in the schema's order, unsorted: sorting took half the encoding time of a page of 100
    # (Flask 3 reads this attribute; the JSON_SORT_KEYS setting here before was no longer read)
    app.json.sort_keys = False
    app.extensions["trellis"] = runtime
    from api import logs

    logs.init_app(app, settings.log_format)  # first: its after_request runs last, on the final response
    from api import prometheus

    prometheus.init_app(app, runtime)  # next: it counts the final status and times every other hook
    if settings.sentry_dsn:
        from api.error_reports import init_sentry

        init_sentry(settings.sentry_dsn, environment=settings.env, release=_release())
    if not web:
        return app
    from api import auth, cors, headers
    from api import input as request_input

    headers.init_app(app, settings)  # registered early, so it runs late: every response gets them
    cors.init_app(app, settings)  # early too: a refused request still tells a listed page why
    request_input.init_app(app)  # before any other hook: nothing runs on input it refuses
    init_unit_of_work(app, runtime)

    from api.graphql import view as graphql_view
    from api.rest import init_rest

    auth.init_app(app)
    from api import health

    health.init_app(app, runtime)  # /healthz, /readyz, and the schema gate (after sign-in: strangers get 401)
    init_rest(app, runtime)
    graphql_view.init_app(app, runtime)

    from api import landing

    landing.init_app(app, runtime)

    return app


def runtime_of(app: Flask) -> Runtime:
    return app.extensions["trellis"]


def init_unit_of_work(app: Flask, runtime: Runtime) -> None:
    """One unit of work per request: committed when the response is a success and no GraphQL error
    asked for a rollback, rolled back otherwise, so a failed request writes nothing."""

    @app.before_request
    def _open_unit_of_work():
        g._trellis_uow = runtime.database.open()
        g.trellis_rollback = False

    @app.after_request
    def _finish_unit_of_work(response):
        uow = g.pop("_trellis_uow", None)
        if uow is None:
            return response
        commit = response.status_code < 400 and not g.get("trellis_rollback", False)
        try:
            runtime.database.close(*uow, commit=commit)
        except Exception as exc:  # a commit can still fail (a concurrent update, a constraint)
            from api.rest.errors import error_response

            return error_response(exc)
        return response

    @app.teardown_request
    def _close_unit_of_work(_exc):
        uow = g.pop("_trellis_uow", None)
        if uow is not None:
            runtime.database.close(*uow, commit=False)


def _release() -> str | None:
    """The installed trellis-crm version, as Sentry groups errors by release."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"trellis-crm@{version('trellis-crm')}"
    except PackageNotFoundError:
        return None
