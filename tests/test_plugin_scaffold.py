"""`trellis plugins new NAME` writes a plugin package that installs, migrates, serves and passes its own
tests as generated: the files and names it writes, the names and directories it refuses, the generated
plugin loaded into an app (passed as a plugin object, no install), and its own tests run in a fresh
pytest process on this run's database (SQLite, or TRELLIS_TEST_DATABASE_URL's PostgreSQL)."""
from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from api.app import create_app
from api.cli import build_cli
from api.graphql import schema_of
from api.testing import app_config, check_contract, scratch_database
from core.migrate import upgrade
from trellis import scaffold

ROOT = Path(__file__).resolve().parents[1]
NAME = "scaffold_check"   # one generated plugin per session: its model joins the process's mapped classes


def plugins_new(*args, env=None):
    return CliRunner().invoke(build_cli(), ["plugins", "new", *args], env=env)


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("scaffold") / "trellis-scaffold-check"
    result = plugins_new(NAME, "--directory", str(target))
    assert result.exit_code == 0, result.output
    return target


def test_plugins_new_writes_an_installable_package(generated):
    files = sorted(p.relative_to(generated).as_posix() for p in generated.rglob("*") if p.is_file())
    [migration] = [f for f in files if f.startswith("trellis_scaffold_check/migrations/versions/") and
                   not f.endswith("__init__.py")]
    assert files == sorted([
        "README.md", "pyproject.toml", "tests/conftest.py", "tests/test_scaffold_check.py",
        "trellis_scaffold_check/__init__.py", "trellis_scaffold_check/models.py",
        "trellis_scaffold_check/services.py", "trellis_scaffold_check/rest.py", "trellis_scaffold_check/graphql.py",
        "trellis_scaffold_check/migrations/__init__.py", "trellis_scaffold_check/migrations/versions/__init__.py",
        migration])
    assert migration.endswith("_scaffold_check_items.py")
    project = tomllib.loads((generated / "pyproject.toml").read_text())
    assert project["project"]["name"] == "trellis-scaffold-check"
    assert project["project"]["dependencies"] == ["trellis-crm>=0.1,<0.2"]   # the running minor version
    assert project["project"]["entry-points"]["trellis.plugins"] == {NAME: "trellis_scaffold_check"}
    assert project["tool"]["setuptools"]["package-data"] == {
        "trellis_scaffold_check.migrations.versions": ["*.py"]}   # the migrations ship in the wheel
    revision = (generated / migration).read_text()
    assert f"depends_on: Union[str, Sequence[str], None] = '{scaffold.core_head()}'" in revision
    assert "branch_labels: Union[str, Sequence[str], None] = ('scaffold_check',)" in revision
    for path in generated.rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert "${" not in text, f"{path.name} keeps a placeholder"
            if path.suffix == ".py":
                compile(text, str(path), "exec")
    assert "$filter: ScaffoldCheckItemFilter" in (generated / "tests/test_scaffold_check.py").read_text()


def test_the_output_names_every_file_and_what_to_do_next(tmp_path):
    result = plugins_new("pet_clinic", "-d", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert f"Wrote the plugin 'pet_clinic' in {tmp_path / 'out'}/:" in result.output
    assert "  trellis_pet_clinic/models.py\n" in result.output and "  tests/test_pet_clinic.py\n" in result.output
    assert f'pip install -e "{tmp_path / "out"}[test]"' in result.output
    assert "README.md says what to change" in result.output


def test_the_default_directory_is_the_distribution_name_and_an_empty_one_is_used(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert plugins_new("pet_clinic").exit_code == 0
    assert (tmp_path / "trellis-pet-clinic" / "trellis_pet_clinic" / "__init__.py").is_file()
    (tmp_path / "empty").mkdir()
    assert plugins_new("dental", "-d", "empty").exit_code == 0
    assert (tmp_path / "empty" / "trellis_dental" / "models.py").is_file()
    assert not (tmp_path / "instance").exists()   # no app was built (no database, no instance folder)


@pytest.mark.parametrize("name", ["PetClinic", "pet-clinic", "1clinic", "_clinic", "clinic_", "pet__clinic",
                                  "pet clinic", "clinic!", "", "a" * 31])
def test_a_name_that_breaks_the_rule_is_refused_with_the_rule(tmp_path, name):
    result = plugins_new(name, "-d", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert f"'{name}' cannot name a plugin: use lowercase letters, digits and single underscores" in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name, reason", [("core", "is reserved"), ("class", "is reserved"),
                                          ("exhibitions", "is installed already")])
def test_reserved_and_installed_names_are_refused(tmp_path, name, reason):
    result = plugins_new(name, "-d", str(tmp_path / "out"))
    assert result.exit_code == 1 and reason in result.output
    assert not (tmp_path / "out").exists()


def test_a_directory_in_use_is_refused_and_left_alone(tmp_path):
    (tmp_path / "mine.txt").write_text("keep me")
    result = plugins_new("pet_clinic", "-d", str(tmp_path))
    assert result.exit_code == 1
    assert f"{tmp_path} is not empty: name a new or empty directory with --directory." in result.output
    assert [p.name for p in tmp_path.iterdir()] == ["mine.txt"]
    a_file = plugins_new("pet_clinic", "-d", str(tmp_path / "mine.txt"))
    assert a_file.exit_code != 0 and (tmp_path / "mine.txt").read_text() == "keep me"


def test_plugins_new_runs_when_the_app_cannot_start(tmp_path):
    result = plugins_new("pet_clinic", "-d", str(tmp_path / "out"), env={"TRELLIS_PLUGINS": "no_such_plugin"})
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "pyproject.toml").is_file()


def import_from(directory: Path, package: str):
    """A generated package imported from its directory: a plugin object, not an installed package."""
    sys.path.insert(0, str(directory))
    try:
        return importlib.import_module(package)
    finally:
        sys.path.remove(str(directory))


@pytest.fixture(scope="module")
def plugin_module(generated):
    return import_from(generated, "trellis_scaffold_check")


def test_the_package_imports_nothing_of_trellis_but_the_public_module(generated):
    imported = set()
    for source in (generated / "trellis_scaffold_check").rglob("*.py"):
        text = source.read_text(encoding="utf-8")
        imported |= set(re.findall(r"^\s*from (\S+) import", text, re.M))
        imported |= set(re.findall(r"^\s*import (\S+)", text, re.M))
    inside = sorted(m for m in imported if m.split(".")[0] in ("core", "api", "plugins"))
    assert inside == [] and "trellis.plugin" in imported


def test_two_generated_plugins_and_the_built_in_ones_start_together(plugin_module, tmp_path):
    """Everything the templates name is prefixed with the plugin's name: tables, REST schemas and
    blueprints, GraphQL types and fields, metrics, roles, workflows — two scaffolds never collide."""
    assert plugins_new("scaffold_other", "-d", str(tmp_path / "other")).exit_code == 0
    other = import_from(tmp_path / "other", "trellis_scaffold_other")
    app = create_app(app_config(f"sqlite:///{tmp_path / 'unused.db'}"), extra_plugins=[plugin_module, other])
    try:
        runtime = app.extensions["trellis"]
        assert {"exhibitions", NAME, "scaffold_other"} <= set(runtime.plugins.enabled_names)
        sdl = schema_of(app).as_str()
        assert "scaffoldCheckItems(" in sdl and "scaffoldOtherItems(" in sdl
    finally:
        app.extensions["trellis"].database.dispose()


def test_the_generated_plugin_migrates_serves_and_keeps_the_contract(plugin_module, tmp_path):
    with scratch_database(tmp_path / "scaffold.db", name="trellis_scaffold") as url:
        app = create_app(app_config(url, PLUGINS=NAME), extra_plugins=[plugin_module])
        try:
            upgrade(app.extensions["trellis"])
            assert check_contract(app, NAME) == []   # the template migration matches the model exactly
            rules = {rule.rule for rule in app.url_map.iter_rules()}
            assert {"/api/v1/scaffold-check/items", "/api/v1/scaffold-check/items/<uuid:record_id>/move"} <= rules
            assert app.test_client().get("/api/v1/scaffold-check/items").status_code == 401   # served, guarded
            sdl = schema_of(app).as_str()
            assert "scaffoldCheckItems(" in sdl and "moveScaffoldCheckItem(" in sdl
        finally:
            app.extensions["trellis"].database.dispose()


def test_the_generated_plugins_own_tests_pass_as_generated(generated, tmp_path):
    """Its tests, in a fresh pytest process on this run's database. The plugin is found through its entry
    point, declared as pip would (a dist-info folder on the path) without building a wheel; CI (.ci/run)
    installs a generated plugin with pip for real."""
    site = tmp_path / "site"
    dist_info = site / "trellis_scaffold_check-0.1.0.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: trellis-scaffold-check\nVersion: 0.1.0\n")
    (dist_info / "entry_points.txt").write_text(f"[trellis.plugins]\n{NAME} = trellis_scaffold_check\n")
    path = [str(generated), str(site), str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    # TRELLIS_PLUGINS: the test database gets the core's and this plugin's migrations only (quicker)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path), "TRELLIS_PLUGINS": NAME}
    run = subprocess.run([sys.executable, "-m", "pytest", "tests"], cwd=generated,
                         env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "8 passed" in run.stdout, run.stdout[-2000:]
