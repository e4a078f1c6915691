"""verdicts, actions, investigations, transaction intents

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 03:32:35.304137
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import staking.db.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "actions",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("verdict_id", sa.String(length=66), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("intent_id", sa.BigInteger(), nullable=True),
        sa.Column("deadline_ms", sa.BigInteger(), nullable=False),
        sa.Column("confirmed_ms", sa.BigInteger(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_actions")),
        sa.UniqueConstraint("verdict_id", "seq", name="uq_actions_verdict_seq"),
    )
    with op.batch_alter_table("actions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_actions_state"), ["state"], unique=False)

    op.create_table(
        "investigations",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("verdict_id", sa.String(length=66), nullable=False),
        sa.Column("provider", sa.String(length=42), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("resolved_by", sa.String(length=80), nullable=True),
        sa.Column("opened_ms", sa.BigInteger(), nullable=False),
        sa.Column("resolved_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_investigations")),
        sa.UniqueConstraint("verdict_id", name=op.f("uq_investigations_verdict_id")),
    )
    with op.batch_alter_table("investigations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_investigations_provider"), ["provider"], unique=False)
        batch_op.create_index(batch_op.f("ix_investigations_status"), ["status"], unique=False)

    op.create_table(
        "signer_nonces",
        sa.Column("signer", sa.String(length=42), nullable=False),
        sa.Column("next_nonce", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("signer", name=op.f("pk_signer_nonces")),
    )
    op.create_table(
        "tx_attempts",
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("intent_id", sa.BigInteger(), nullable=False),
        sa.Column("raw_tx", sa.Text(), nullable=False),
        sa.Column("max_fee", staking.db.types.Amount(), nullable=False),
        sa.Column("priority_fee", staking.db.types.Amount(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tx_hash", name=op.f("pk_tx_attempts")),
    )
    with op.batch_alter_table("tx_attempts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tx_attempts_intent_id"), ["intent_id"], unique=False)

    op.create_table(
        "tx_intents",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("idempotency_key", sa.String(length=100), nullable=False),
        sa.Column("signer", sa.String(length=42), nullable=False),
        sa.Column("nonce", sa.BigInteger(), nullable=True),
        sa.Column("to_address", sa.String(length=42), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("gas", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("mined_block", sa.BigInteger(), nullable=True),
        sa.Column("mined_block_hash", sa.String(length=66), nullable=True),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("sent_ms", sa.BigInteger(), nullable=True),
        sa.Column("confirmed_ms", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tx_intents")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_tx_intents_idempotency_key")),
        sa.UniqueConstraint("signer", "nonce", name="uq_tx_intents_signer_nonce"),
    )
    with op.batch_alter_table("tx_intents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tx_intents_state"), ["state"], unique=False)

    op.create_table(
        "verdicts",
        sa.Column("id", sa.String(length=66), nullable=False),
        sa.Column("provider", sa.String(length=42), nullable=False),
        sa.Column("event_type", sa.Integer(), nullable=False),
        sa.Column("severity", sa.Integer(), nullable=False),
        sa.Column("detected_at", sa.BigInteger(), nullable=False),
        sa.Column("evidence_hash", sa.String(length=66), nullable=False),
        sa.Column("evidence_uri", sa.Text(), nullable=True),
        sa.Column("signature", sa.String(length=132), nullable=False),
        sa.Column("signer", sa.String(length=42), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("offence_number", sa.Integer(), nullable=False),
        sa.Column("slash_bps", sa.Integer(), nullable=False),
        sa.Column("jail_seconds", sa.BigInteger(), nullable=True),
        sa.Column("recovery_path", sa.Integer(), nullable=False),
        sa.Column("deadline_ms", sa.BigInteger(), nullable=False),
        sa.Column("received_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verdicts")),
    )
    with op.batch_alter_table("verdicts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_verdicts_provider"), ["provider"], unique=False)
        batch_op.create_index(batch_op.f("ix_verdicts_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("verdicts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_verdicts_status"))
        batch_op.drop_index(batch_op.f("ix_verdicts_provider"))

    op.drop_table("verdicts")
    with op.batch_alter_table("tx_intents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tx_intents_state"))

    op.drop_table("tx_intents")
    with op.batch_alter_table("tx_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tx_attempts_intent_id"))

    op.drop_table("tx_attempts")
    op.drop_table("signer_nonces")
    with op.batch_alter_table("investigations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_investigations_status"))
        batch_op.drop_index(batch_op.f("ix_investigations_provider"))

    op.drop_table("investigations")
    with op.batch_alter_table("actions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_actions_state"))

    op.drop_table("actions")
