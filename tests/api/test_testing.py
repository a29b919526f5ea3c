"""The test kit (api/testing) that plugin authors get with Trellis: its pytest plugin is loaded through
the ``pytest11`` entry point (this suite uses it that way too), and its contract check finds a plugin's
departures — its own, not another's."""
from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest
import strawberry
from sqlalchemy import ForeignKey, String, select, true
from sqlalchemy.orm import Mapped, mapped_column

from api.app import create_app
from api.testing import app_config, check_contract
from core.db import Base, Record
from core.hookspecs import hookimpl
from tests.core.test_migrations import ScratchpadThing, make_plugin

BUILT_IN = ["exhibitions", "retail_membership", "property_service"]


def test_the_kit_is_a_pytest_plugin_found_through_its_entry_point(pytestconfig):
    from importlib.metadata import entry_points

    [entry] = [e for e in entry_points(group="pytest11") if e.name == "trellis"]
    assert entry.value == "api.testing.pytest_plugin"
    assert pytestconfig.pluginmanager.get_plugin("trellis") is not None


def test_the_kit_gives_people_tokens_and_clients(api, people):
    assert api.as_("rep").get("/auth/me").get_json()["email"] == "rep@example.com"
    assert api.as_(None).get("/api/v1/customers").status_code == 401
    assert api.as_("manager").graphql("{ me { email } }")["data"]["me"]["email"] == people.manager.email


@pytest.mark.parametrize("plugin", BUILT_IN)
def test_the_built_in_plugins_keep_the_contract(contract, plugin):
    assert contract(plugin) == []


def test_the_contract_check_names_a_plugins_missing_migration_and_only_its_own(database_url, engine, tmp_path):
    missing = make_plugin("scratchpad", ScratchpadThing, tmp_path / "versions")   # a model, no migration
    app = create_app(app_config(database_url), extra_plugins=[missing])
    try:
        problems = check_contract(app, "scratchpad")
        assert len(problems) == 1 and "add_table" in problems[0] and "scratchpad_thing" in problems[0]
        assert "trellis db revision -c scratchpad" in problems[0]
        assert check_contract(app, "exhibitions") == []
        with pytest.raises(ValueError, match="'nobody' is not enabled"):
            check_contract(app, "nobody")
    finally:
        app.extensions["trellis"].database.dispose()


# --- every record scoped, every change audited -------------------------------------------------------------

class CarelessNote(Base, Record):
    """A note about a customer (a fake plugin's record with no scope)."""

    __tablename__ = "careless_note"

    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(String(200), default="")


class CarelessTag(Base, Record):
    """A tag clients fetch by id (``node(id:)``), with no scope."""

    __tablename__ = "careless_tag"

    label: Mapped[str] = mapped_column(String(40), default="")


class CarelessLine(Base, Record):
    """A note's line, audited on its note's entry."""

    __tablename__ = "careless_line"
    __audited_with__ = "note_id"
    __audit_exempt__ = ("seen",)

    note_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("careless_note.id", ondelete="CASCADE"))
    seen: Mapped[int] = mapped_column(default=0)


def careless_plugin(**hooks):
    def graphql_types(registry):
        @registry.type("CarelessTag")
        class CarelessTagType:
            """A tag."""

            id: strawberry.ID = strawberry.field(description="Its id.")
            label: str = strawberry.field(description="Its label.")

    return SimpleNamespace(name="careless", version="0.0.1",
                           trellis_models=hookimpl(lambda: [CarelessNote, CarelessTag, CarelessLine]),
                           trellis_graphql_types=hookimpl(graphql_types),
                           **{k: hookimpl(v) for k, v in hooks.items()})


def test_a_record_about_customers_or_fetched_by_id_without_a_scope_breaks_the_contract(database_url, engine):
    from api.testing.audit import AuditWatch, Unaudited

    watch = AuditWatch()
    watch.unaudited += [Unaudited("careless", "careless_note", uuid.uuid4(), "created", "tests/x.py::test_y"),
                        Unaudited("exhibitions", "exhibitions_booth", uuid.uuid4(), "created")]
    app = create_app(app_config(database_url), extra_plugins=[careless_plugin()])
    try:
        problems = check_contract(app, "careless", audit_watch=watch)
    finally:
        app.extensions["trellis"].database.dispose()
    assert [p for p in problems if p.startswith("every change audited")] == [
        "every change audited: a 'careless_note' record was created in tests/x.py::test_y with no audit entry "
        "(call record_change(actor, verb, record, changes) in the service that writes it)"]   # its own only
    assert [p for p in problems if p.startswith("every record scoped")] == [
        "every record scoped: CarelessNote ('careless_note') has no record scope, and it holds customer data (a "
        "foreign key to customer). Return {CarelessNote: scope} from trellis_record_scopes (scope(actor) -> a "
        "condition; `lambda actor: true()` to share it with everyone)",
        "every record scoped: CarelessTag ('careless_tag') has no record scope, and its GraphQL type CarelessTag "
        "is fetched by id. Return {CarelessTag: scope} from trellis_record_scopes (scope(actor) -> a condition; "
        "`lambda actor: true()` to share it with everyone)",
    ]   # CarelessLine: no customer key of its own, no type: read through its note

    assert [p for p in problems if p.startswith("customer records follow a merge")] == [
        "customer records follow a merge: CarelessNote ('careless_note') point at customers, but the plugin does "
        "not implement trellis_merge_customers: a merge of duplicate customers would leave these rows on the "
        "hidden duplicate. Move them to the survivor (trellis.plugin.move_customer_rows) or refuse with Conflict"]

    scoped = careless_plugin(trellis_record_scopes=lambda: {CarelessNote: lambda actor: CarelessNote.text != "",
                                                           CarelessTag: lambda actor: true()})
    app = create_app(app_config(database_url), extra_plugins=[scoped])
    try:
        assert not [p for p in check_contract(app, "careless") if p.startswith("every record scoped")]
    finally:
        app.extensions["trellis"].database.dispose()


def test_a_record_written_without_an_audit_entry_breaks_the_contract(database_url, connection, people):
    from api.testing.audit import AuditWatch
    from core.db import session
    from core.services.audit import record_change
    from core.services.customers import create as create_customer
    from tests.api.graphql.helpers import app_with

    with app_with(database_url, connection, careless_plugin(), people=people) as (api, runtime):
        for model in (CarelessNote, CarelessTag, CarelessLine):
            model.__table__.create(connection)
        with AuditWatch() as watch:
            with runtime.database.unit_of_work():
                customer = create_customer(people.rep, {"name": "Acme"})
                careless = CarelessNote(customer_id=customer.id, text="no entry")
                session().add(careless)
            with runtime.database.unit_of_work():
                audited = CarelessNote(customer_id=customer.id, text="audited")
                session().add(audited)
                session().flush()
                session().add(CarelessLine(note_id=audited.id))          # covered by its note's entry
                record_change(people.rep, "created", audited)
            with runtime.database.unit_of_work():
                session().add(CarelessTag(label="rolled back with its unit of work"))
                session().rollback()
            with runtime.database.unit_of_work():
                with session().begin_nested() as savepoint:
                    session().add(CarelessTag(label="rolled back with its savepoint"))
                    session().flush()
                    savepoint.rollback()
                line = session().scalar(select(CarelessLine))
                line.seen = 1                                             # exempt: not a change of its own
            with runtime.database.unit_of_work():
                careless.text = "changed, no entry"
                session().add(careless)
        problems = sorted(str(u) for u in watch.found("careless"))   # what check_contract adds to its list
    test = "tests/api/test_testing.py::test_a_record_written_without_an_audit_entry_breaks_the_contract"
    assert problems == [
        f"every change audited: a 'careless_note' record was changed (text) in {test} with no audit entry "
        "(call record_change(actor, verb, record, changes) in the service that writes it)",
        f"every change audited: a 'careless_note' record was created in {test} with no audit entry "
        "(call record_change(actor, verb, record, changes) in the service that writes it)",
    ]
    assert watch.found("exhibitions") == []


def test_import_costs_counts_a_new_file_of_10_of_100_and_a_rerun(people, import_costs):
    def customers(first, n):
        return "external_id,name,kind\n" + "".join(f"K{i},Kit {i},company\n" for i in range(first, first + n))

    costs = import_costs("customers", customers)
    assert set(costs) == {10, 100, "rerun"} and all(count > 0 for count in costs.values()), costs
    assert costs[10] == costs[100] and costs["rerun"] < costs[100], costs
