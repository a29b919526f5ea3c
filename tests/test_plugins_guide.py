"""docs/plugins.md, the plugin tutorial, shows the example plugin's code (examples/training) as it is: every
code block preceded by ``<!-- file: path -->`` must appear, word for word and in one piece, in that file,
so the tutorial cannot drift from the plugin CI installs and tests."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "plugins.md"
# an HTML comment naming a file, then (blank lines allowed) a fenced block: its language and its body
BLOCK = re.compile(r"<!-- file: (?P<path>\S+) -->\n\s*```[\w-]*\n(?P<body>.*?)\n```", re.S)


def blocks() -> list[tuple[str, str]]:
    return [(m["path"], m["body"]) for m in BLOCK.finditer(GUIDE.read_text(encoding="utf-8"))]


def test_every_block_naming_a_file_is_an_excerpt_of_it():
    found = blocks()
    assert len(found) >= 8, f"only {len(found)} blocks name their file"
    stale = []
    for path, body in found:
        source = ROOT / path
        assert source.is_file(), f"docs/plugins.md names {path}, which does not exist"
        if body not in source.read_text(encoding="utf-8"):
            stale.append(f"{path}: {body.splitlines()[0]!r}…")
    assert stale == [], "blocks that are no longer in their file (copy them again):\n" + "\n".join(stale)


def test_every_file_comment_is_followed_by_a_block():
    """A comment whose block went missing (or lost its fence) would otherwise check nothing."""
    text = GUIDE.read_text(encoding="utf-8")
    assert text.count("<!-- file: ") == len(blocks())


def test_the_example_plugin_imports_nothing_of_trellis_but_the_public_module():
    imported = set()
    for source in (ROOT / "examples" / "training" / "trellis_training").glob("*.py"):
        text = source.read_text(encoding="utf-8")
        imported |= set(re.findall(r"^\s*from (\S+) import", text, re.M))
        imported |= set(re.findall(r"^\s*import (\S+)", text, re.M))
    inside = sorted(m for m in imported if m.split(".")[0] in ("core", "api", "plugins"))
    assert inside == [] and "trellis.plugin" in imported
