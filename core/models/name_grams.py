"""The one- and two-character pieces ("grams") of every customer's and contact's name: what name search
(``q``) reads for a term of one or two characters, which the trigram index cannot serve (``pg_trgm``
makes no trigram of it, so a search for 杭州 or 王 read the name index until it found its page: 1.3 s and
4.7 s at 1 M customers, bench/million.py).

Each row is one distinct gram of ``lower(name)`` with the name beside it, and the index on
``(gram, name, id)`` holds every name containing a gram in name order: a list's page of 王 is one range
of it, its capped total the first 2,001 entries of that range (``core.services.name_search``). A
customer's grams also say whether it is live, and their index is ``(gram, live, name, customer_id)``: an
admin's count of a live search then reads that index alone.

The rows are the database's to keep, not the application's: triggers on ``customer`` and ``contact``
(created by migration ``a7c3e5f9b1d2``) write them when a row is inserted and rewrite them when its name
changes (and a customer's ``live`` when it goes to the bin or comes back, migration ``b4e8c2a6d0f1``),
so every writer keeps them (the ORM, the bulk recorder's ``COPY``, a raw ``UPDATE``, an erasure's
anonymised name), and delete them with a row deleted for good. No foreign key: its check would
run for each of a name's thirty-odd grams on every insert, and the grams are only read joined to their
row. The grams are cut from ``lower(name)`` as the database lowers it and a term is looked up as
``lower(term)``, the same function on both sides, so a gram finds exactly the names ``ILIKE '%term%'``
finds.
"""
from __future__ import annotations

import uuid

from sqlalchemy import Boolean, Index, Integer, String, Uuid, true
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base

#: the longest names SQLite's grams cover, in characters (``customer.name`` is 200, ``contact.name``
#: 120): its triggers cut grams at the positions of ``name_gram_position``, 1 to this
GRAM_POSITIONS = 200
#: the terms the grams serve; longer ones are the trigram index's
GRAM_LENGTHS = (1, 2)


class NameGramPosition(Base):
    """The positions 1 … :data:`GRAM_POSITIONS` SQLite's triggers cut grams at (they can use neither a
    CTE nor ``generate_series``, which PostgreSQL's use). On PostgreSQL too, so both schemas match."""
    __tablename__ = "name_gram_position"

    i: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)


class CustomerNameGram(Base):
    """A customer's gram, and whether the customer is live (``deleted_at IS NULL``; the triggers rewrite
    it when the customer goes to the bin or comes back, migration ``b4e8c2a6d0f1``): a live list's page is
    one range of ``(gram, live, name, customer_id)``, and so is the bin's, and an admin's count of a
    live search reads that index alone, with no probe of ``customer`` per match."""
    __tablename__ = "customer_name_gram"

    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    gram: Mapped[str] = mapped_column(String(2), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    live: Mapped[bool] = mapped_column(Boolean, server_default=true())

    __table_args__ = (Index("ix_customer_name_gram_search", "gram", "live", "name", "customer_id"),)


class ContactNameGram(Base):
    """A contact's gram. No liveness here: whether a contact is listed depends on its customer too (a
    contact of a customer in the bin is not), and a short search of contacts counted 2,001 matches at
    10 k as at 1 M customers, within the same time."""
    __tablename__ = "contact_name_gram"

    contact_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    gram: Mapped[str] = mapped_column(String(2), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))

    __table_args__ = (Index("ix_contact_name_gram_search", "gram", "name", "contact_id"),)
