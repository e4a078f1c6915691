"""the policy that made each decision (SPEC section 11): verdicts.policy_hash

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 21:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Null for decisions made before the hash was recorded.
    with op.batch_alter_table("verdicts") as batch:
        batch.add_column(sa.Column("policy_hash", sa.String(length=71), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("verdicts") as batch:
        batch.drop_column("policy_hash")
