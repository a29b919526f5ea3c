"""Where personal data lives: the declarations components return from ``trellis_personal_data``.

A :class:`PersonalData` names a model, which of its rows belong to a person (a condition built from a
:class:`Person`), and which of its columns hold personal data. ``core.services.privacy`` gathers every
declared row into an export and, on erasure, replaces the declared columns with a tombstone; it also
scrubs the audit trail, the outbox events and the notifications of those rows. Columns not declared are
kept: ids, amounts, counts, dates of business events and classifications stay, so aggregates and
analytics do not change. docs/privacy.md lists what each component declares.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Callable

from sqlalchemy import JSON, String
from sqlalchemy.sql.elements import ColumnElement

from core.errors import PluginError

#: What an erased text becomes. A unique column gets it followed by the row's id, so rows stay distinct.
TOMBSTONE = "[erased]"


@dataclass(frozen=True)
class Person:
    """The person an export or an erasure is about.

    ``kind`` is ``customer`` (a customer, with all its contacts) or ``contact`` (one contact alone, whose
    customer is a company). Conditions use ``customer_ids`` and ``contact_ids``; for a contact
    ``customer_ids`` is empty, so rows keyed by customer match nothing."""

    kind: str
    id: uuid.UUID
    customer_ids: frozenset[uuid.UUID] = frozenset()
    contact_ids: frozenset[uuid.UUID] = frozenset()


@dataclass(frozen=True)
class PersonalData:
    """One model's share of a person's data.

    - ``model``: a SQLAlchemy model of the declaring component.
    - ``rows(person)``: a condition on ``model`` selecting the person's rows (deleted rows included).
    - ``fields``: the columns holding personal data, replaced on erasure: text by :data:`TOMBSTONE`,
      JSON by an empty list or object, anything else (dates, coordinates) by NULL — so those columns must
      be text, JSON or nullable. Empty values are left alone. With no fields the rows are exported only.
    - ``retire``: soft-delete the rows on erasure as well (reminders about them stop).
    - ``email`` and ``customer``: column names; when both are given, ``privacy export ADDRESS`` finds the
      customer whose row carries that email address.
    """

    model: Any
    rows: Callable[[Person], ColumnElement[bool]]
    fields: tuple[str, ...] = ()
    retire: bool = False
    email: str | None = None
    customer: str | None = None
    description: str = ""

    @property
    def table(self) -> str:
        return self.model.__table__.name

    def check(self, owner: str) -> None:
        """Start-up check: the columns exist and each can hold its erased value."""
        columns = self.model.__table__.c
        for name in (*self.fields, *(n for n in (self.email, self.customer) if n)):
            if name not in columns:
                raise PluginError(f"Plugin '{owner}' declares personal data in '{self.table}.{name}', which is "
                                  "not a column of that table. Fix trellis_personal_data.")
        for name in self.fields:
            column = columns[name]
            if not isinstance(column.type, (String, JSON)) and not column.nullable:
                raise PluginError(
                    f"Plugin '{owner}' declares '{self.table}.{name}' personal, but it is neither text, JSON nor "
                    "nullable, so it cannot be erased. Make it nullable or leave it out of the fields.")
        if self.retire and "deleted_at" not in columns:
            raise PluginError(f"Plugin '{owner}' asks to retire rows of '{self.table}', which has no deleted_at.")
        if (self.email is None) != (self.customer is None):
            raise PluginError(f"Plugin '{owner}' gives only one of email/customer for '{self.table}'; give both.")


def erased_value(column: Any, current: Any, row_id: Any) -> Any:
    """The value ``column`` takes on erasure, or ``current`` when there is nothing (left) to erase."""
    if current is None or current == "" or current == [] or current == {}:
        return current
    if isinstance(column.type, JSON):
        return [] if isinstance(current, list) else {}
    if isinstance(column.type, String):
        if isinstance(current, str) and current.startswith(TOMBSTONE):
            return current
        value = TOMBSTONE + (str(row_id).replace("-", "") if column.unique else "")
        length = getattr(column.type, "length", None)
        return value[:length] if length else value
    return None


def scrub(value: Any, *, keys: frozenset[str] = frozenset(), needles: tuple[str, ...] = ()) -> Any:
    """A copy of a JSON value with personal data replaced: everything under a key in ``keys`` (but None),
    and every string containing one of ``needles`` (the person's names, addresses, numbers …)."""
    if isinstance(value, dict):
        return {k: (_blank(v) if k in keys else scrub(v, keys=keys, needles=needles)) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v, keys=keys, needles=needles) for v in value]
    if isinstance(value, str) and value != TOMBSTONE and any(n in value for n in needles):
        return TOMBSTONE
    return value


def _blank(value: Any) -> Any:
    if isinstance(value, list):
        return [_blank(v) for v in value]
    if isinstance(value, dict):
        return {k: _blank(v) for k, v in value.items()}
    return None if value is None else TOMBSTONE


__all__ = ["TOMBSTONE", "Person", "PersonalData", "erased_value", "scrub"]
