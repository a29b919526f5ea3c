"""Duplicate customers: match keys, and merged customers that point at the customer they were merged into

Issue #19. ``customer.name_key`` and ``contact.email_key``/``phone_key``/``mobile_key`` hold the name, e-mail
and phone numbers normalised (``core.normalize``: NFKC, case-folded, digits with the country code), so
duplicate candidates are found by grouping in SQL; they are filled here for the rows already stored.
``customer.merged_into_id`` (nullable, to ``customer``) and ``customer.merged_at`` record a merge. Columns
are only added (no table is rebuilt on PostgreSQL), nothing is dropped.

Revision ID: 3e9b7c1d2a60
Revises: d7e3b1a90c42
Create Date: 2026-12-04 13:45:00.000000
"""
import re
import unicodedata
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '3e9b7c1d2a60'
down_revision: Union[str, Sequence[str], None] = 'd7e3b1a90c42'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# the normalisation of core.normalize as of this revision (a migration must not change with the code)
_TOMBSTONE = "[erased]"


def _email_key(raw):
    text = (raw or "").strip().lower()[:254]
    return "" if text.startswith(_TOMBSTONE) else text


def _phone_key(raw, cc="86"):
    text = unicodedata.normalize("NFKC", raw or "").strip()
    digits = re.sub(r"\D", "", text)
    if len(digits) < 5:
        return ""
    if text.startswith("+"):
        full = digits
    elif digits.startswith("00"):
        full = digits[2:]
    elif digits.startswith(cc) and len(digits) >= len(cc) + 10:
        full = digits
    else:
        full = cc + (digits[1:] if digits.startswith("0") else digits)
    if full.startswith(cc + "0"):
        full = cc + full[len(cc) + 1:]
    return ("+" + full)[:40]


def _name_key(raw):
    text = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", raw or "").casefold()).strip()[:200]
    return "" if text.startswith(_TOMBSTONE) else text


def upgrade() -> None:
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name_key', sa.String(length=200), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('merged_into_id', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('merged_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_customer_name_key'), ['name_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_customer_merged_into_id'), ['merged_into_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_customer_merged_into_id_customer'), 'customer',
                                    ['merged_into_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email_key', sa.String(length=254), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('phone_key', sa.String(length=40), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('mobile_key', sa.String(length=40), nullable=False, server_default=''))
        batch_op.create_index(batch_op.f('ix_contact_email_key'), ['email_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_contact_phone_key'), ['phone_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_contact_mobile_key'), ['mobile_key'], unique=False)

    conn = op.get_bind()
    customer = sa.table('customer', sa.column('id', sa.Uuid()), sa.column('name', sa.String()),
                        sa.column('name_key', sa.String()))
    keyed = [{"rid": rid, "nk": _name_key(name)} for rid, name in conn.execute(sa.select(customer.c.id, customer.c.name))]
    for start in range(0, len(keyed), 5000):
        conn.execute(customer.update().where(customer.c.id == sa.bindparam("rid"))
                     .values(name_key=sa.bindparam("nk")), keyed[start:start + 5000])

    contact = sa.table('contact', sa.column('id', sa.Uuid()), sa.column('email', sa.String()),
                       sa.column('phone', sa.String()), sa.column('mobile', sa.String()),
                       sa.column('email_key', sa.String()), sa.column('phone_key', sa.String()),
                       sa.column('mobile_key', sa.String()))
    rows = conn.execute(sa.select(contact.c.id, contact.c.email, contact.c.phone, contact.c.mobile)
                        .where(sa.or_(contact.c.email != '', contact.c.phone != '', contact.c.mobile != ''))).all()
    keyed = [{"rid": rid, "ek": _email_key(email), "pk": _phone_key(phone), "mk": _phone_key(mobile)}
             for rid, email, phone, mobile in rows]
    for start in range(0, len(keyed), 5000):
        conn.execute(contact.update().where(contact.c.id == sa.bindparam("rid"))
                     .values(email_key=sa.bindparam("ek"), phone_key=sa.bindparam("pk"), mobile_key=sa.bindparam("mk")),
                     keyed[start:start + 5000])


def downgrade() -> None:
    # Trellis migrations are forward-only: a downgrade would drop data. Restore a backup to go back.
    raise RuntimeError("Trellis migrations are forward-only; restore a backup to go back.")
