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
    __slots__ = ("cursor", "node")

    def __init__(self, cursor: str, node: Any):
        self.cursor, self.node = cursor, node


class PageInfo:
    __slots__ = ("has_next_page", "has_previous_page", "start_cursor", "end_cursor")

    def __init__(self, has_next_page: bool, has_previous_page: bool, start_cursor: str | None,
                 end_cursor: str | None):
        self.has_next_page, self.has_previous_page = has_next_page, has_previous_page
        self.start_cursor, self.end_cursor = start_cursor, end_cursor


class Slice:
    """What a connection field returns: records in list order, each with its cursor, and where they lie.
    ``total`` may be a callable, evaluated only when a client selects ``totalCount``."""

    def __init__(self, items: Sequence[Any], cursors: Sequence[str], *, has_next: bool, has_previous: bool,
                 total: int | Callable[[], int], capped: bool | Callable[[], bool] = False):
        self.items, self.cursors = list(items), list(cursors)
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
        return [Edge(cursor, item) for cursor, item in zip(self.cursors, self.items)]

    @property
    def page_info(self) -> PageInfo:
        return PageInfo(
            has_next_page=self.has_next,
            has_previous_page=self.has_previous,
            start_cursor=self.cursors[0] if self.cursors else None,
            end_cursor=self.cursors[-1] if self.cursors else None,
        )

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
