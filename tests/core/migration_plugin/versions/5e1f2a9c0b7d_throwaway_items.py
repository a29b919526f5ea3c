"""The throwaway plugin's items (a test fixture: a plugin branch that depends on the core)

Revision ID: 5e1f2a9c0b7d
Revises:
Create Date: 2026-11-23 12:30:00
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "5e1f2a9c0b7d"
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = ("throwaway",)
depends_on: Union[str, Sequence[str], None] = "8b6ee2a2636d"


def upgrade() -> None:
    op.create_table(
        "throwaway_item",
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("label", sa.String(length=80), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"], name=op.f("fk_throwaway_item_customer_id_customer"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_throwaway_item")),
    )
    op.create_index(op.f("ix_throwaway_item_customer_id"), "throwaway_item", ["customer_id"], unique=False)


def downgrade() -> None:
    raise RuntimeError("Trellis migrations are forward-only; restore a backup to go back.")
