"""The plugin API reference (docs/plugins-reference.md), generated from :mod:`trellis.plugin`: each name
with where it lives, its signature and its docstring, section by section. ``trellis plugins reference``
prints it; ``tests/test_plugin_api.py`` fails when the committed file differs, so it cannot rot."""
from __future__ import annotations

import dataclasses
import inspect
import re
import typing
from typing import Any

HEADER = """# The plugin API, name by name

Generated from `trellis/plugin.py` by `trellis plugins reference` — do not edit; change the docstrings
and run `trellis plugins reference > docs/plugins-reference.md`. Everything here is importable as
`from trellis.plugin import <name>`; [plugins.md](plugins.md) shows them at work. The hooks themselves
are documented in [`core/hookspecs.py`](../core/hookspecs.py).
"""

_NOTES = {
    "hookimpl": "The marker of a hook implementation: decorate each `trellis_*` function of your plugin "
                "module with `@hookimpl` (pluggy's `HookimplMarker(\"trellis\")`). The hooks, their "
                "arguments and what they return are documented in `core/hookspecs.py`.",
    "ANY": "A transition's `source` meaning every state (`Transition(ANY, \"cancelled\")`).",
    "MANUAL": "A trigger: a person's move through the API (`transition(..., trigger=MANUAL)`, the default).",
    "AUTOMATIC": "A trigger: a move made by an event handler or a job.",
    "IMPORT": "A trigger: a move made by an import (bulk loads, an admin's create in a later state).",
    "First": "The annotation of a connection's `first` argument (with its description): `first: First = None`.",
    "After": "The annotation of a connection's `after` argument: a cursor, the records after it.",
    "Last": "The annotation of a connection's `last` argument: read backward.",
    "Before": "The annotation of a connection's `before` argument: a cursor, the records before it.",
    "EXTERNAL_ID": "The `external_id` column every import type declares first (`ImportType(..., (EXTERNAL_ID, ...))`): "
                   "the record's id in the system it comes from, by which a re-import finds it (`keyed_rows`).",
    "CUSTOMER_REF": "The columns `customer_external_id` and `customer_id` of a record that belongs to a customer "
                    "(`(EXTERNAL_ID, *CUSTOMER_REF, ...)`); `resolve_customers` turns them into `customer_id`.",
    "MoneyScalar": "The GraphQL `Money` scalar (a `Decimal` in Python, a decimal string on the wire): "
                   "annotate money fields with it (`price: MoneyScalar`). `input_from_schema` and "
                   "`type_from_schema` map a marshmallow `Money` field to it for you.",
}


def _home(obj: Any) -> str:
    return getattr(obj, "__module__", "") or ""


def _clean(text: str) -> str:
    """reStructuredText roles (``:class:`X```) → Markdown code; the rest of a docstring is Markdown-ready."""
    text = re.sub(r":(?:class|func|meth|mod|data|attr|exc):`~?([^`]+)`", r"`\1`", text)
    return text.replace("``", "`")


def _signature(obj: Any) -> str:
    try:
        text = str(inspect.signature(obj))
    except (TypeError, ValueError):
        return ""
    # a sentinel default (``version=<object object at 0x7f…>``) prints an address that changes every run
    return re.sub(r"<object object at 0x[0-9a-f]+>", "(not given)", text)


def _members(cls: type) -> list[tuple[str, Any]]:
    """The public methods and properties ``cls`` itself defines, with a docstring (SQLAlchemy's and
    marshmallow's inherited machinery is theirs to document)."""
    out = []
    for name, value in vars(cls).items():
        if name.startswith("_") or not (inspect.isfunction(value) or isinstance(value, (property, classmethod,
                                                                                         staticmethod))):
            continue
        target = value.__func__ if isinstance(value, (classmethod, staticmethod)) else value
        if (getattr(target, "__doc__", None) or "").strip():
            out.append((name, target))
    return out


def _entry(name: str, obj: Any) -> str:
    lines = []
    if name in _NOTES:
        lines += [f"### `{name}`", "", _NOTES[name]]
    elif inspect.isclass(obj):
        fields = ""
        if dataclasses.is_dataclass(obj) or issubclass(obj, tuple):
            fields = _signature(obj)
        lines += [f"### class `{name}{fields}`", "", f"*{_home(obj)}.{obj.__qualname__}*", "",
                  _clean(inspect.getdoc(obj) or "")]
        for member, target in _members(obj):
            if isinstance(target, property):
                lines += ["", f"- `{name}.{member}` (property): {_clean(inspect.getdoc(target) or '')}"]
            else:
                doc = _clean(inspect.getdoc(target) or "").replace("\n", "\n  ")
                lines += ["", f"- `{name}.{member}{_signature(target)}`: {doc}"]
    elif callable(obj):
        real = getattr(obj, "__name__", name)
        alias = f" `{_home(obj)}.{real}`" if real != name else f" `{_home(obj)}`"
        lines += [f"### `{name}{_signature(obj)}`", "", f"*from{alias}*", "", _clean(inspect.getdoc(obj) or "")]
    else:
        lines += [f"### `{name}`", "", f"`{obj!r}`"]
    return "\n".join(lines).rstrip() + "\n"


def render() -> str:
    """The whole reference, as docs/plugins-reference.md holds it."""
    from trellis import plugin

    parts = [HEADER]
    for section, names in plugin.SECTIONS.items():
        parts.append(f"## {section}\n")
        parts += [_entry(name, getattr(plugin, name)) for name in names]
    return "\n".join(parts)


def undocumented() -> list[str]:
    """The names of the plugin API that say nothing of themselves (no docstring and no note here)."""
    from trellis import plugin

    out = []
    for name in plugin.__all__:
        obj = getattr(plugin, name)
        if name in _NOTES:
            continue
        doc = (obj.__doc__ or "").strip() if (inspect.isclass(obj) or inspect.isfunction(obj)) else None
        if doc is not None and (not doc or (inspect.isclass(obj) and doc.startswith(f"{obj.__name__}("))):
            out.append(name)   # none, or the signature a dataclass writes for itself
        elif not (inspect.isclass(obj) or callable(obj)) and typing.get_origin(obj) is None:
            out.append(name)
    return out
