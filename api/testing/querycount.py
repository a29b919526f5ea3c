"""One helper for statement-count pins: a list the API serves costs the same number of SQL statements
whether it holds 5 records or 50 (no query per row, at any nesting depth).

    def test_x(api, count_queries):
        pin_statements(count_queries,
                       grow=lambda have, want: make_customers(have, want),   # records have..want-1
                       fetch=lambda n: graphql_list(api.graphql(QUERY, {"first": n}), "customers.edges"),
                       expected=8)

For each size (5 and 50 by default, smallest first) ``grow`` makes the data up to that size, then
(after one uncounted warm-up request at the first size) ``fetch(n)`` runs the request inside ``count_queries`` and returns the listed records. The helper asserts
that each answer holds exactly ``n`` records (``graphql_list`` / ``rest_list`` also assert there are no
errors and the status), that the count is the same at every size (and equal to ``expected`` when given),
and returns the records of the largest size for checks of their content. On failure it prints the
statements the larger request ran that the smaller did not, which is where the per-row query is.
Works the same on SQLite and PostgreSQL (TRELLIS_TEST_DATABASE_URL).
"""
from __future__ import annotations

import re
from collections import Counter
from typing import Any, Callable, Sequence

SIZES = (5, 50)


def _short(statement: str) -> str:
    return re.sub(r"\s+", " ", statement)[:160]


def graphql_list(body: dict, path: str) -> list:
    """The list at ``path`` (dotted, e.g. ``customers.edges``) of a GraphQL answer that has no errors."""
    assert not body.get("errors"), body.get("errors")
    value: Any = body["data"]
    for key in path.split("."):
        value = value[key]
    assert isinstance(value, list), value
    return value


def rest_list(response, status: int = 200) -> list:
    """The JSON list of a REST answer with the expected status."""
    assert response.status_code == status, (response.status_code, response.get_json())
    body = response.get_json()
    assert isinstance(body, list), body
    return body


def pin_statements(count_queries, *, grow: Callable[[int, int], Any], fetch: Callable[[int], Sequence],
                   sizes: Sequence[int] = SIZES, expected: int | None = None,
                   size_of: Callable[[int], int] | None = None) -> list:
    """Assert ``fetch`` runs the same number of statements at every size; return the largest answer.

    ``size_of(n)`` is how many records the answer at size ``n`` must hold (default: ``n``)."""
    assert len(sizes) >= 2 and list(sizes) == sorted(sizes) and sizes[0] >= 5 and sizes[-1] >= 50, sizes
    counted, have, items = [], 0, []
    for n in sizes:
        grow(have, n)
        if not have:
            fetch(n)  # warm-up, uncounted: process-wide caches (schema, settings) fill on the first request
        have = n
        with count_queries() as counter:
            items = fetch(n)
        want = size_of(n) if size_of else n
        assert len(items) == want, f"size {n}: the answer holds {len(items)} records, not {want}"
        counted.append((n, counter))
    (small_n, small), (large_n, large) = counted[0], counted[-1]
    extra = Counter(map(_short, large.statements)) - Counter(map(_short, small.statements))
    detail = (f"statements: {[(n, c.count) for n, c in counted]}; run at {large_n} but not at {small_n}:\n"
              + "\n".join(f"{k} x{v}" for k, v in extra.items()))
    assert len({c.count for _, c in counted}) == 1, detail
    if expected is not None:
        assert small.count == expected, f"expected {expected} statements, ran {small.count}:\n" + "\n".join(
            map(_short, small.statements))
    return list(items)
