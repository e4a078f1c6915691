"""Tables of the bounded blast radius (SPEC section 8): co-signatures, incidents and revoked
detectors. Part of `staking.db.schema.metadata` (re-exported from `staking.db.schema`)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, String, Table, Text

from staking.db.columns import ADDRESS, HASH, metadata

# Every detector that signed a verdict's content, the first one included (`verdicts.signer`).
# A slash above the contract's `quorumBps` waits until `detectorQuorum` of them are here.
verdict_signers = Table(
    "verdict_signers",
    metadata,
    Column("verdict_id", HASH, primary_key=True),
    Column("signer", ADDRESS, primary_key=True),
    Column("signature", String(132), nullable=False),
    Column("received_ms", BigInteger, nullable=False),
)

# An incident: verdicts against many providers at once from one detector (kind "detector",
# subject = its address) or of one event type (kind "event_type", subject = its wire name).
# While open, the slashes of its verdicts are held; release lets them through the caps, dismiss
# cancels them and lifts the jails that rest only on them.
incidents = Table(
    "incidents",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),  # detector|event_type
    Column("subject", String(66), nullable=False),
    Column("state", String(16), nullable=False, index=True),  # open|released|dismissed
    Column("reason", Text, nullable=False),  # the threshold crossed, in words
    Column("opened_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
    Column("closed_ms", BigInteger),
    Column("closed_by", String(80)),
    Column("note", Text),
)

incident_verdicts = Table(
    "incident_verdicts",
    metadata,
    Column("incident_id", BigInteger, primary_key=True),
    Column("verdict_id", HASH, primary_key=True, index=True),
    Column("added_ms", BigInteger, nullable=False),
)

# Detectors the service stopped trusting (`detector revoke`), before the on-chain revocation is
# mined and for good: their signatures are refused at once, whatever the roles index says.
detector_revocations = Table(
    "detector_revocations",
    metadata,
    Column("account", ADDRESS, primary_key=True),
    Column("revoked_ms", BigInteger, nullable=False),
    Column("revoked_by", String(80)),
    Column("note", Text),
)
