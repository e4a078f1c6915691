"""Verdict intake: authenticate a signed verdict, decide it, and record it with its action plan.

`IntakeService.submit` is the whole of `POST /v1/verdicts` below the HTTP layer (SPEC section 3):

1. parse the body (422 naming every bad field),
2. recover the EIP-712 signer and require the canonical signature form the contract accepts (401),
3. require `DETECTOR_ROLE`: the indexed `roles` table first, the chain's `hasRole` when the index
   has not seen the grant yet (401; 503 when neither can answer), then take a token from the
   detector's rate-limit bucket (`staking.intake.ratelimit`: 429 when empty, replays included),
4. in one database transaction: replay (200) / conflict (409) by verdict id, else decide against
   the provider's stored history and insert the verdict, one `actions` row per decided action and,
   for an investigation, an `investigations` row (202).

Rejected submissions store nothing. A separate worker executes and settles the pending actions.
Answers are `(status, body)`; error bodies are RFC 9457 problem documents.
"""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, Select, select, text, update
from sqlalchemy.exc import IntegrityError

from staking.chain.contracts import role_id
from staking.db import schema as t
from staking.domain.clock import iso_ms
from staking.domain.cursor import NUMBER, decode_cursor, encode_cursor
from staking.domain.ids import normalize_id
from staking.domain.strikes import NOT_A_STRIKE_STATUS
from staking.domain.vocabulary import EventType, RecoveryPath, Severity
from staking.intake.parse import InvalidVerdictBody, SignedVerdict, parse_verdict
from staking.policy import Decision, Offence, Policy, decide
from staking.policy.engine import VerdictFacts
from staking.verdict import Domain, recover_signer

if TYPE_CHECKING:
    from staking.intake.ratelimit import TokenBuckets

log = logging.getLogger("staking.intake")

DETECTOR_ROLE_HEX = "0x" + bytes(role_id("DETECTOR_ROLE")).hex()  # as the indexer stores it
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
PROBLEM_BASE = "/problems/"  # relative type URIs; the API documents each at GET /problems/{slug}
INVESTIGATION_STATUSES = ("open", "resolved")
RESOLVED_BY_MAX = 80  # investigations.resolved_by
MAX_PAGE = 200

DetectorCheck = Callable[[str], bool]


def problem(status: int, slug: str, title: str, detail: str, **extensions: Any) -> dict[str, Any]:
    """An RFC 9457 problem document (`type` is resolved against the API's base URL)."""
    return {"type": PROBLEM_BASE + slug, "title": title, "status": status, "detail": detail, **extensions}


def signature_problem(signature: bytes) -> str | None:
    """Why SwarmStaking (OpenZeppelin `ECDSA.tryRecover`) would refuse this signature, or None.

    eth-account also accepts v = 0/1 and high-s signatures; the contract does not, and a verdict
    it cannot use must not be accepted here only to fail later on chain."""
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    v = signature[64]
    if v not in (27, 28):
        return f"v must be 27 or 28 (got {v})"
    if not 0 < r < SECP256K1_N:
        return "r is out of range"
    if not 0 < s <= SECP256K1_N // 2:
        return "s must be in the lower half of the curve order (EIP-2): the contract refuses malleable ones"
    return None


class DetectorCheckUnavailable(RuntimeError):
    """The signer is not in the index and the chain could not be asked."""


@dataclass(frozen=True)
class Detectors:
    """Who may sign for the risk framework: accounts holding `DETECTOR_ROLE` on SwarmStaking.

    The indexed `roles` table answers first; an account it does not list is asked of the chain
    through `check` (the index may lag a fresh grant; the chain is the authority). Shared by every
    intake of detector-signed documents (verdicts, performance batches) under `domain`, and so is
    `limiter`: one rate-limit bucket per detector across both."""

    engine: Engine
    domain: Domain
    check: DetectorCheck | None
    limiter: TokenBuckets | None = None

    def authenticate(
        self, signature: bytes, recover: Callable[[bytes], str], what: str
    ) -> str | tuple[int, dict[str, Any]]:
        """The signer `recover(signature)` gives, if it holds DETECTOR_ROLE; else the rejection
        `(status, problem)`: 401 for a signature that does not recover (or that the contract would
        refuse) or a signer without the role, 503 when neither the index nor the chain can answer.
        Raises `RateLimited` when the detector has used up its rate limit (nothing is stored then).
        `what` names the signed document in the answers ("verdict", "performance batch")."""
        domain_hint = (
            f"{what}s must be EIP-712 signed for domain SwarmRiskFramework/1, chainId "
            f"{self.domain.chain_id}, verifyingContract {self.domain.verifying_contract}"
        )
        why = signature_problem(signature)
        signer: str | None = None
        if why is None:
            try:
                signer = recover(signature)
            except Exception as exc:  # eth-keys raises BadSignature, ValueError, ...
                why = f"signature does not recover ({exc})"
        if signer is None:
            return 401, problem(
                401, "invalid-signature", f"Invalid {what} signature", f"{why}; {domain_hint}"
            )
        try:
            is_detector = self.is_detector(signer)
        except DetectorCheckUnavailable as exc:
            return 503, problem(503, "detector-check-unavailable", "Cannot verify the signer now", str(exc))
        if not is_detector:
            return 401, problem(
                401,
                "signer-not-detector",
                "Signer is not a detector",
                f"the signature recovers to {signer}, which does not hold DETECTOR_ROLE "
                f"(a signature for another domain recovers to an unrelated address; {domain_hint})",
                signer=signer,
            )
        if self.limiter is not None:
            # After the role check, so only detectors get buckets (their number is bounded).
            self.limiter.take(signer)
        return signer

    def is_detector(self, signer: str) -> bool:
        """Whether `signer` holds DETECTOR_ROLE; DetectorCheckUnavailable if the chain, asked about
        an account the index does not list, does not answer."""
        query = select(t.roles.c.account).where(
            t.roles.c.role == DETECTOR_ROLE_HEX, t.roles.c.account == signer
        )
        with self.engine.connect() as conn:
            if conn.execute(query).first() is not None:
                return True
        if self.check is None:
            return False
        try:
            return bool(self.check(signer))
        except Exception as exc:
            log.warning("on-chain DETECTOR_ROLE check failed", extra={"signer": signer, "error": str(exc)})
            raise DetectorCheckUnavailable(
                f"{signer} is not among the indexed detectors and the chain could not be asked "
                f"({type(exc).__name__}); retry shortly"
            ) from exc


@dataclass
class IntakeService:
    engine: Engine
    domain: Domain
    detector_check: DetectorCheck | None
    policy: Policy
    max_age: int
    clock: Callable[[], float] = field(default=time.time)
    limiter: TokenBuckets | None = None  # per-detector rate limit (None: unlimited)

    @property
    def detectors(self) -> Detectors:
        return Detectors(self.engine, self.domain, self.detector_check, self.limiter)

    # ------------------------------------------------------------------------------------ submit
    def submit(self, body: Any) -> tuple[int, dict[str, Any]]:
        now = self.clock()
        try:
            signed = parse_verdict(body, int(now), self.max_age)
        except InvalidVerdictBody as exc:
            return 422, problem(
                422,
                "invalid-verdict",
                "Malformed verdict",
                f"{len(exc.errors)} field(s) are invalid: {exc}",
                errors=exc.errors,
            )

        signer = self.detectors.authenticate(
            signed.signature, lambda sig: recover_signer(signed.verdict, self.domain, sig), "verdict"
        )
        if isinstance(signer, tuple):
            return signer
        return self._record(signed, signer, int(now * 1000))

    def _record(self, signed: SignedVerdict, signer: str, now_ms: int) -> tuple[int, dict[str, Any]]:
        vid = signed.id_hex
        try:
            with self.engine.begin() as conn:
                self._lock_provider(conn, signed.verdict.provider)
                existing = self._existing(conn, vid)
                if existing is None:
                    decision = self._decide(conn, signed)
                    self._insert(conn, signed, signer, decision, now_ms)
                    resource = self._resource(conn, vid)
                    assert resource is not None
                    log.info(
                        "verdict accepted",
                        extra={
                            "verdict_id": vid,
                            "provider": signed.verdict.provider,
                            "level": decision.level,
                            "actions": list(decision.actions),
                        },
                    )
                    return 202, resource
        except IntegrityError:
            # A concurrent submission of the same id committed first: answer as for a replay.
            with self.engine.connect() as conn:
                existing = self._existing(conn, vid)
            if existing is None:
                raise
        return self._replay(signed, existing)

    def _replay(self, signed: SignedVerdict, existing: str) -> tuple[int, dict[str, Any]]:
        vid = signed.id_hex
        if existing != signed.content_hash():
            return 409, problem(
                409,
                "verdict-conflict",
                "Verdict id already used",
                f"verdict {vid} was already submitted with different content; a verdict id names "
                "exactly one verdict (and its on-chain slash), so a changed verdict needs a new id",
                verdict=f"/v1/verdicts/{vid}",
            )
        resource = self.get(vid)
        assert resource is not None
        return 200, resource

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
    def _existing(conn: Connection, vid: str) -> str | None:
        row = conn.execute(select(t.verdicts.c.content_hash).where(t.verdicts.c.id == vid)).first()
        return None if row is None else str(row.content_hash)

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
        conn: Connection, signed: SignedVerdict, signer: str, decision: Decision, now_ms: int
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
                status="received",
                level=decision.level,
                offence_number=decision.offence_number,
                slash_bps=decision.slash_bps,
                jail_seconds=decision.jail_seconds,
                recovery_path=int(decision.recovery_path),
                deadline_ms=deadline_ms,
                received_ms=now_ms,
                updated_ms=now_ms,
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
                        "state": "pending",
                        "deadline_ms": deadline_ms,
                    }
                    for seq, kind in enumerate(decision.actions)
                ],
            )
        if "open_investigation" in decision.actions:
            conn.execute(
                t.investigations.insert().values(
                    verdict_id=vid, provider=v.provider, status="open", opened_ms=now_ms
                )
            )

    # ------------------------------------------------------------------------------------ reads
    def get(self, verdict_id: str) -> dict[str, Any] | None:
        """The verdict resource (SPEC section 3), or None for an unknown or malformed id."""
        vid = normalize_id(verdict_id)
        if vid is None:
            return None
        with self.engine.connect() as conn:
            return self._resource(conn, vid)

    @staticmethod
    def _resource(conn: Connection, vid: str) -> dict[str, Any] | None:
        v = conn.execute(select(t.verdicts).where(t.verdicts.c.id == vid)).first()
        if v is None:
            return None
        rows = conn.execute(
            select(
                t.actions.c.kind,
                t.actions.c.state,
                t.actions.c.deadline_ms,
                t.actions.c.confirmed_ms,
                t.actions.c.note,
                t.tx_intents.c.tx_hash,
                t.tx_intents.c.mined_block,
            )
            .select_from(t.actions.outerjoin(t.tx_intents, t.tx_intents.c.id == t.actions.c.intent_id))
            .where(t.actions.c.verdict_id == vid)
            .order_by(t.actions.c.seq)
        ).all()
        path = RecoveryPath(v.recovery_path)
        return {
            "id": v.id,
            "status": v.status,
            "provider": v.provider,
            **verdict_facts(v),
            "signer": v.signer,
            "decision": {
                "level": v.level,
                "offence_number": v.offence_number,
                "recovery_path": None if path == RecoveryPath.NONE else path.wire,
                "slash_bps": v.slash_bps,
                "jail_seconds": v.jail_seconds,
                "jail_until_recovery": v.jail_seconds == 0,
            },
            "actions": [
                {
                    "kind": a.kind,
                    "state": a.state,
                    "tx_hash": a.tx_hash,
                    "block": a.mined_block,
                    "deadline_at": iso_ms(a.deadline_ms),
                    "confirmed_at": iso_ms(a.confirmed_ms),
                    "note": a.note,
                }
                for a in rows
            ],
            "deadline_at": iso_ms(v.deadline_ms),
            "received_at": iso_ms(v.received_ms),
            "updated_at": iso_ms(v.updated_ms),
        }

    def list_investigations(
        self, status: str | None = None, limit: int = 50, cursor: str | None = None
    ) -> dict[str, Any]:
        """`GET /v1/investigations` (see the module-level `list_investigations`)."""
        return list_investigations(self.engine, status, limit, cursor)


# ------------------------------------------------------------------------------ investigations
# Opened by `_insert` for suspicious activity; listed by the API and the CLI, resolved by governance
# from the CLI (`swarm-staking investigation resolve`).

INVESTIGATION_OUTCOMES = ("cleared", "confirmed")


class InvestigationError(ValueError):
    """No investigation for that verdict, or it is resolved already."""


def _investigations_query() -> Select[Any]:
    inv, ver = t.investigations, t.verdicts
    return select(
        inv, ver.c.event_type, ver.c.severity, ver.c.detected_at, ver.c.evidence_hash, ver.c.evidence_uri
    ).select_from(inv.join(ver, ver.c.id == inv.c.verdict_id))


def verdict_facts(r: Any) -> dict[str, Any]:
    """What the detector said, as the API shows it (from a row with the verdict's columns)."""
    return {
        "event_type": EventType(r.event_type).wire,
        "severity": Severity(r.severity).wire,
        "detected_at": r.detected_at,
        "evidence_hash": r.evidence_hash,
        "evidence_uri": r.evidence_uri,
    }


def _investigation_item(r: Any) -> dict[str, Any]:
    return {
        "id": r.id,
        "verdict_id": r.verdict_id,
        "provider": r.provider,
        "status": r.status,
        **verdict_facts(r),
        "opened_at": iso_ms(r.opened_ms),
        "resolved_at": iso_ms(r.resolved_ms),
        "resolution": r.resolution,
        "resolved_by": r.resolved_by,
        "verdict": f"/v1/verdicts/{r.verdict_id}",
    }


def list_investigations(
    engine: Engine, status: str | None = None, limit: int = 50, cursor: str | None = None
) -> dict[str, Any]:
    """Investigations, newest first: `{"items": [...], "next_cursor": str | None}`.

    Raises ValueError for an unknown status, a limit outside 1..MAX_PAGE or a bad cursor."""
    if status is not None and status not in INVESTIGATION_STATUSES:
        raise ValueError(f"status must be one of {', '.join(INVESTIGATION_STATUSES)}")
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE}")
    inv = t.investigations
    query = _investigations_query().order_by(inv.c.id.desc()).limit(limit + 1)
    if status is not None:
        query = query.where(inv.c.status == status)
    if cursor is not None:
        query = query.where(inv.c.id < int(decode_cursor("inv", cursor, NUMBER)[0]))
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    page = rows[:limit]
    next_cursor = encode_cursor("inv", page[-1].id) if len(rows) > limit else None
    return {"items": [_investigation_item(r) for r in page], "next_cursor": next_cursor}


def find_investigation(engine: Engine, verdict_id: str) -> dict[str, Any] | None:
    """The investigation opened by `verdict_id` (listing shape), or None."""
    vid = normalize_id(verdict_id)
    if vid is None:
        return None
    with engine.connect() as conn:
        row = conn.execute(_investigations_query().where(t.investigations.c.verdict_id == vid)).first()
    return None if row is None else _investigation_item(row)


def check_resolution(verdict_id: str, outcome: str, note: str, resolved_by: str) -> tuple[str, str, str]:
    """`(verdict id, resolution, resolver)` as stored, or ValueError naming what is wrong."""
    if outcome not in INVESTIGATION_OUTCOMES:
        raise ValueError(f"outcome must be one of {', '.join(INVESTIGATION_OUTCOMES)}, not {outcome!r}")
    if not note.strip():
        raise ValueError("the note must not be empty: say why")
    if not 1 <= len(resolved_by.strip()) <= RESOLVED_BY_MAX:
        raise ValueError(f"the resolver's name must be 1 to {RESOLVED_BY_MAX} characters")
    vid = normalize_id(verdict_id)
    if vid is None:
        raise ValueError(f"{verdict_id!r} is not a verdict id (0x + 64 hex digits)")
    return vid, f"{outcome}: {note.strip()}", resolved_by.strip()


def open_investigation(engine: Engine, verdict_id: str) -> dict[str, Any]:
    """The open investigation of `verdict_id`; InvestigationError if there is none or it is resolved."""
    item = find_investigation(engine, verdict_id)
    if item is None:
        raise InvestigationError(f"no investigation for verdict {verdict_id.lower()}")
    if item["status"] != "open":
        raise InvestigationError(
            f"the investigation of verdict {item['verdict_id']} is already resolved "
            f"({item['resolution']!r} by {item['resolved_by']} at {item['resolved_at']})"
        )
    return item


def resolve_investigation(
    engine: Engine, verdict_id: str, outcome: str, note: str, resolved_by: str, now_ms: int
) -> dict[str, Any]:
    """Resolve the open investigation of `verdict_id` as `outcome` ("cleared" or "confirmed"):
    status `resolved`, resolution `"<outcome>: <note>"`. Returns the resolved investigation.

    Only an open investigation is resolved (one conditional UPDATE, so of two concurrent
    resolutions one wins). Raises InvestigationError for an unknown or already resolved one,
    ValueError for bad arguments (see `check_resolution`). A confirmed investigation penalizes
    nobody by itself (SPEC section 1): that takes a new detector-signed verdict of the confirmed
    event type."""
    vid, resolution, resolver = check_resolution(verdict_id, outcome, note, resolved_by)
    inv = t.investigations
    with engine.begin() as conn:
        changed = conn.execute(
            update(inv)
            .where(inv.c.verdict_id == vid, inv.c.status == "open")
            .values(status="resolved", resolution=resolution, resolved_by=resolver, resolved_ms=now_ms)
        ).rowcount
    if changed != 1:
        open_investigation(engine, vid)  # raises: unknown or resolved by someone else
    log.info("investigation resolved", extra={"verdict_id": vid, "outcome": outcome, "resolved_by": resolver})
    item = find_investigation(engine, vid)
    assert item is not None
    return item
