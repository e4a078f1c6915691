"""Verdict intake: authenticate a signed verdict, decide it, and record it with its action plan.

`IntakeService.submit` is the whole of `POST /v1/verdicts` below the HTTP layer (SPEC section 3):

1. parse the body (Rejected, naming every bad field),
2. recover the EIP-712 signer and require the canonical signature form the contract accepts, and
   require `DETECTOR_ROLE` (`staking.intake.detectors`: Rejected, or Unavailable when neither the
   index nor the chain can answer), then take a token from the detector's rate-limit bucket
   (`staking.intake.ratelimit`: RateLimited is raised when it is empty, replays included),
3. in one database transaction: by verdict id, Replay (the same signed content from the same
   signer), CoSigned (the same signed content from another detector: a `verdict_signers` row is
   added, SPEC section 8) or Conflict (other content); else decide against the provider's stored
   history and insert the verdict with its first `verdict_signers` row, one `actions` row per
   decided action and, for an investigation, an `investigations` row (Accepted).

Rejected submissions store nothing. A separate worker executes and settles the pending actions.
The answers are the values of `staking.intake.results`; the API turns them into HTTP.
"""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.exc import IntegrityError

from staking.db import schema as t
from staking.domain.ids import normalize_id
from staking.domain.strikes import NOT_A_STRIKE_STATUS
from staking.domain.vocabulary import ActionKind, ActionState, EventType, InvestigationStatus, VerdictStatus
from staking.intake import incidents
from staking.intake.detectors import DetectorCheck, Detectors
from staking.intake.parse import InvalidVerdictBody, SignedVerdict, parse_verdict
from staking.intake.resources import verdict_resource
from staking.intake.results import (
    Accepted,
    Conflict,
    ConflictKind,
    CoSigned,
    Outcome,
    Rejected,
    Replay,
    Unavailable,
    malformed,
)
from staking.policy import Decision, Offence, Policy, decide
from staking.policy.engine import VerdictFacts
from staking.policy.identity import policy_hash
from staking.verdict import Domain, recover_signer

if TYPE_CHECKING:
    from staking.intake.ratelimit import TokenBuckets

log = logging.getLogger("staking.intake")


@dataclass
class IntakeService:
    engine: Engine
    domain: Domain
    detector_check: DetectorCheck | None
    policy: Policy
    max_age: int
    clock: Callable[[], float] = field(default=time.time)
    limiter: TokenBuckets | None = None  # per-detector rate limit (None: unlimited)
    outbox: incidents.Outbox | None = None  # writes the `incident` webhook in the intake's transaction

    def __post_init__(self) -> None:
        self.policy_hash = policy_hash(self.policy)  # recorded with every decision

    @property
    def detectors(self) -> Detectors:
        return Detectors(self.engine, self.domain, self.detector_check, self.limiter)

    # ------------------------------------------------------------------------------------ submit
    def submit(self, body: Any) -> Outcome:
        """Accepted (stored now), Replay, Conflict, Rejected or Unavailable; RateLimited is raised
        for a detector over its rate limit. Nothing is stored unless Accepted."""
        now = self.clock()
        try:
            signed = parse_verdict(body, int(now), self.max_age)
        except InvalidVerdictBody as exc:
            return malformed(exc.errors)

        signer = self.detectors.authenticate(
            signed.signature, lambda sig: recover_signer(signed.verdict, self.domain, sig), "verdict"
        )
        if isinstance(signer, Rejected | Unavailable):
            return signer
        return self._record(signed, signer, int(now * 1000))

    def _record(self, signed: SignedVerdict, signer: str, now_ms: int) -> Accepted | Replay | Conflict:
        vid = signed.id_hex
        try:
            with self.engine.begin() as conn:
                self._lock_provider(conn, signed.verdict.provider)
                existing = self._existing(conn, vid)
                if existing is None:
                    decision = self._decide(conn, signed)
                    self._insert(conn, signed, signer, decision, now_ms, self.policy_hash)
                    incidents.watch(conn, self.policy.incidents, vid, now_ms, self.outbox)
                    resource = verdict_resource(conn, vid)
                    assert resource is not None
                    log.info(
                        "verdict accepted",
                        extra={
                            "verdict_id": vid,
                            "provider": signed.verdict.provider,
                            # Not `level`: that is the log line's own (info), which collectors file by.
                            "decision_level": decision.level,
                            "actions": list(decision.actions),
                        },
                    )
                    return Accepted(resource)
                return self._replay(conn, signed, signer, existing, now_ms)
        except IntegrityError:
            # A concurrent submission of the same id committed first: answer as for a replay.
            with self.engine.begin() as conn:
                self._lock_provider(conn, signed.verdict.provider)
                existing = self._existing(conn, vid)
                if existing is None:
                    raise
                return self._replay(conn, signed, signer, existing, now_ms)

    def _replay(
        self, conn: Connection, signed: SignedVerdict, signer: str, existing: Any, now_ms: int
    ) -> Replay | Conflict:
        """The id is stored: the same signed content is a replay (the same signer) or a
        co-signature (another detector: its signature is added); other content is a conflict."""
        vid = signed.id_hex
        stored = tuple(existing)[:6]  # the signed content, as `_existing` selects it
        first = signer == existing.signer
        if stored != signed.signed_content() or (
            first and (signed.evidence_uri or "") != (existing.evidence_uri or "")
        ):
            return Conflict(
                ConflictKind.ID_REUSED,
                vid,
                f"verdict {vid} was already submitted with different content; a verdict id names "
                "exactly one verdict (and its on-chain slash), so a changed verdict needs a new id",
            )
        cosigned = not first and self._add_signer(conn, signed, signer, now_ms)
        resource = verdict_resource(conn, vid)
        assert resource is not None
        if cosigned:
            log.info(
                "verdict co-signed",
                extra={"verdict_id": vid, "signer": signer, "signers": len(resource["signers"])},
            )
            return CoSigned(resource)
        return Replay(resource)

    @staticmethod
    def _add_signer(conn: Connection, signed: SignedVerdict, signer: str, now_ms: int) -> bool:
        """Record `signer`'s signature of the verdict unless it signed before (False then)."""
        s = t.verdict_signers
        known = conn.execute(
            select(s.c.signer).where(s.c.verdict_id == signed.id_hex, s.c.signer == signer)
        ).first()
        if known is not None:
            return False
        conn.execute(
            s.insert().values(
                verdict_id=signed.id_hex,
                signer=signer,
                signature="0x" + signed.signature.hex(),
                received_ms=now_ms,
            )
        )
        return True

    def _lock_provider(self, conn: Connection, provider: str) -> None:
        """Serialize decisions per provider, so concurrent verdicts see each other in the history
        (escalation must not be skipped). SQLite: one writer at a time from the first read."""
        if conn.dialect.name == "postgresql":
            key = zlib.crc32(f"swarm-staking:intake:{provider}".encode())
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
        elif conn.dialect.name == "sqlite":
            # pysqlite opens its transaction lazily at the first write; take the write lock now.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    @staticmethod
    def _existing(conn: Connection, vid: str) -> Any:
        """The stored verdict's signed content (the first six columns, in the order of
        `SignedVerdict.signed_content`), first signer and evidence URI; None for a new id."""
        v = t.verdicts.c
        return conn.execute(
            select(
                v.id,
                v.provider,
                v.event_type,
                v.severity,
                v.detected_at,
                v.evidence_hash,
                v.signer,
                v.evidence_uri,
            ).where(v.id == vid)
        ).first()

    def _decide(self, conn: Connection, signed: SignedVerdict) -> Decision:
        v = signed.verdict
        since = v.detected_at - self.policy.window_seconds
        rows = conn.execute(
            select(t.verdicts.c.detected_at, t.verdicts.c.event_type, t.verdicts.c.level).where(
                t.verdicts.c.provider == v.provider,
                t.verdicts.c.status != NOT_A_STRIKE_STATUS,
                t.verdicts.c.detected_at > since,
                t.verdicts.c.detected_at <= v.detected_at,
            )
        ).all()
        history = [Offence(r.detected_at, EventType(r.event_type), r.level) for r in rows]
        return decide(VerdictFacts(v.event_type, v.severity, v.detected_at), history, self.policy)

    @staticmethod
    def _insert(
        conn: Connection,
        signed: SignedVerdict,
        signer: str,
        decision: Decision,
        now_ms: int,
        policy_hash: str,
    ) -> None:
        v = signed.verdict
        vid = signed.id_hex
        deadline_ms = v.detected_at * 1000 + decision.deadline_seconds * 1000
        conn.execute(
            t.verdicts.insert().values(
                id=vid,
                provider=v.provider,
                event_type=int(v.event_type),
                severity=int(v.severity),
                detected_at=v.detected_at,
                evidence_hash="0x" + v.evidence_hash.hex(),
                evidence_uri=signed.evidence_uri,
                signature="0x" + signed.signature.hex(),
                signer=signer,
                content_hash=signed.content_hash(),
                status=VerdictStatus.RECEIVED.value,
                level=decision.level,
                offence_number=decision.offence_number,
                slash_bps=decision.slash_bps,
                jail_seconds=decision.jail_seconds,
                recovery_path=int(decision.recovery_path),
                deadline_ms=deadline_ms,
                received_ms=now_ms,
                updated_ms=now_ms,
                policy_hash=policy_hash,
            )
        )
        conn.execute(
            t.verdict_signers.insert().values(
                verdict_id=vid, signer=signer, signature="0x" + signed.signature.hex(), received_ms=now_ms
            )
        )
        if decision.actions:
            conn.execute(
                t.actions.insert(),
                [
                    {
                        "verdict_id": vid,
                        "seq": seq,
                        "kind": kind,
                        "state": ActionState.PENDING.value,
                        "deadline_ms": deadline_ms,
                    }
                    for seq, kind in enumerate(decision.actions)
                ],
            )
        if ActionKind.OPEN_INVESTIGATION in decision.actions:
            conn.execute(
                t.investigations.insert().values(
                    verdict_id=vid,
                    provider=v.provider,
                    status=InvestigationStatus.OPEN.value,
                    opened_ms=now_ms,
                )
            )

    # ------------------------------------------------------------------------------------ reads
    def get(self, verdict_id: str) -> dict[str, Any] | None:
        """The verdict resource (SPEC section 3), or None for an unknown or malformed id."""
        vid = normalize_id(verdict_id)
        if vid is None:
            return None
        with self.engine.connect() as conn:
            return verdict_resource(conn, vid)
