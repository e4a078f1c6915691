"""provider appeals of slashes (SPEC section 9)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-10 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from staking.db.types import Amount

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "appeals",
        sa.Column("id", sa.String(length=66), nullable=False),
        sa.Column("provider", sa.String(length=42), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("evidence_hash", sa.String(length=66), nullable=False),
        sa.Column("bond", Amount(), nullable=False),
        sa.Column("deadline", sa.BigInteger(), nullable=False),
        sa.Column("reason_hash", sa.String(length=66), nullable=True),
        sa.Column("resolved_at", sa.BigInteger(), nullable=True),
        sa.Column("executable_at", sa.BigInteger(), nullable=True),
        sa.Column("appealed_at", sa.BigInteger(), nullable=False),
        sa.Column("appealed_block", sa.BigInteger(), nullable=False),
        sa.Column("appealed_tx", sa.String(length=66), nullable=False),
        sa.Column("resolved_block", sa.BigInteger(), nullable=True),
        sa.Column("resolved_tx", sa.String(length=66), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appeals")),
    )
    op.create_index(op.f("ix_appeals_provider"), "appeals", ["provider"], unique=False)
    op.create_index(op.f("ix_appeals_state"), "appeals", ["state"], unique=False)
    op.create_index("ix_appeals_appealed_block", "appeals", ["appealed_block", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_appeals_appealed_block", table_name="appeals")
    op.drop_index(op.f("ix_appeals_state"), table_name="appeals")
    op.drop_index(op.f("ix_appeals_provider"), table_name="appeals")
    op.drop_table("appeals")
