"""Strawberry inputs → the plain dicts services validate, and service field names → GraphQL ones.

Resolvers only translate: ``input_to_dict(input)`` drops fields the client left out (``UNSET``), keeps
explicit nulls, uses the Python (snake_case) names the services and marshmallow schemas know, and turns
values into JSON primitives (dates and datetimes as ISO strings, UUIDs and Decimals as strings), so the
service validates exactly what a REST client would have sent.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import enum
import re
import uuid
from decimal import Decimal
from typing import Any, Iterator, Mapping

from strawberry.types.base import has_object_definition
from strawberry.types.unset import UNSET
from strawberry.utils.str_converters import to_camel_case

from core.errors import TrellisError


def input_to_dict(value: Any) -> dict[str, Any]:
    """A strawberry input object as the dict a service takes."""
    if value is None or value is UNSET:
        return {}
    return _plain(value)


def stored(value: Any) -> Any:
    """An argument as a service takes it: an enum member (a vocabulary's value) as its stored string,
    anything else unchanged."""
    return value.value if isinstance(value, enum.Enum) else value


#: an input class's bilingual fields: ``{"label": ("label_en", "label_zh_cn")}`` (api/graphql/from_schema.py)
LABELS = "__trellis_labels__"


def _plain(value: Any) -> Any:
    if has_object_definition(value):
        out = {}
        labels = getattr(type(value), LABELS, None) or {}
        for fld in value.__strawberry_definition__.fields:
            item = getattr(value, fld.python_name, UNSET)
            if item is UNSET:
                continue
            if fld.python_name in labels:   # label: {en, zhCn} → label_en, label_zh_cn as the service reads
                en, zh = labels[fld.python_name]
                for key, text in ((en, getattr(item, "en", UNSET)), (zh, getattr(item, "zh_cn", UNSET))):
                    if item is None or text is not UNSET:
                        out[key] = None if item is None else text
                continue
            out[fld.python_name] = _plain(item)
        return out
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items() if v is not UNSET}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (uuid.UUID, Decimal)):
        return str(value)
    return value


def label_field_names(input_type: Any) -> dict[str, str]:
    """An input's bilingual fields as a :func:`field_names` mapping: ``{"label_en": "label.en",
    "label_zh_cn": "label.zhCn"}``, so a service error names what the client wrote."""
    out = {}
    for base, (en, zh) in (getattr(input_type, LABELS, None) or {}).items():
        out[en], out[zh] = f"{to_camel_case(base)}.en", f"{to_camel_case(base)}.zhCn"
    return out


def graphql_field_name(name: str) -> str:
    """``owner_id`` → ``ownerId``; ``tags.0`` → ``tags.0``; ``_schema`` stays."""
    if name.startswith("_"):
        return name
    return ".".join(to_camel_case(part) for part in name.split("."))


_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")


def snake_case(name: str) -> str:
    return _CAMEL.sub(r"_\1", name).lower()


def json_out(value: Any) -> Any:
    """Open-shaped JSON as GraphQL answers it (docs/graphql.md, "JSON"): dict keys camelCase (``owner_id`` →
    ``ownerId``), a bilingual pair ``x_en`` + ``x_zh_cn`` folded into ``x: {"en": …, "zhCn": …}`` (the
    shape of ``Label``), at every depth; values unchanged."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            key = str(key)
            if key.endswith("_zh_cn") and f"{key[:-6]}_en" in value:
                continue
            if key.endswith("_en") and f"{key[:-3]}_zh_cn" in value:
                out[graphql_field_name(key[:-3])] = {"en": json_out(item), "zhCn": json_out(value[f"{key[:-3]}_zh_cn"])}
                continue
            out[graphql_field_name(key)] = json_out(item)
        return out
    if isinstance(value, (list, tuple)):
        return [json_out(item) for item in value]
    return value


def json_field(attribute: str, *, description: str | None = None) -> Any:
    """A ``JSON!`` field answering the root's ``attribute`` (or key) through :func:`json_out`."""
    import strawberry
    from strawberry.scalars import JSON

    def resolve(root):
        value = root.get(attribute) if isinstance(root, Mapping) else getattr(root, attribute, None)
        return json_out(value if value is not None else {})

    resolve.__annotations__ = {"root": strawberry.Parent[Any], "return": JSON}

    return strawberry.field(resolver=resolve, description=description)


#: the arguments of every connection field, named alike by the service and the client
CONNECTION_ARGUMENTS = frozenset({"first", "after", "last", "before"})


@contextlib.contextmanager
def field_names(mapping: Mapping[str, str] | None = None, *, prefix: str = "") -> Iterator[None]:
    """Rename the fields of a TrellisError raised inside the block to what the GraphQL client wrote:
    ``mapping`` renames whole names (``{"sort": "orderBy"}``), ``prefix`` goes before the others
    (``"filter."``). The connection arguments (``first``, ``after``, ``last``, ``before``: a cursor is
    checked by the service, against its ordering) keep their names."""
    try:
        yield
    except TrellisError as exc:
        if exc.fields:
            renamed: dict[str, list[str]] = {}
            for key, messages in exc.fields.items():
                if mapping and key in mapping:
                    new = mapping[key]
                elif key in CONNECTION_ARGUMENTS:
                    new = key
                else:
                    new = prefix + graphql_field_name(key)
                renamed.setdefault(new, []).extend(messages)
            exc.fields = renamed
        raise
