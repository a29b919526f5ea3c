"""A plugin defined only in the tests extends models, migrations, REST, GraphQL, metrics, labels,
interaction kinds, the CLI and the demo — through the real app."""
from __future__ import annotations

import random

import pytest
from click.testing import CliRunner
from sqlalchemy import inspect as sa_inspect, select

from api.app import create_app
from core.demo import Progress
from core.errors import PluginError
from tests import sample_plugin
from api.testing import Api, app_config, bound, make_people


@pytest.fixture
def sample_app(engine, database_url):
    app = create_app(app_config(database_url), extra_plugins=[sample_plugin])
    app.config["TESTING"] = True
    return app


@pytest.fixture
def sample(sample_app, connection):
    with bound(sample_app, connection) as runtime:
        people = make_people(runtime)
        from core.services import users

        with runtime.database.unit_of_work():
            tokens = {role: users.create_token(getattr(people, role))[1] for role in ("admin", "rep", "rep2")}
        api = Api(sample_app.test_client(), tokens)
        yield api, runtime, people


def make_customer(api, who="rep"):
    return api.as_(who).post("/api/v1/customers", json={"name": "Plugin Corp"}).get_json()


def test_hook_trellis_models(sample):
    _, runtime, _ = sample
    assert runtime.tables["sample_note"] == "sample"


def test_hook_trellis_migrations(engine):
    # the session's schema was built by the real migrations, the sample plugin's branch included
    assert "sample_note" in sa_inspect(engine).get_table_names()


def test_hook_trellis_rest_blueprints(sample):
    api, _, _ = sample
    customer = make_customer(api)
    created = api.as_("rep").post("/api/v1/sample/notes", json={"customer_id": customer["id"], "text": "hi"})
    assert created.status_code == 201 and created.get_json()["text"] == "hi"
    listed = api.as_("rep").get(f"/api/v1/sample/notes/by-customer/{customer['id']}").get_json()
    assert [n["text"] for n in listed] == ["hi"]
    # the core's permission rules hold for the plugin's records too
    assert api.as_("rep2").get(f"/api/v1/sample/notes/by-customer/{customer['id']}").status_code == 404
    bad = api.as_("rep").post("/api/v1/sample/notes", json={"customer_id": customer["id"], "text": ""})
    assert bad.status_code == 422 and "text" in bad.get_json()["errors"]["json"]


def test_plugin_paths_are_in_the_openapi_document(sample):
    api, _, _ = sample
    spec = api.as_("rep").get("/api/v1/openapi.json").get_json()
    assert "/api/v1/sample/notes" in spec["paths"]


def test_hook_trellis_graphql_types(sample):
    api, _, _ = sample
    customer = make_customer(api)
    api.as_("rep").post("/api/v1/sample/notes", json={"customer_id": customer["id"], "text": "a note", "score": 7})
    body = api.as_("rep").graphql("query($id: ID!) { sampleNotes(filter: {customerId: $id}) { edges { node { "
                                  "text score } } } }", {"id": customer["id"]})
    assert body.get("errors") is None, body
    assert body["data"]["sampleNotes"] == {"edges": [{"node": {"text": "a note", "score": 7}}]}


def test_hook_trellis_graphql_query_fields(sample):
    api, _, _ = sample
    body = api.as_("rep").graphql("{ __schema { queryType { fields { name } } } }")
    assert "sampleNotes" in {f["name"] for f in body["data"]["__schema"]["queryType"]["fields"]}


def test_hook_trellis_graphql_type_fields(sample):
    api, _, _ = sample
    customer = make_customer(api)
    for text in ("one", "two"):
        api.as_("rep").post("/api/v1/sample/notes", json={"customer_id": customer["id"], "text": text})
    body = api.as_("rep").graphql("{ customers(first: 10) { edges { node { name sampleNoteCount } } } }")
    assert body.get("errors") is None, body
    assert body["data"]["customers"]["edges"] == [{"node": {"name": "Plugin Corp", "sampleNoteCount": 2}}]


def test_app_without_the_plugin_has_no_trace_of_it(api):
    body = api.as_("rep").graphql("{ customers(first: 1) { edges { node { sampleNoteCount } } } }")
    assert body["errors"] and "sampleNoteCount" in body["errors"][0]["message"]
    assert api.as_("rep").post("/api/v1/sample/notes", json={}).status_code == 404


def test_hook_trellis_graphql_mutation_fields(sample_app):
    import strawberry

    from core.hookspecs import hookimpl
    from types import SimpleNamespace

    def fields(registry):
        def ping(word: str) -> str:
            return word.upper()

        return {"samplePing": strawberry.mutation(resolver=ping)}

    extra = SimpleNamespace(name="pinger", version="1", trellis_graphql_mutation_fields=hookimpl(fields))
    app = create_app({"DATABASE_URL": "sqlite://"}, extra_plugins=[extra])
    from api.graphql import sdl

    assert "samplePing(word: String!): String\n" in sdl(app)   # root fields are nullable (docs/graphql.md)


def test_hook_trellis_metrics(sample):
    api, _, _ = sample
    customer = make_customer(api)
    api.as_("rep").post("/api/v1/sample/notes", json={"customer_id": customer["id"], "text": "x"})
    names = [m["name"] for m in api.as_("rep").get("/api/v1/metrics").get_json()]
    assert "sample_notes" in names
    assert api.as_("rep").get("/api/v1/metrics/sample_notes").get_json()["rows"][0]["value"] == 1
    assert api.as_("rep2").get("/api/v1/metrics/sample_notes").get_json()["rows"][0]["value"] == 0
    body = api.as_("rep").graphql('{ metric(name: "sample_notes") { rows { value } } }')
    assert body.get("errors") is None, body
    assert body["data"]["metric"]["rows"][0]["value"] == 1


def test_hook_trellis_interaction_kinds(sample):
    api, _, _ = sample
    customer = make_customer(api)
    response = api.as_("rep").post("/api/v1/interactions", json={"customer_id": customer["id"], "kind": "sample_ping"})
    assert response.status_code == 201


def test_hook_trellis_labels(sample):
    api, _, _ = sample
    labels = api.as_("rep").get("/api/v1/labels").get_json()
    assert labels["sample_mood"][1] == {"value": "grumpy", "en": "Grumpy", "zh_cn": "不高兴"}
    assert {"value": "sample_ping", "en": "Sample ping", "zh_cn": "示例提醒"} in labels["interaction_kind"]


def test_hook_trellis_cli_commands(sample_app):
    from api.cli import build_cli

    result = CliRunner().invoke(build_cli(sample_app), ["sample-hello"])
    assert result.exit_code == 0 and result.output.strip() == "hello from sample"


def test_hook_trellis_demo_data(sample):
    api, runtime, people = sample
    others = [p.obj for p in runtime.plugins.enabled if p.name != "sample"]
    only_sample = runtime.plugins.pm.subset_hook_caller("trellis_demo_data", remove_plugins=others)
    with runtime.database.unit_of_work():
        # the sample's implementation leaves `progress` out, as a plugin written before it existed does
        only_sample(admin=people.admin, rng=random.Random(1), progress=Progress("sample"))
    listed = api.as_("admin").get("/api/v1/customers?q=Sample demo").get_json()
    assert len(listed) == 1
    notes = api.as_("admin").get(f"/api/v1/sample/notes/by-customer/{listed[0]['id']}").get_json()
    assert notes[0]["text"].startswith("made by the sample plugin")


def test_hook_trellis_personal_data(sample):
    api, _, _ = sample
    customer = api.as_("admin").post("/api/v1/customers", json={"kind": "person", "name": "Noted Person"}).get_json()
    api.as_("admin").post("/api/v1/sample/notes", json={"customer_id": customer["id"], "text": "Noted Person, 555-0199"})
    doc = api.as_("admin").get(f"/api/v1/privacy/export?person={customer['id']}").get_json()
    assert [n["text"] for n in doc["components"]["sample"]["sample_note"]] == ["Noted Person, 555-0199"]
    report = api.as_("admin").post("/api/v1/privacy/erase?wait=true", json={"person": customer["id"], "reason": "asked"}).get_json()
    assert report["erased"]["sample"] == {"sample_note": 1}
    notes = api.as_("admin").get(f"/api/v1/sample/notes/by-customer/{customer['id']}").get_json()
    assert [n["text"] for n in notes] == ["[erased]"]


def test_hook_trellis_merge_customers(sample):
    api, runtime, _ = sample
    survivor = api.as_("admin").post("/api/v1/customers", json={"name": "Noted Co"}).get_json()
    merged = api.as_("admin").post("/api/v1/customers", json={"name": "NOTED  CO"}).get_json()
    api.as_("admin").post("/api/v1/sample/notes", json={"customer_id": merged["id"], "text": "moves"})
    response = api.as_("admin").post(f"/api/v1/customers/{survivor['id']}/merge", json={"merged_id": merged["id"]})
    assert response.status_code == 200, response.get_json()
    notes = api.as_("admin").get(f"/api/v1/sample/notes/by-customer/{survivor['id']}").get_json()
    assert [n["text"] for n in notes] == ["moves"]
    with runtime.database.unit_of_work() as s:
        from core.models import OutboxEvent

        event = s.scalars(select(OutboxEvent).where(OutboxEvent.name == "customer.merged")).one()
        assert event.payload["moved"]["sample"] == {"notes": 1}


def test_hook_trellis_import_types(sample_app, sample, tmp_path):
    api, runtime, _ = sample
    customer = api.as_("admin").post("/api/v1/customers", json={"name": "Imported Notes Co"}).get_json()
    path = tmp_path / "notes.csv"
    path.write_text(f"external_id,customer_id,text,score\nN1,{customer['id']},First,3\nN2,{customer['id']},,1\n")
    invoke = lambda: CliRunner().invoke(_cli(sample_app), ["import", "sample.notes", str(path)])  # noqa: E731
    first = invoke()
    assert "2 rows imported: 1 created, 0 updated, 0 unchanged, 1 with errors" in first.stdout
    assert "row 3, text: Missing data for required field." in first.stderr
    assert "0 created, 0 updated, 1 unchanged" in invoke().stdout
    path.write_text(f"external_id,customer_id,text,score\nN1,{customer['id']},First,5\n")
    assert "0 created, 1 updated, 0 unchanged" in invoke().stdout
    notes = api.as_("admin").get(f"/api/v1/sample/notes/by-customer/{customer['id']}").get_json()
    assert [(n["text"], n["score"], n["version"]) for n in notes] == [("First", 5, 2)]
    types = {t["name"] for t in api.as_("admin").get("/api/v1/imports/types").get_json()}
    assert "sample.notes" in types


def test_a_plugin_import_type_with_an_export_declaration_exports_and_imports_back(sample_app, sample, tmp_path):
    api, runtime, _ = sample
    mine = api.as_("rep").post("/api/v1/customers", json={"name": "Rep's Co"}).get_json()
    other = api.as_("admin").post("/api/v1/customers", json={"name": "Admin's Co"}).get_json()
    path = tmp_path / "notes.csv"
    path.write_text(f"external_id,customer_id,text,score\nN1,{mine['id']},Mine,3\nN2,{other['id']},Not mine,1\n"
                    f"N3,{mine['id']},Also mine,0\n")
    assert "3 created" in CliRunner().invoke(_cli(sample_app), ["import", "sample.notes", str(path)]).stdout
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(_cli(sample_app), ["export", "sample.notes", "--filter", f"customer_id={mine['id']}",
                                                   "-o", str(out)])
    assert result.exit_code == 0, result.output
    import json

    rows = sorted((json.loads(line) for line in out.read_text().splitlines()), key=lambda r: r["external_id"])
    assert rows == [   # the customer has no external id: named by its Trellis id, which re-imports here
        {"external_id": "N1", "customer_external_id": None, "customer_id": mine["id"], "text": "Mine", "score": 3},
        {"external_id": "N3", "customer_external_id": None, "customer_id": mine["id"], "text": "Also mine", "score": 0}]
    again = CliRunner().invoke(_cli(sample_app), ["import", "sample.notes", str(out)])
    assert "2 rows imported: 0 created, 0 updated, 2 unchanged, 0 with errors" in again.stdout
    # over REST, within the caller's scope: the rep's notes only
    body = api.as_("rep").get("/api/v1/exports/sample.notes").get_data(as_text=True)
    assert sorted(line.split(",")[0] for line in body.splitlines()[1:]) == ["N1", "N3"]


def _cli(app):
    from api.cli import build_cli

    return build_cli(app)


def test_a_personal_data_declaration_is_checked_at_start_up(database_url):
    import types

    from core.hookspecs import hookimpl
    from core.models import Customer
    from core.privacy import PersonalData

    def plugin(name, **declaration):
        module = types.ModuleType(name)
        module.name = name
        module.trellis_models = hookimpl(lambda: [sample_plugin.SampleNote])
        module.trellis_personal_data = hookimpl(lambda: [PersonalData(rows=lambda p: None, **declaration)])
        return module

    for declaration, error in (
            ({"model": Customer, "fields": ("name",)}, "'sample' declares personal data in 'customer', a table it does not"),
            ({"model": sample_plugin.SampleNote, "fields": ("txt",)}, "'sample_note.txt', which is not a column"),
            ({"model": sample_plugin.SampleNote, "fields": ("score",)}, "neither text, JSON nor nullable")):
        with pytest.raises(PluginError, match=error):
            create_app(app_config(database_url), extra_plugins=[plugin("sample", **declaration)])
