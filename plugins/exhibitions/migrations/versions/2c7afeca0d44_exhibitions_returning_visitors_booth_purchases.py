"""exhibitions: returning visitors (normalised e-mail and phone keys), booth purchases, buyers' matches sent

Issue #19. ``exhibitions_registration.email_key``/``phone_key`` hold the registration's e-mail and phone
normalised, so a returning visitor is found again (filled here for the rows already stored);
``exhibitions_registration.matches_sent_at`` marks a buyer told of their matches;
``exhibitions_booth.purchase_interaction_id`` is the purchase that sold the booth. Nothing is dropped.

Revision ID: 2c7afeca0d44
Revises: 2c4f5606fc15
Create Date: 2026-12-04 04:43:30.756825
"""
import re
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '2c7afeca0d44'
down_revision: Union[str, Sequence[str], None] = '2c4f5606fc15'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


# the normalisation of plugins.exhibitions.services as of this revision (a migration must not change
# with the code that follows it)
def _email_key(raw):
    return (raw or "").strip().lower()[:254]


def _phone_key(raw, cc="86"):
    text = (raw or "").strip()
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


def upgrade() -> None:
    with op.batch_alter_table('exhibitions_booth', schema=None) as batch_op:
        batch_op.add_column(sa.Column('purchase_interaction_id', sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_exhibitions_booth_purchase_interaction_id_interaction'), 'interaction', ['purchase_interaction_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('exhibitions_registration', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email_key', sa.String(length=254), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('phone_key', sa.String(length=40), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('matches_sent_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_exhibitions_registration_email_key'), ['email_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_exhibitions_registration_phone_key'), ['phone_key'], unique=False)

    reg = sa.table('exhibitions_registration', sa.column('id', sa.Uuid()), sa.column('email', sa.String()),
                   sa.column('phone', sa.String()), sa.column('email_key', sa.String()),
                   sa.column('phone_key', sa.String()))
    conn = op.get_bind()
    rows = conn.execute(sa.select(reg.c.id, reg.c.email, reg.c.phone)
                        .where(sa.or_(reg.c.email != '', reg.c.phone != ''))).all()
    keyed = [{"rid": rid, "ek": _email_key(email), "pk": _phone_key(phone)} for rid, email, phone in rows]
    if keyed:
        conn.execute(reg.update().where(reg.c.id == sa.bindparam("rid"))
                     .values(email_key=sa.bindparam("ek"), phone_key=sa.bindparam("pk")), keyed)


def downgrade() -> None:
    # Trellis migrations are forward-only: a downgrade would drop data. Restore a backup to go back.
    raise RuntimeError("Trellis migrations are forward-only; restore a backup to go back.")
