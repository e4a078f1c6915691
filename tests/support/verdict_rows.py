"""Verdict rows written straight into the database, for the tests of what reads them."""

from __future__ import annotations

from sqlalchemy import Engine

from staking.db import schema as t
from staking.domain.vocabulary import EventType, Severity

PROVIDER = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"


DETECTOR = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"


OPENED_MS = 1_795_000_000_000


def verdict_id(n: int) -> str:
    return "0x" + f"{n:064x}".replace("0", "a")  # has letters, so case matters


def add_verdict(
    engine: Engine,
    n: int,
    *,
    status: str = "done",
    event_type: EventType = EventType.SUSPICIOUS_ACTIVITY,
    investigation: bool = True,
) -> str:
    """Store verdict number `n` (and the investigation it opened) as the intake would."""
    vid = verdict_id(n)
    with engine.begin() as conn:
        conn.execute(
            t.verdicts.insert().values(
                id=vid,
                provider=PROVIDER,
                event_type=int(event_type),
                severity=int(Severity.HIGH),
                detected_at=OPENED_MS // 1000 - 5,
                evidence_hash="0x" + "cd" * 32,
                evidence_uri="ipfs://bafy-evidence",
                signature="0x" + "11" * 65,
                signer=DETECTOR,
                content_hash=f"{n:064x}",
                status=status,
                level="none",
                offence_number=0,
                slash_bps=0,
                recovery_path=0,
                deadline_ms=OPENED_MS + 900_000,
                received_ms=OPENED_MS + n,
                updated_ms=OPENED_MS + n,
            )
        )
        if investigation:
            conn.execute(
                t.investigations.insert().values(
                    verdict_id=vid, provider=PROVIDER, status="open", opened_ms=OPENED_MS + n
                )
            )
    return vid
