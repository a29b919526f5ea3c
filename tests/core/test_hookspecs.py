"""In the datasette manner: every hook is documented where it is declared and exercised by a test
named ``test_hook_<hook name>`` (they live in tests/test_sample_plugin.py)."""
from __future__ import annotations

import inspect
import re
from pathlib import Path

from core import hookspecs

HOOKS = sorted(name for name, fn in vars(hookspecs).items()
               if name.startswith("trellis_") and callable(fn))


def test_there_are_hooks():
    assert len(HOOKS) >= 10


def test_every_hook_is_documented():
    undocumented = [name for name in HOOKS if len((inspect.getdoc(getattr(hookspecs, name)) or "").split()) < 12]
    assert undocumented == []


def test_every_hook_has_a_test():
    source = "\n".join(p.read_text() for p in Path(__file__).parents[1].rglob("test_*.py"))
    tested = set(re.findall(r"def test_hook_(trellis_\w+)\(", source))
    assert [name for name in HOOKS if name not in tested] == []
