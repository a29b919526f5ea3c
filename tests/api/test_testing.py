"""The test kit (api/testing) that plugin authors get with Trellis: its pytest plugin is loaded through
the ``pytest11`` entry point (this suite uses it that way too), and its contract check finds a plugin's
departures — its own, not another's."""
from __future__ import annotations

import pytest

from api.app import create_app
from api.testing import app_config, check_contract
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
