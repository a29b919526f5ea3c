"""Relay connections over the services' keyset pages.

A list field takes ``first``/``after`` (forward) and ``last``/``before`` (backward) and returns a
``<Type>Connection`` (see ``registry.connection``). Cursors are opaque to clients: they stand for a row's
sort key and id in the list's ordering (:mod:`core.services.paging`), so rows inserted or deleted between
two fetches cause no duplicates and no skips, and a cursor from another ordering is a BAD_USER_INPUT
naming ``after``/``before``. A resolver declares the four arguments with the annotated types below (they
carry the descriptions), turns them into a :class:`core.services.paging.KeysetRequest` with
:func:`page_request`, and the service's :class:`core.services.common.Page` into a :class:`Slice` with
:func:`connection`, which also primes the request's loaders with the page's records (so their fields load
in batches)::

    from api.graphql.pagination import After, Before, First, Last, connection, page_request

    def notes(info: strawberry.Info, first: First = None, after: After = None, last: Last = None,
              before: Before = None) -> registry.connection("Note"):
        page = services.list_notes(current_user, page=page_request(first, after, last, before))
        return connection(info, page)

A nested list read for all its parents at once (``Customer.interactions``) uses
:func:`core.services.paging.seek_windows` in its batch function and :meth:`Slice.from_keyset`.
"""
from __future__ import annotations

from collections import abc
from typing import Annotated, Any, Callable, Optional, Sequence, TypeVar

import strawberry

from core.schemas import MAX_PAGE_SIZE
from core.services.common import Page
from core.services.paging import DEFAULT_PAGE_SIZE, KeysetPage, KeysetRequest

T = TypeVar("T")

First = Annotated[Optional[int], strawberry.argument(
    description=f"Read forward: this many records (1–{MAX_PAGE_SIZE}) from the start, or after `after`. "
                "Not with `last`. Neither given: the field's default page size.")]
After = Annotated[Optional[str], strawberry.argument(
    description="A cursor (`endCursor` of the previous page, or an edge's `cursor`): the records after it.")]
Last = Annotated[Optional[int], strawberry.argument(
    description=f"Read backward: this many records (1–{MAX_PAGE_SIZE}) up to the end, or before `before`, "
                "in list order. Not with `first`.")]
Before = Annotated[Optional[str], strawberry.argument(
    description="A cursor (`startCursor` of the next page, or an edge's `cursor`): the records before it.")]


def page_request(first: int | None = None, after: str | None = None, last: int | None = None,
                 before: str | None = None, *, default: int = DEFAULT_PAGE_SIZE) -> KeysetRequest:
    """The connection arguments → the service's KeysetRequest (which rejects ``first`` with ``last``, or a
    count over the maximum, naming the argument). ``default`` is the page size when neither is given."""
    return KeysetRequest(first=first, after=after, last=last, before=before, default=default)


class Edge:
    """One record of a page and its cursor, read from the page's cursors when a client selects it (a
    service encodes a cursor only when it is read: :class:`core.services.paging.LazyCursors`)."""

    __slots__ = ("_cursors", "_index", "node")

    def __init__(self, cursors: Sequence[str], index: int, node: Any):
        self._cursors, self._index, self.node = cursors, index, node

    @property
    def cursor(self) -> str:
        return self._cursors[self._index]


class PageInfo:
    """Where a page lies; its first and last cursors are read from the page's when selected."""

    __slots__ = ("has_next_page", "has_previous_page", "_cursors")

    def __init__(self, has_next_page: bool, has_previous_page: bool, cursors: Sequence[str]):
        self.has_next_page, self.has_previous_page, self._cursors = has_next_page, has_previous_page, cursors

    @property
    def start_cursor(self) -> str | None:
        return self._cursors[0] if self._cursors else None

    @property
    def end_cursor(self) -> str | None:
        return self._cursors[-1] if self._cursors else None


class Slice:
    """What a connection field returns: records in list order, each with its cursor, and where they lie.
    ``total`` may be a callable, evaluated only when a client selects ``totalCount``."""

    def __init__(self, items: Sequence[Any], cursors: Sequence[str], *, has_next: bool, has_previous: bool,
                 total: int | Callable[[], int], capped: bool | Callable[[], bool] = False):
        # the cursors as given: a page's are encoded only when read (edges' and pageInfo's cursors)
        self.items = list(items)
        self.cursors = cursors if isinstance(cursors, abc.Sequence) else list(cursors)
        self.has_next, self.has_previous = has_next, has_previous
        self._total, self._capped = total, capped

    @classmethod
    def from_page(cls, page: Page) -> "Slice":
        if page.cursors is None:
            raise TypeError("A connection serves keyset pages: pass the service a KeysetRequest "
                            "(api.graphql.pagination.page_request).")
        return cls(page.items, page.cursors, has_next=page.has_next, has_previous=page.has_previous,
                   total=lambda: page.total, capped=lambda: page.total_capped)

    @classmethod
    def from_keyset(cls, page: KeysetPage, total: int | Callable[[], int]) -> "Slice":
        return cls(page.items, page.cursors, has_next=page.has_next, has_previous=page.has_previous,
                   total=total)

    @property
    def edges(self) -> list[Edge]:
        cursors = self.cursors
        return [Edge(cursors, i, item) for i, item in enumerate(self.items)]

    @property
    def page_info(self) -> PageInfo:
        return PageInfo(has_next_page=self.has_next, has_previous_page=self.has_previous, cursors=self.cursors)

    @property
    def total_count(self) -> int:
        if callable(self._total):
            self._total = self._total()
        return self._total

    @property
    def total_count_capped(self) -> bool:
        """Whether the list has more records than ``total_count`` (a nested list's count is never capped)."""
        if callable(self._capped):
            self._capped = self._capped()
        return self._capped


def connection(info: Any, page: Page) -> Slice:
    """A service's keyset page as a connection, its records primed for batch loading of their fields."""
    info.context.loaders.prime(page.items)
    return Slice.from_page(page)


def nested_connection(loaders: Any, name: str, batch: Callable[[list, KeysetRequest], dict], key: Any,
                      request: KeysetRequest, *, count_name: str, count_batch: Callable[[list], dict],
                      sort: str | None = None) -> Slice:
    """A nested list (``Customer.interactions``) as a connection, read for all sibling parents at once:
    ``batch(parent_ids, request)`` → ``{parent_id: KeysetPage}`` (see
    :func:`core.services.paging.seek_windows`), ``count_batch(parent_ids)`` → ``{parent_id: n}`` for
    ``totalCount``, run only when selected. Siblings asked with the same arguments share one batch, so a
    nested level costs the same few statements whatever the number of parents. ``sort`` is the ordering
    ``batch`` reads in (the field's ``orderBy`` as :func:`api.graphql.ordering.order_to_service` gives
    it): siblings asked with another ordering are another batch."""
    tag = f"{name}:{request.first}:{request.after}:{request.last}:{request.before}:{request.default}:{sort}"
    def page_batch(ids):
        return batch(ids, request)

    page_batch.__wrapped__ = batch   # the loader-name check looks at whose batch this is
    page = loaders.load(tag, page_batch, key, default=None)
    if page is None:
        page = KeysetPage(items=[], cursors=[], has_next=False, has_previous=False)
    return Slice.from_keyset(page, total=lambda: loaders.load(count_name, count_batch, key, default=0))
