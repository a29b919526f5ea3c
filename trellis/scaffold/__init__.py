"""``trellis plugins new NAME``: write the package of a new industry plugin, ready to install with pip.

What it writes (``NAME`` ``pet_clinic``: package ``trellis_pet_clinic``, distribution ``trellis-pet-clinic``)
comes from the templates beside this module (``templates/``, shipped as package data), rendered with
:class:`string.Template` placeholders of the braced form only (``${name}``), so the ``$variables`` of the
GraphQL queries in the templates stay as they are. As generated, the package installs, migrates, serves
and passes its own tests (CI checks it, ``.ci/run``): one record (``<name>_item``) and the migration that
creates it, REST and GraphQL from its ``RecordSpec``, a workflow, a metric, a role with its record scope,
demo data, a README saying what to change next, and tests using the test kit.

The first migration is a template too, written to match the model exactly (the generated tests'
``contract`` check compares them); it depends on the core's migration head of the Trellis that writes it.
"""
from __future__ import annotations

import keyword
import re
import string
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

__all__ = ["NAME_RULE", "Plugin", "ScaffoldError", "check_name", "render", "write"]

TEMPLATES = Path(__file__).parent / "templates"

#: the rule a plugin's name must keep, as users are told when it does not
NAME_RULE = ("lowercase letters, digits and single underscores, starting with a letter and ending with a "
             "letter or digit, at most 30 characters (e.g. pet_clinic)")
_NAME = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*\Z")
MAX_LENGTH = 30   # the longest generated identifier, fk_<name>_item_customer_id_customer, fits PostgreSQL's 63


class ScaffoldError(Exception):
    """Why the package cannot be written (a bad name, a target directory in use): one line for the user."""


class _Template(string.Template):
    # only ${braced} placeholders: `$id` in a GraphQL query of a template is left alone; `$${` writes `${`
    pattern = r"\$(?:(?P<escaped>\$(?=\{))|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)\}|(?P<named>(?!))|(?P<invalid>(?!)))"


@dataclass(frozen=True)
class Plugin:
    """The names a new plugin's package is written with, all derived from its ``name``."""

    name: str           # pet_clinic: the plugin's name, the prefix of its tables, metrics, roles …
    core_head: str      # the core's migration head the first revision depends on
    requirement: str    # trellis-crm>=0.1,<0.2
    revision: str       # the first revision's id

    @property
    def values(self) -> dict[str, str]:
        camel = "".join(part.capitalize() for part in self.name.split("_"))
        return {
            "name": self.name,
            "Name": camel,                                  # PetClinic: GraphQL types, model classes
            "camel": camel[:1].lower() + camel[1:],         # petClinic: GraphQL fields
            "slug": self.name.replace("_", "-"),            # pet-clinic: the REST prefix /api/v1/pet-clinic
            "title": self.name.replace("_", " ").capitalize(),
            "package": f"trellis_{self.name}",
            "distribution": f"trellis-{self.name.replace('_', '-')}",
            "requirement": self.requirement,
            "revision": self.revision,
            "core_head": self.core_head,
            "created": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
        }


def check_name(name: str, taken: set[str] | frozenset[str] = frozenset()) -> str:
    """``name`` if a plugin may be called so, else :class:`ScaffoldError` stating the rule."""
    from core.plugins import CORE_NAME

    if not _NAME.match(name) or len(name) > MAX_LENGTH:
        raise ScaffoldError(f"'{name}' cannot name a plugin: use {NAME_RULE}.")
    if keyword.iskeyword(name) or name == CORE_NAME:
        raise ScaffoldError(f"'{name}' is reserved: choose another name ({NAME_RULE}).")
    if name in taken:
        raise ScaffoldError(f"A plugin named '{name}' is installed already: choose another name.")
    return name


def installed_plugin_names() -> set[str]:
    """The names of the plugins installed here (their entry points, not imported)."""
    from importlib.metadata import entry_points

    from core.plugins import ENTRY_POINT_GROUP

    return {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}


def core_head() -> str:
    """The revision id of the core's migration head (its own branch only)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from core import core_plugin, migrate
    from core.plugins import CORE_NAME

    cfg = Config()
    cfg.set_main_option("script_location", str(migrate.MIGRATIONS_DIR).replace("%", "%%"))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", str(core_plugin.trellis_migrations()).replace("%", "%%"))
    return ScriptDirectory.from_config(cfg).get_revision(f"{CORE_NAME}@head").revision


def requirement() -> str:
    """``trellis-crm`` within the minor version running now: ``trellis-crm>=0.1,<0.2``."""
    from importlib.metadata import PackageNotFoundError, version

    from core import core_plugin

    try:
        current = version("trellis-crm")
    except PackageNotFoundError:   # a source tree that was never installed
        current = core_plugin.version
    major, minor = (int(part) for part in re.findall(r"\d+", current)[:2])
    return f"trellis-crm>={major}.{minor},<{major}.{minor + 1}"


def _target_path(template: Path, values: dict[str, str]) -> str:
    relative = template.relative_to(TEMPLATES).as_posix().removesuffix(".tmpl")
    relative = re.sub(r"^package/", f"{values['package']}/", relative)
    relative = relative.replace("tests/test_plugin.py", f"tests/test_{values['name']}.py")
    return relative.replace("versions/revision.py", f"versions/{values['revision']}_{values['name']}_items.py")


def render(plugin: Plugin) -> dict[str, str]:
    """Every file of the package, ``{relative path: text}``."""
    values = plugin.values
    files = {}
    for template in sorted(TEMPLATES.rglob("*.tmpl")):
        files[_target_path(template, values)] = _Template(template.read_text(encoding="utf-8")).substitute(values)
    return files


def write(name: str, directory: str | Path | None = None) -> tuple[Path, list[str]]:
    """Write the package of the plugin ``name`` into ``directory`` (default ``./trellis-<name>``, dashes for
    underscores), which must not exist or be empty; return the directory and the files written."""
    check_name(name, installed_plugin_names())
    plugin = Plugin(name=name, core_head=core_head(), requirement=requirement(), revision=uuid.uuid4().hex[:12])
    target = Path(directory) if directory is not None else Path(plugin.values["distribution"])
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ScaffoldError(f"{target} is {'not empty' if target.is_dir() else 'a file'}: "
                            "name a new or empty directory with --directory.")
    files = render(plugin)
    for relative, text in files.items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return target, sorted(files)
