"""Customers (客户), their tags and their contacts (联系人)."""
from __future__ import annotations

import json
import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Boolean, Date, ForeignKey, Index, String, Text, event, select, text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapped, mapped_column, query_expression, relationship
from sqlalchemy.sql.expression import FunctionElement
from sqlalchemy.types import TypeDecorator

from core.db import Base, Record, UTCDateTime
from core.models.enums import CustomerKind, LifecycleStage
from core.models.users import User
from core.normalize import email_key, name_key, phone_key

if TYPE_CHECKING:
    from core.models.analytics import CustomerAnalytics


def live_unique(table: str) -> Index:
    """The unique index on ``external_id`` among live rows (deleted ones and rows without one excluded):
    ``trellis import`` finds a record again by it, so a file imported twice changes nothing."""
    where = text("external_id IS NOT NULL AND deleted_at IS NULL")
    return Index(f"uq_{table}_external_id_live", "external_id", unique=True, sqlite_where=where,
                 postgresql_where=where)


def ordering_indexes(table: str, *columns: str) -> list[Index]:
    """A btree on ``(column, id)`` for each sortable column of a list: keyset pages order by the key then
    the id and seek past ``(key, id)``, so the index reads a page in order from any cursor (an equality
    filter on the column uses it too). docs/deployment.md ("Indexes") lists what serves what."""
    return [Index(f"ix_{table}_{column}_id", column, "id") for column in columns]


LIVE = "deleted_at IS NULL"
BIN = "deleted_at IS NOT NULL"


def partial_index(name: str, where: str, *columns: str, include: tuple[str, ...] = ()) -> Index:
    """A btree on ``columns`` of the rows matching ``where`` (a partial index, on SQLite too); on
    PostgreSQL it also carries the ``include`` columns, for scans that read them from the index alone."""
    return Index(name, *columns, postgresql_where=text(where), sqlite_where=text(where),
                 **({"postgresql_include": list(include)} if include else {}))


def filter_indexes(table: str, order: tuple[str, ...], *columns: str, include: tuple[str, ...] = ()) -> list[Index]:
    """For each filter column, a btree on ``(column, *order)`` of the live rows
    (``ix_<table>_live_<column>``): a filtered list in its default order (``order``: its sort key then
    ``id``) reads its page in order from the filter's rows, however many there are, instead of finding
    them all and sorting (a rep's first page of 160,000 customers, bench/million.py); the capped total
    counts them from the same index (index only: live rows alone are in it). ``order`` need not hold
    ``deleted_at``: the lists put ``deleted_at IS NULL`` in every statement, which the planner matches to
    the predicate. ``include``: columns the statement reads of each counted row besides these (an
    interaction's ``customer_id``, joined to its customer), so the count reads no table row."""
    return [partial_index(f"ix_{table}_live_{column}", LIVE, column, *order, include=include) for column in columns]


def bin_index(table: str, *order: str) -> Index:
    """A btree on the list's default order of the deleted rows (``ix_<table>_bin``): ``deleted=true``
    reads the bin in order, a few rows of many, instead of scanning the table."""
    return partial_index(f"ix_{table}_bin", BIN, *order)


def name_search_index(table: str) -> Index:
    """The trigram index (PostgreSQL's ``pg_trgm``) that serves name search (``q``: ``name ILIKE
    '%term%'``, which no btree can). PostgreSQL only; a database where the extension could not be
    created does without it (``info["requires_extension"]``: the migration skips it, the schema
    comparison of ``core.migrate`` leaves it out) and searches by scanning."""
    return Index(f"ix_{table}_name_trgm", "name", postgresql_using="gin", postgresql_ops={"name": "gin_trgm_ops"},
                 info={"requires_extension": "pg_trgm"}).ddl_if(dialect="postgresql")


class Customer(Base, Record):
    """A company or person the business sells to (客户): the record every plugin's data hangs from. Read
    and write it through ``core.services.customers`` (scoped by role), never directly."""

    __tablename__ = "customer"

    kind: Mapped[str] = mapped_column(String(20), default=CustomerKind.COMPANY.value)
    name: Mapped[str] = mapped_column(String(200))
    industry: Mapped[str | None] = mapped_column(String(80), nullable=True)
    region: Mapped[str | None] = mapped_column(String(80), nullable=True)
    size: Mapped[str | None] = mapped_column(String(20), nullable=True)
    source: Mapped[str | None] = mapped_column(String(40), nullable=True)
    level: Mapped[str] = mapped_column(String(20), default="none")
    #: a level set by hand stays until it is released; automatic re-grading skips it
    level_pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    stage: Mapped[str] = mapped_column(String(40), default=LifecycleStage.POTENTIAL.value)
    notes: Mapped[str] = mapped_column(Text, default="")
    owner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"),
                                                       nullable=True, index=True)
    #: the customer's id in the system it was imported from (``trellis import``): unique among live customers
    external_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    #: ``name`` as duplicates are found by (``core.normalize.name_key``); kept up on every write
    name_key: Mapped[str] = mapped_column(String(200), default="", index=True)
    #: the customer this one was merged into (``core.services.duplicates.merge_customers``): a merged
    #: customer is also deleted (``deleted_at`` = ``merged_at``), so every list leaves it out, but reading
    #: it by id still answers, with this id to follow
    merged_into_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("customer.id", ondelete="SET NULL"),
                                                             nullable=True, index=True)
    merged_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    owner: Mapped[User | None] = relationship(User, foreign_keys=[owner_id])
    merged_into: Mapped["Customer | None"] = relationship("Customer", remote_side="Customer.id",
                                                          foreign_keys=[merged_into_id], viewonly=True)
    tag_rows: Mapped[list["CustomerTag"]] = relationship(
        back_populates="customer", cascade="all, delete-orphan", lazy="selectin", order_by="CustomerTag.tag"
    )

    #: the tags as one column of the row (:func:`tags_column`), when a list asked for it with
    #: ``with_expression(Customer.tag_list, tags_column())``: no CustomerTag objects to build (issue #16)
    tag_list: Mapped[list[str] | None] = query_expression()

    #: the numbers of the last analytics refresh (read-only here: only the refresh writes them)
    analytics: Mapped["CustomerAnalytics | None"] = relationship("CustomerAnalytics", uselist=False,
                                                                 viewonly=True)

    __table_args__ = (live_unique("customer"), name_search_index("customer"),
                      *ordering_indexes("customer", "name", "created_at", "updated_at", "industry", "region",
                                        "stage", "level"),
                      # the default order (name, id) under a filter, and the rep's own page (owner_id); the
                      # columns of a few values (kind, region, level) read the name index and filter
                      *filter_indexes("customer", ("name", "id"), "owner_id", "industry", "source", "stage"),
                      bin_index("customer", "name", "id"),
                      # whether a customer is live, read from the index alone: the contact and interaction
                      # lists, the tag and analytics filters join it for every row they count
                      partial_index("ix_customer_live_id", LIVE, "id"),
                      # the ids in the bin: an admin's contact and interaction lists ask whether a row's
                      # customer is among them (core.services.permissions.customer_is_live)
                      partial_index("ix_customer_bin_id", BIN, "id"))

    @property
    def tags(self) -> list[str]:
        state = self.__dict__
        if "tag_rows" not in state:   # the rows, once loaded (to be changed, say), are the truth
            listed = state.get("tag_list")
            if listed is not None:
                return list(listed)
        return sorted(row.tag for row in self.tag_rows)


class _SortedTags(TypeDecorator):
    """The result of :class:`_tag_array`: a PostgreSQL array or an SQLite JSON array, as a sorted list
    (``Customer.tags``' order; the aggregate's own order is the database's)."""

    impl = Text
    cache_ok = True

    def process_result_value(self, value, dialect):
        if value is None:   # array_agg of no rows
            return []
        return sorted(json.loads(value) if isinstance(value, str) else value)


class _tag_array(FunctionElement):
    type = _SortedTags()
    name = "tag_array"
    inherit_cache = True


@compiles(_tag_array)
def _tag_array_sqlite(element, compiler, **kw):
    return f"json_group_array({compiler.process(element.clauses, **kw)})"


@compiles(_tag_array, "postgresql")
def _tag_array_postgresql(element, compiler, **kw):
    return f"array_agg({compiler.process(element.clauses, **kw)})"


def tags_column():
    """A customer's tags as one value of its row (a correlated subquery aggregating them: ``array_agg`` on
    PostgreSQL, ``json_group_array`` on SQLite), for ``with_expression(Customer.tag_list, tags_column())``:
    a page of 100 customers with two tags each then builds 100 objects, not 300."""
    return (select(_tag_array(CustomerTag.tag)).where(CustomerTag.customer_id == Customer.id)
            .correlate(Customer).scalar_subquery())


class CustomerTag(Base):
    __tablename__ = "customer_tag"

    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(50), primary_key=True)

    customer: Mapped[Customer] = relationship(Customer, back_populates="tag_rows")

    #: the customers of a tag from the index alone (the ``tag`` filter's semi-join and its count)
    __table_args__ = (Index("ix_customer_tag_tag_customer_id", "tag", "customer_id"),)


class Contact(Base, Record):
    __tablename__ = "contact"

    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    title: Mapped[str] = mapped_column(String(120), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    mobile: Mapped[str] = mapped_column(String(40), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    wechat: Mapped[str] = mapped_column(String(80), default="")
    birthday: Mapped[date | None] = mapped_column(Date, nullable=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)
    #: the contact's id in the system it was imported from: unique among live contacts
    external_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    #: ``email``, ``phone`` and ``mobile`` as duplicates are found by (``core.normalize``); kept up on every write
    email_key: Mapped[str] = mapped_column(String(254), default="", index=True)
    phone_key: Mapped[str] = mapped_column(String(40), default="", index=True)
    mobile_key: Mapped[str] = mapped_column(String(40), default="", index=True)

    customer: Mapped[Customer] = relationship(Customer)

    __table_args__ = (live_unique("contact"), name_search_index("contact"),
                      *ordering_indexes("contact", "name", "created_at", "updated_at"), bin_index("contact", "name", "id"))


# --- match keys: derived from the columns they normalise on every write -------------------------------

def match_keys(model: type, values: dict[str, Any]) -> dict[str, str]:
    """The match-key columns of a Customer or Contact row given its column ``values`` (those present);
    ``{}`` for other models. Used by the ORM listeners below and by ``BulkRecorder.add``, which bypasses them."""
    if model is Customer:
        return {"name_key": name_key(values["name"])} if "name" in values else {}
    if model is Contact:
        pairs = (("email", "email_key", email_key), ("phone", "phone_key", phone_key),
                 ("mobile", "mobile_key", phone_key))
        return {key: fn(values[col]) for col, key, fn in pairs if col in values}
    return {}


_SOURCES = {Customer: ("name",), Contact: ("email", "phone", "mobile")}
#: the models with match keys
KEYED_MODELS = frozenset(_SOURCES)


def _keep_keys(_mapper: Any, _connection: Any, target: Any) -> None:
    model = type(target)
    for key, value in match_keys(model, {c: getattr(target, c) for c in _SOURCES[model]}).items():
        if getattr(target, key) != value:
            setattr(target, key, value)


for _model in (Customer, Contact):
    event.listen(_model, "before_insert", _keep_keys)
    event.listen(_model, "before_update", _keep_keys)
