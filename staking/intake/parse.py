"""Parsing the `POST /v1/verdicts` body into a `Verdict` (pure: no network, no database).

Every problem is reported at once, by field, so a detector fixes its payload in one go.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from eth_utils import is_checksum_address, to_checksum_address

from staking.domain.ids import ADDRESS, ID
from staking.domain.vocabulary import EventType, Severity
from staking.intake.errors import IntakeError
from staking.verdict import Verdict

HEX_SIG = re.compile(r"^0x[0-9a-fA-F]{130}$")
MAX_URI = 2048
FIELDS = {
    "id",
    "provider",
    "event_type",
    "severity",
    "detected_at",
    "evidence_hash",
    "evidence_uri",
    "signature",
}


@dataclass(frozen=True)
class SignedVerdict:
    verdict: Verdict
    signature: bytes
    evidence_uri: str | None

    @property
    def id_hex(self) -> str:
        return "0x" + self.verdict.id.hex()

    def signed_content(self) -> tuple[str, str, int, int, int, str]:
        """What the detector's signature covers, as the intake stores it (`verdicts` columns id,
        provider, event_type, severity, detected_at, evidence_hash): two submissions with equal
        signed content are the same verdict, whoever signed them and however (a co-signature by
        another detector, or a second signature by the same one)."""
        v = self.verdict
        return (
            self.id_hex,
            v.provider,
            int(v.event_type),
            int(v.severity),
            v.detected_at,
            "0x" + v.evidence_hash.hex(),
        )

    def content_hash(self) -> str:
        """A fingerprint of the submission as first received: every signed field plus the
        signature and the evidence URI (stored with the verdict). Replays and co-signatures are
        judged by `signed_content` and the evidence URI, not by this hash: the same content signed
        again, by the same detector or another, has another signature."""
        v = self.verdict
        canonical = json.dumps(
            [
                v.id.hex(),
                v.provider,
                int(v.event_type),
                int(v.severity),
                v.detected_at,
                v.evidence_hash.hex(),
                self.signature.hex(),
                self.evidence_uri or "",
            ],
            separators=(",", ":"),
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


class InvalidVerdictBody(IntakeError, ValueError):
    """The body is not a verdict: `errors` names every bad field (`{"field", "message"}`)."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))


def parse_verdict(body: Any, now: int, max_age: int, clock_skew: int = 30) -> SignedVerdict:
    """Validates shape, enums, hex, checksum and freshness. Signature *validity* is checked later
    (it needs the chain's domain and roles); here only its form."""
    if not isinstance(body, dict):
        raise InvalidVerdictBody([{"field": "body", "message": "must be a JSON object"}])
    errors: list[dict[str, str]] = []

    def err(field: str, message: str) -> None:
        errors.append({"field": field, "message": message})

    for extra in sorted(set(body) - FIELDS):
        err(extra, "unknown field")
    for required in sorted(FIELDS - {"evidence_uri"} - set(body)):
        err(required, "required")

    def hex32(field: str) -> bytes | None:
        value = body.get(field)
        if field not in body:
            return None
        if not isinstance(value, str) or not ID.match(value):
            err(field, "must be 0x followed by 64 hex digits")
            return None
        return bytes.fromhex(value[2:])

    vid, evidence = hex32("id"), hex32("evidence_hash")
    if vid is not None and vid == b"\x00" * 32:
        err("id", "must not be zero")
        vid = None

    provider = body.get("provider")
    if "provider" in body:
        if not isinstance(provider, str) or not ADDRESS.match(provider):
            err("provider", "must be a 0x-prefixed 20-byte address")
            provider = None
        elif provider[2:] not in (provider[2:].lower(), provider[2:].upper()) and not is_checksum_address(
            provider
        ):
            # Mixed case claims an EIP-55 checksum: it must be right (a typo must not slash someone else).
            err("provider", f"bad EIP-55 checksum (expected {to_checksum_address(provider)})")
            provider = None
        else:
            provider = to_checksum_address(provider)

    def enum(field: str, cls: type[EventType] | type[Severity]) -> Any:
        value = body.get(field)
        if field not in body:
            return None
        if not isinstance(value, str):
            err(field, "must be a string")
            return None
        try:
            return cls.from_wire(value)
        except ValueError as exc:
            err(field, str(exc))
            return None

    event_type, severity = enum("event_type", EventType), enum("severity", Severity)

    detected_at = body.get("detected_at")
    if "detected_at" in body:
        if not isinstance(detected_at, int) or isinstance(detected_at, bool) or not 0 < detected_at < 2**64:
            err("detected_at", "must be unix seconds (a positive integer)")
            detected_at = None
        elif detected_at > now + clock_skew:
            err("detected_at", f"is in the future ({detected_at} > now {now})")
            detected_at = None
        elif now - detected_at > max_age:
            err("detected_at", f"is older than the maximum verdict age of {max_age} s")
            detected_at = None

    signature = body.get("signature")
    if "signature" in body and (not isinstance(signature, str) or not HEX_SIG.match(signature)):
        err("signature", "must be 0x followed by 130 hex digits (r, s, v)")
        signature = None

    uri = body.get("evidence_uri")
    if uri is not None and (not isinstance(uri, str) or len(uri) > MAX_URI):
        err("evidence_uri", f"must be a string of at most {MAX_URI} characters")

    if errors:
        raise InvalidVerdictBody(errors)
    assert isinstance(signature, str)
    verdict = Verdict(vid, provider, event_type, severity, detected_at, evidence)  # type: ignore[arg-type]
    return SignedVerdict(verdict, bytes.fromhex(signature[2:]), uri)
