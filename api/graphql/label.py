"""One shape for bilingual text: ``type Label { en: String!  zhCn: String! }``.

Every English/Chinese pair the schema exposes is a ``Label`` (docs/graphql.md, "Enums and labels"): a
vocabulary's ``Choice.label``, a workflow's and its states' ``label``, a metric's ``label``, an RFM
segment's ``label``, a segment's ``profile``, a service team's ``name`` … A record storing
``label_en`` + ``label_zh_cn`` (or ``name`` + ``name_zh_cn``) answers ``label: Label!`` (``name: Label!``).
The core registers the type; a plugin refers to it and builds values with :func:`label_of`::

    from api.graphql.label import label_field

    @registry.type("Widget")
    class Widget:
        name: str
        label = label_field(registry, "label_en", "label_zh_cn", description="The widget's label.")

:func:`fold_labels` does the same for a dict of values (``x_en`` + ``x_zh_cn`` → ``x``, ``x`` +
``x_zh_cn`` → ``x``), and :mod:`api.graphql.from_schema` folds a marshmallow schema's pairs itself.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional

import strawberry

__all__ = ["LabelValue", "fold_labels", "label_field", "label_of", "label_pairs", "register"]


class LabelValue:
    """A Label's value: the English and the Chinese text."""

    __slots__ = ("en", "zh_cn")

    def __init__(self, en: Any, zh_cn: Any):
        self.en = "" if en is None else str(en)
        self.zh_cn = "" if zh_cn is None else str(zh_cn)

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, LabelValue) and (self.en, self.zh_cn) == (other.en, other.zh_cn)

    def __repr__(self) -> str:
        return f"LabelValue({self.en!r}, {self.zh_cn!r})"


def label_of(en: Any, zh_cn: Any) -> LabelValue | None:
    """The Label of a pair; None when both are missing (an empty answer stays null)."""
    if en is None and zh_cn is None:
        return None
    return LabelValue(en, zh_cn)


def label_pairs(keys: Any) -> dict[str, tuple[str, str]]:
    """Of a set of snake_case keys, the bilingual pairs: ``{"label": ("label_en", "label_zh_cn"),
    "name": ("name", "name_zh_cn")}`` for keys ``label_en, label_zh_cn, name, name_zh_cn``."""
    keys = set(keys)
    out: dict[str, tuple[str, str]] = {}
    for key in keys:
        if not key.endswith("_zh_cn"):
            continue
        base = key[:-len("_zh_cn")]
        if f"{base}_en" in keys:
            out[base] = (f"{base}_en", key)
        elif base in keys:
            out[base] = (base, key)
    return out


def fold_labels(values: Mapping[str, Any]) -> dict[str, Any]:
    """A dict of values with each bilingual pair replaced by one :class:`LabelValue` under the pair's base
    name (``label_en`` + ``label_zh_cn`` → ``label``; ``profile`` + ``profile_zh_cn`` → ``profile``)."""
    out = dict(values)
    for base, (en, zh) in label_pairs(values).items():
        out[base] = label_of(out.pop(en, None), out.pop(zh, None))
    return out


def label_field(registry: Any, en: str, zh_cn: str, *, description: str | None = None,
                optional: bool = False) -> Any:
    """A field answering the ``Label`` of the root's attributes (or keys) ``en`` and ``zh_cn``; empty
    texts when both are missing, or null with ``optional=True``."""

    def read(root: Any, name: str) -> Any:
        return root.get(name) if isinstance(root, Mapping) else getattr(root, name, None)

    def resolve(root: strawberry.Parent[Any]) -> Any:
        value = label_of(read(root, en), read(root, zh_cn))
        return value if value is not None or optional else LabelValue("", "")

    label = registry.ref("Label")
    resolve.__annotations__ = {"root": strawberry.Parent[Any], "return": Optional[label] if optional else label}
    return strawberry.field(resolver=resolve, description=description)


def register(registry: Any) -> Any:
    """Register ``Label`` in the registry (the core does, once per app)."""
    @registry.type("Label", node=False)
    class Label:
        """A text in English and in Simplified Chinese: the one shape of every bilingual label."""

        en: str = strawberry.field(description="English.")
        zh_cn: str = strawberry.field(description="Simplified Chinese (zh-CN).")

    @registry.input("LabelInput")
    class LabelInput:
        """A text in English and in Simplified Chinese, as an input: the shape of ``Label``. Which of the two
        a record requires is the record's rule (an error names ``label.en`` or ``label.zhCn``)."""

        en: Optional[str] = strawberry.field(default=strawberry.UNSET, description="English.")
        zh_cn: Optional[str] = strawberry.field(default=strawberry.UNSET, description="Simplified Chinese (zh-CN).")

    return Label
