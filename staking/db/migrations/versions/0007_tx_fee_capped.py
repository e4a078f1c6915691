"""tx intents: when a stuck transaction was found unable to be replaced within the fee cap

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tx_intents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fee_capped_ms", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tx_intents", schema=None) as batch_op:
        batch_op.drop_column("fee_capped_ms")
