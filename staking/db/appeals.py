"""The `appeals` table (SPEC section 9): a provider's appeal of a slash, folded from SlashAppealed,
AppealResolved and AppealExpired. Part of the projection (rebuilt from `events` like `slashes`)
and of `staking.db.schema.metadata` (re-exported from `staking.db.schema`)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, String, Table

from staking.db.columns import ADDRESS, HASH, metadata
from staking.db.types import Amount

appeals = Table(
    "appeals",
    metadata,
    Column("id", HASH, primary_key=True),  # the slash id (one appeal per slash)
    Column("provider", ADDRESS, nullable=False, index=True),
    Column("state", String(16), nullable=False, index=True),  # open|upheld|rejected|expired
    Column("evidence_hash", HASH, nullable=False),  # sha256 of the provider's evidence file
    Column("bond", Amount, nullable=False),
    Column("deadline", BigInteger, nullable=False),  # appealed at + appealTimeout()
    Column("reason_hash", HASH),  # the council's, once resolved
    Column("resolved_at", BigInteger),  # block time of the resolution or the expiry
    Column("executable_at", BigInteger),  # rejected: the slash's new executableAt
    Column("appealed_at", BigInteger, nullable=False),
    Column("appealed_block", BigInteger, nullable=False),
    Column("appealed_tx", HASH, nullable=False),
    Column("resolved_block", BigInteger),
    Column("resolved_tx", HASH),
    Index("ix_appeals_appealed_block", "appealed_block", "id"),
)
