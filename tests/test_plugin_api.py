"""The public plugin API (trellis/plugin.py): every name documented, the generated reference
(docs/plugins-reference.md) current, and the sample plugin — standing in for a third-party one — built
from it alone."""
from __future__ import annotations

import ast
from pathlib import Path

from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent


def test_every_name_of_the_plugin_api_says_what_it_is():
    from trellis.reference import undocumented

    assert undocumented() == []


def test_the_committed_reference_is_what_the_docstrings_say_now():
    """Regenerate it with ``trellis plugins reference > docs/plugins-reference.md``."""
    from trellis.reference import render

    assert (ROOT / "docs" / "plugins-reference.md").read_text(encoding="utf-8") == render()


def test_trellis_plugins_reference_prints_it():
    from api.cli import build_cli
    from trellis.reference import render

    result = CliRunner().invoke(build_cli(), ["plugins", "reference"])
    assert result.exit_code == 0, result.output
    assert result.output == render()
    assert "### class `BulkRecorder`" in result.output and "## GraphQL" in result.output


def test_the_sample_plugin_imports_nothing_of_trellis_but_the_public_module():
    tree = ast.parse((ROOT / "tests" / "sample_plugin" / "__init__.py").read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    inside = sorted(m for m in imported if m.split(".")[0] in ("core", "api", "plugins"))
    assert inside == []
    assert "trellis.plugin" in imported


def test_every_name_in_all_is_importable_and_sections_list_each_once():
    from trellis import plugin

    names = [name for names in plugin.SECTIONS.values() for name in names]
    assert len(names) == len(set(names)) == len(plugin.__all__)
    assert all(hasattr(plugin, name) for name in names)
