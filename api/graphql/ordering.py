"""Typed orderings of lists: ``orderBy: [<Type>Order!]`` instead of a free string.

For a record ``Customer`` whose service sorts by ``name``, ``created_at`` … (its ``SORTABLE`` keys, as
REST lists them) the registry gets, once::

    enum CustomerOrderField { NAME CREATED_AT … }          # one value per service sort key
    input CustomerOrder { field: CustomerOrderField!  direction: SortDirection! = ASC }
    enum SortDirection { ASC DESC }                         # shared by every list

and the list takes ``orderBy: [CustomerOrder!]`` (first entry sorts first; the record id always breaks
ties, so keyset cursors hold for every ordering). An ordering the service does not support cannot be
written: the enum has no such value. ``crud_fields`` does this from ``sortable``; a hand-written list
uses :func:`order_by_argument` (the annotation, with its description) and :func:`order_to_service`::

    from api.graphql.ordering import order_by_argument, order_to_service

    order = order_by_argument(registry, "Note", services.SORTABLE, "-created_at")   # [NoteOrder!]
    def notes(info, order_by: order = None) -> ...:
        services.list_notes(user, sort=order_to_service(order_by))  # "-created_at,name"
"""
from __future__ import annotations

import enum
from typing import Annotated, Any, Optional, Sequence

import strawberry
from strawberry.utils.str_converters import to_camel_case

__all__ = ["order_by_argument", "order_by_description", "order_by_type", "order_to_service", "sort_direction"]


def order_by_description(sortable: Sequence[str], default_sort: str | None = None,
                         default_text: str | None = None) -> str:
    """``["name", "created_at"]``, ``"-created_at"`` → the ``orderBy`` argument's description, the default
    ordering written as the field enum and direction (or ``default_text``, for a default no list of keys
    says: "the primary contact first, then NAME ASC")."""
    text = "Orderings, first sorts first; the record id breaks ties."
    if default_text:
        text += f" Default: {default_text}."
    elif default_sort:
        text += f" Default: {', '.join(_enum_sort(part) for part in default_sort.split(','))}."
    return text


def _enum_sort(part: str) -> str:
    part = part.strip()
    return part.lstrip("-+").upper() + (" DESC" if part.startswith("-") else " ASC")


def sort_direction(registry: Any) -> Any:
    """The app's ``SortDirection`` enum, registered once (by whoever asks first; owned by the core)."""
    existing = getattr(registry.module, "SortDirection", None)
    if existing is not None:
        return existing
    owner, registry.owner = registry.owner, "core"
    try:
        return registry.add(strawberry.enum(
            enum.Enum("SortDirection", {"ASC": strawberry.enum_value("asc", description="Smallest first (A to Z, oldest first)."),
                                        "DESC": strawberry.enum_value("desc", description="Largest first (Z to A, newest first).")}),
            name="SortDirection",
            description="The direction of one ordering key."))
    finally:
        registry.owner = owner


def order_by_type(registry: Any, type_name: str, sortable: Sequence[str]) -> Any:
    """``Optional[list[<type_name>Order]]``: the ``orderBy`` argument's annotation, making the field enum
    ``<type_name>OrderField`` (one value per key of ``sortable``, UPPER_SNAKE) and the input
    ``<type_name>Order`` on first use."""
    name = f"{type_name}Order"
    existing = getattr(registry.module, name, None)
    if existing is None:
        direction = sort_direction(registry)
        field_enum = registry.add(strawberry.enum(
            enum.Enum(f"{name}Field", {key.upper(): strawberry.enum_value(key, description=f"By `{to_camel_case(key)}`.")
                                       for key in sortable}), name=f"{name}Field",
            description=f"What a list of {type_name} records can be ordered by (the orderings the service "
                        f"supports)."))

        body = {
            "__annotations__": {"field": field_enum, "direction": direction},
            "field": strawberry.field(description="The key to order by."),
            "direction": strawberry.field(default=direction.ASC, description="ASC (the default) or DESC."),
        }
        existing = registry.input(name, description=(
            f"One ordering key of a list of {type_name} records; the record id breaks ties."))(type(name, (), body))
    return Optional[list[existing]]


def order_by_argument(registry: Any, type_name: str, sortable: Sequence[str], default_sort: str | None = None,
                      *, default_text: str | None = None) -> Any:
    """:func:`order_by_type` with its description, for a hand-written list's ``order_by`` parameter
    (``default_text``: the default ordering in words, when it is not a list of ``sortable`` keys)."""
    return Annotated[order_by_type(registry, type_name, sortable),
                     strawberry.argument(description=order_by_description(sortable, default_sort, default_text))]


def order_to_service(order_by: Sequence[Any] | None) -> str | None:
    """``[{field: NAME, direction: DESC}, {field: CREATED_AT}]`` → ``"-name,created_at"`` (the services'
    sort syntax); empty or none → None (the service's default ordering)."""
    if not order_by:
        return None
    return ",".join(("-" if item.direction.value == "desc" else "") + item.field.value for item in order_by)
