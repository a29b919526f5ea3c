"""The plugin manager: enabling, requirements, misspelt hooks and clashes fail at start-up with a
message naming the plugin and what to do."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from api.app import create_app
from core.errors import PluginError
from core.hookspecs import hookimpl
from core.metrics import Metric, MetricRow
from core.plugins import discover

CONFIG = {"DATABASE_URL": "sqlite://"}


def plugin(name, requires=(), **hooks):
    return SimpleNamespace(name=name, version="1.0", requires=list(requires),
                           **{hook: hookimpl(fn) for hook, fn in hooks.items()})


def test_builtin_plugins_are_installed_through_entry_points():
    names = {p.name for p in discover()}
    assert {"exhibitions", "retail_membership", "property_service"} <= names


def test_all_plugins_are_enabled_by_default(app):
    assert app.extensions["trellis"].plugins.enabled_names == [
        "core", "exhibitions", "property_service", "retail_membership"]


def test_plugins_setting_limits_the_enabled_set():
    app = create_app({**CONFIG, "PLUGINS": "exhibitions"})
    assert app.extensions["trellis"].plugins.enabled_names == ["core", "exhibitions"]


def test_unknown_plugin_in_settings_names_it_and_lists_installed():
    with pytest.raises(PluginError, match=r"unknown plugin\(s\): exhibitons.*Installed: exhibitions"):
        create_app({**CONFIG, "PLUGINS": "exhibitons"})


def test_missing_requirement_names_both_plugins():
    needy = plugin("needy", requires=["exhibitions"])
    with pytest.raises(PluginError, match="Plugin 'needy' requires 'exhibitions'"):
        create_app({**CONFIG, "PLUGINS": "needy"}, extra_plugins=[needy])
    app = create_app({**CONFIG, "PLUGINS": "needy,exhibitions"}, extra_plugins=[needy])
    assert "needy" in app.extensions["trellis"].plugins.enabled_names


def test_misspelt_hook_fails_at_start_up_naming_the_plugin():
    typo = plugin("typo", trellis_metircs=lambda: [])
    with pytest.raises(PluginError, match="Plugin 'typo' implements a hook Trellis does not know"):
        create_app(CONFIG, extra_plugins=[typo])


def test_reserved_and_duplicate_names_are_refused():
    with pytest.raises(PluginError, match="reserved"):
        create_app(CONFIG, extra_plugins=[plugin("core")])
    with pytest.raises(PluginError, match="Two plugins are named 'exhibitions'"):
        create_app(CONFIG, extra_plugins=[plugin("exhibitions")])


def _metric(name):
    return Metric(name, "X", "X", lambda q: [MetricRow(1)])


def test_two_plugins_registering_one_metric_name_is_an_error_naming_both():
    # a name both prefixes allow (plugins "one" and "one_two"): the clash itself is refused
    one = plugin("one", trellis_metrics=lambda: [_metric("one_two_metric")])
    two = plugin("one_two", trellis_metrics=lambda: [_metric("one_two_metric")])
    with pytest.raises(PluginError, match="Plugins 'one' and 'one_two' both register the metric 'one_two_metric'"):
        create_app(CONFIG, extra_plugins=[one, two])


def test_a_plugin_cannot_take_over_a_core_metric():
    thief = plugin("thief", trellis_metrics=lambda: [_metric("customers")])
    with pytest.raises(PluginError, match="Plugin 'thief' declares the metric 'customers'"):
        create_app(CONFIG, extra_plugins=[thief])


def test_two_plugins_defining_one_label_value_is_an_error():
    from core.labels import Choice

    one = plugin("one", trellis_interaction_kinds=lambda: [Choice("one_two_visit", "Visit", "访问")])
    two = plugin("one_two", trellis_interaction_kinds=lambda: [Choice("one_two_visit", "Visit", "访问")])
    with pytest.raises(PluginError, match="'one' and 'one_two' both define the value 'one_two_visit'"):
        create_app(CONFIG, extra_plugins=[one, two])


def _unprefixed_declarations():
    from core.jobs import Job
    from core.labels import Choice
    from core.models import Customer
    from core.workflow import State, Workflow

    choice = [Choice("visit", "Visit", "访问")]
    return [
        ("metric 'visits'", {"trellis_metrics": lambda: [_metric("visits")]}),
        ("interaction kind 'visit'", {"trellis_interaction_kinds": lambda: choice}),
        ("vocabulary 'moods'", {"trellis_labels": lambda: {"moods": choice}}),
        ("value of the vocabulary 'notification_kind' 'visit'", {"trellis_labels": lambda: {"notification_kind": choice}}),
        ("scheduled job 'nightly'", {"trellis_scheduled_jobs": lambda: [Job("nightly", lambda now: None)]}),
        ("workflow 'customer.mood'", {"trellis_workflows": lambda settings: [Workflow(
            name="customer.mood", model=Customer, field="region", initial="calm",
            states=(State("calm", "Calm", "平静"),), transitions=())]}),
    ]


@pytest.mark.parametrize("what, hooks", _unprefixed_declarations(), ids=lambda v: v if isinstance(v, str) else "")
def test_a_plugins_global_names_carry_its_prefix_or_start_up_names_the_plugin_and_the_fix(what, hooks):
    """Metrics, workflows, scheduled jobs, a plugin's vocabularies and the values it adds to another's
    (interaction and notification kinds) start with ``<plugin>_`` or ``<plugin>.``; start-up says which
    plugin declared what, and how to fix it."""
    careless = plugin("tidy", **hooks)
    with pytest.raises(PluginError) as refused:
        create_app(CONFIG, extra_plugins=[careless])
    message = str(refused.value)
    assert f"Plugin 'tidy' declares the {what}" in message
    assert "does not start with 'tidy_' or 'tidy.'" in message and "Prefix it with the plugin's name" in message
    prefixed = plugin("tidy", **{name: ((lambda settings, _f=f: _rename(_f(settings))) if name == "trellis_workflows"
                                        else (lambda _f=f: _rename(_f()))) for name, f in hooks.items()})
    create_app(CONFIG, extra_plugins=[prefixed])   # the same declarations, prefixed: accepted


def _rename(declared):
    """``declared`` with every name prefixed ``tidy_`` (what the error message tells the author to do)."""
    import dataclasses

    from core.jobs import Job
    from core.labels import Choice
    from core.metrics import Metric
    from core.workflow import Workflow

    def one(item):
        if isinstance(item, Choice):
            return Choice(f"tidy_{item.value}", item.en, item.zh_cn)
        if isinstance(item, (Metric, Job, Workflow)):
            return dataclasses.replace(item, name=f"tidy_{item.name}")
        return item

    if isinstance(declared, dict):
        return {(k if k == "notification_kind" else f"tidy_{k}"): [one(v) for v in vs] for k, vs in declared.items()}
    return [one(item) for item in declared]


def test_two_plugins_with_the_same_rest_blueprint_name_is_an_error():
    from flask_smorest import Blueprint

    def blueprints():
        blp = Blueprint("one_two_notes", __name__)    # a name both prefixes allow (plugins "one" and "one_two")

        @blp.route("/x")
        def x():
            return {}

        return [blp]

    one = plugin("one", trellis_rest_blueprints=blueprints)
    two = plugin("one_two", trellis_rest_blueprints=blueprints)
    with pytest.raises(PluginError,
                       match="Plugins 'one' and 'one_two' both register a REST blueprint named 'one_two_notes'"):
        create_app(CONFIG, extra_plugins=[one, two])


def test_plugin_tables_must_carry_the_plugin_prefix():
    from sqlalchemy import Column, Integer, Table

    from core.db import Base

    table = Table("unprefixed_thing", Base.metadata, Column("id", Integer, primary_key=True), extend_existing=True)
    model = SimpleNamespace(__table__=table)
    try:
        bad = plugin("tidy", trellis_models=lambda: [model])
        with pytest.raises(PluginError, match="does not start with 'tidy_'"):
            create_app(CONFIG, extra_plugins=[bad])
    finally:
        Base.metadata.remove(table)


def test_plugins_endpoint_lists_the_enabled_set(api):
    names = [p["name"] for p in api.as_("rep").get("/api/v1/plugins").get_json()]
    assert names == ["exhibitions", "property_service", "retail_membership"]


def _plain_blueprint(name):
    from flask import Blueprint

    blp = Blueprint(name, __name__)

    @blp.get("/ping")
    def ping():
        return {"pong": True}

    return blp


def test_mounted_blueprints_may_not_take_reserved_paths():
    bad = plugin("squatter", trellis_mounted_blueprints=lambda: [(_plain_blueprint("squatter_api"), "/api/v2")])
    with pytest.raises(PluginError, match="Plugin 'squatter' mounts blueprint 'squatter_api' at '/api/v2'"):
        create_app(CONFIG, extra_plugins=[bad])


def test_a_plugin_cannot_declare_core_endpoints_public():
    bad = plugin("opener", trellis_public_endpoints=lambda: ["customers.Collection"])
    with pytest.raises(PluginError, match="Plugin 'opener' declares 'customers.Collection' public"):
        create_app(CONFIG, extra_plugins=[bad])


def test_a_mounted_public_endpoint_answers_without_login():
    ok = plugin("pinger", trellis_mounted_blueprints=lambda: [(_plain_blueprint("pinger_api"), "/pinger")],
                trellis_public_endpoints=lambda: ["pinger_api.ping"])
    app = create_app(CONFIG, extra_plugins=[ok])
    client = app.test_client()
    assert client.get("/pinger/ping").get_json() == {"pong": True}
    assert client.get("/api/v1/customers").status_code == 401


def test_hook_trellis_settings(monkeypatch):
    from core.config import PluginSetting

    declared = plugin("tidy", trellis_settings=lambda: [PluginSetting("tidy_colour", "red"),
                                                         PluginSetting("tidy_days", 3),
                                                         PluginSetting("tidy_loud", False)])
    app = create_app(CONFIG, extra_plugins=[declared])
    settings = app.extensions["trellis"].settings
    assert (settings.tidy_colour, settings.tidy_days, settings.tidy_loud) == ("red", 3, False)
    monkeypatch.setenv("TRELLIS_TIDY_DAYS", "7")
    monkeypatch.setenv("TRELLIS_TIDY_LOUD", "yes")
    settings = create_app({**CONFIG, "TIDY_COLOUR": "blue"}, extra_plugins=[declared]).extensions["trellis"].settings
    assert (settings.tidy_colour, settings.tidy_days, settings.tidy_loud) == ("blue", 7, True)
    monkeypatch.setenv("TRELLIS_TIDY_DAYS", "a week")
    with pytest.raises(PluginError, match="TRELLIS_TIDY_DAYS='a week' is not a valid int"):
        create_app(CONFIG, extra_plugins=[declared])
    rude = plugin("rude", trellis_settings=lambda: [PluginSetting("colour", "red")])
    with pytest.raises(PluginError, match="does not start with 'rude_'"):
        create_app(CONFIG, extra_plugins=[rude])


def test_call_each_runs_only_the_named_plugins_each_inside_its_around_context():
    from contextlib import contextmanager
    from core.plugins import PluginSet

    calls = []
    one = plugin("one", trellis_labels=lambda: calls.append("one") or {"x": []})
    two = plugin("two", trellis_labels=lambda: calls.append("two") or {"y": []})
    plugins = PluginSet(enabled_names=["two", "one"], extra=[one, two], installed=[])

    @contextmanager
    def around(name):
        calls.append(f"enter {name}")
        yield
        calls.append(f"leave {name}")

    assert plugins.implementers("trellis_labels") == [n for n in plugins.enabled_names if n in ("core", "one", "two")]
    results = plugins.call_each("trellis_labels", only={"one"}, around=around)
    assert results == [("one", {"x": []})]
    assert calls == ["enter one", "one", "leave one"]


# --- errors in a plugin's code name the plugin (issue #14 item 6) ---------------------------------------

def test_an_exception_in_a_plugins_hook_names_the_plugin_and_the_hook():
    def broken():
        raise KeyError("unit")

    with pytest.raises(PluginError, match=r"Plugin 'broken' failed in trellis_metrics: KeyError: 'unit'") as raised:
        create_app(CONFIG, extra_plugins=[plugin("broken", trellis_metrics=broken)])
    assert isinstance(raised.value.__cause__, KeyError)     # kept for --debug


def test_a_blueprint_apispec_cannot_document_names_the_plugin():
    from marshmallow import Schema, fields

    from api.rest.crud import Blueprint

    class NoteOut(Schema):
        id = fields.UUID()

    def blueprints():
        blp = Blueprint("botched_notes", "botched_notes", url_prefix="/notes")

        @blp.route("")
        @blp.doc(requestBody=NoteOut)     # body_doc(NoteOut) is meant: the spec cannot take a class here
        @blp.response(200, NoteOut)
        def notes():
            return {}

        return [blp]

    with pytest.raises(PluginError, match=r"Plugin 'botched' failed in registering its REST blueprint 'botched_notes'"):
        create_app(CONFIG, extra_plugins=[plugin("botched", trellis_rest_blueprints=blueprints)])


def test_an_openapi_schema_name_taken_by_the_core_is_a_start_up_error_naming_both():
    from marshmallow import Schema, fields

    from api.rest.crud import Blueprint

    class CustomerOut(Schema):          # the core publishes a CustomerOut already
        nickname = fields.String()

    def blueprints():
        blp = Blueprint("copycat_things", "copycat_things", url_prefix="/things")

        @blp.route("")
        @blp.response(200, CustomerOut)
        def things():
            return {}

        return [blp]

    with pytest.raises(PluginError, match=r"Plugins 'core' and 'copycat' both have a REST schema named 'CustomerOut'"):
        create_app(CONFIG, extra_plugins=[plugin("copycat", trellis_rest_blueprints=blueprints)])


def test_trellis_plugins_none_runs_the_core_alone():
    app = create_app({**CONFIG, "PLUGINS": "none"})
    assert app.extensions["trellis"].plugins.enabled_names == ["core"]
    assert create_app({**CONFIG, "PLUGINS": "core"}).extensions["trellis"].plugins.enabled_names == ["core"]
    assert create_app({**CONFIG, "PLUGINS": "core,exhibitions"}).extensions["trellis"].plugins.enabled_names == [
        "core", "exhibitions"]
    with pytest.raises(ValueError, match="'none' cannot be combined"):
        create_app({**CONFIG, "PLUGINS": "none,exhibitions"})
