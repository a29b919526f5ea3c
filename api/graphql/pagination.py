"""Relay-style connections over the services' offset pages.

A list field takes ``first`` and ``after`` and returns a ``<Type>Connection`` (see
``registry.connection``). Cursors are opaque to clients: base64 of the row's offset in the list. A
resolver turns its arguments into a :class:`core.services.common.PageRequest` with :func:`page_request`
and the service's :class:`core.services.common.Page` into a :class:`Slice` with :func:`connection`,
which also primes the request's loaders with the page's records (so their fields load in batches)::

    def notes(info: strawberry.Info, first: int = 20, after: str | None = None) -> registry.connection("Note"):
        page = services.list_notes(current_user, page=page_request(first, after))
        return connection(info, page)
"""
from __future__ import annotations

import base64
import binascii
from typing import Any, Callable, Generic, Sequence, TypeVar

from core.errors import ValidationFailed
from core.services.common import Page, PageRequest

T = TypeVar("T")
_PREFIX = "offset:"


def encode_cursor(offset: int) -> str:
    return base64.b64encode(f"{_PREFIX}{offset}".encode()).decode()


def decode_cursor(cursor: str, field: str = "after") -> int:
    """The offset a cursor stands for; a cursor this API did not give out is a BAD_USER_INPUT."""
    try:
        raw = base64.b64decode(cursor.encode(), validate=True).decode()
        if not raw.startswith(_PREFIX):
            raise ValueError(raw)
        offset = int(raw[len(_PREFIX):])
        if offset < 0:
            raise ValueError(raw)
        return offset
    except (ValueError, binascii.Error, UnicodeError):
        raise ValidationFailed(fields={field: ["Not a cursor this API gave out."]}) from None


def page_request(first: int, after: str | None) -> PageRequest:
    """``first`` / ``after`` → the service's PageRequest (which rejects ``first`` over the maximum)."""
    offset = decode_cursor(after) + 1 if after else 0
    return PageRequest(offset=offset, limit=first)


class Edge:
    __slots__ = ("cursor", "node")

    def __init__(self, cursor: str, node: Any):
        self.cursor, self.node = cursor, node


class PageInfo:
    __slots__ = ("has_next_page", "has_previous_page", "start_cursor", "end_cursor")

    def __init__(self, has_next_page: bool, has_previous_page: bool, start_cursor: str | None,
                 end_cursor: str | None):
        self.has_next_page, self.has_previous_page = has_next_page, has_previous_page
        self.start_cursor, self.end_cursor = start_cursor, end_cursor


class Slice(Generic[T]):
    """What a connection field returns: a run of records starting at ``offset``. ``total`` may be a
    callable, evaluated only when a client selects ``totalCount``."""

    def __init__(self, items: Sequence[T], *, offset: int, has_next: bool, total: int | Callable[[], int]):
        self.items, self.offset, self.has_next = list(items), offset, has_next
        self._total = total

    @classmethod
    def from_page(cls, page: Page[T]) -> "Slice[T]":
        return cls(page.items, offset=page.offset, has_next=page.has_next, total=page.total)

    @property
    def edges(self) -> list[Edge]:
        return [Edge(encode_cursor(self.offset + i), item) for i, item in enumerate(self.items)]

    @property
    def page_info(self) -> PageInfo:
        return PageInfo(
            has_next_page=self.has_next,
            has_previous_page=self.offset > 0,
            start_cursor=encode_cursor(self.offset) if self.items else None,
            end_cursor=encode_cursor(self.offset + len(self.items) - 1) if self.items else None,
        )

    @property
    def total_count(self) -> int:
        if callable(self._total):
            self._total = self._total()
        return self._total


def connection(info: Any, page: Page[T]) -> Slice[T]:
    """A service's page as a connection, its records primed for batch loading of their fields."""
    info.context.loaders.prime(page.items)
    return Slice.from_page(page)
