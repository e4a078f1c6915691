"""Performance reports: detectors' per-epoch measurements of providers, as EIP-712-signed batches.

Same domain as verdicts (`SwarmRiskFramework`, version 1, chain id, SwarmStaking). Types:

    PerformanceBatch(bytes32 id,uint64 epoch,PerformanceReport[] reports)
    PerformanceReport(address provider,uint16 uptimeBps,uint32 responseMsP50,
                      uint16 errorRateBps,uint16 ratingBps)

HTTP body of `POST /v1/performance`:

    {"id": "0x<64 hex>", "epoch": 12, "signature": "0x<130 hex>",
     "reports": [{"provider": "0x…", "uptime_bps": 9990, "response_ms_p50": 120,
                  "error_rate_bps": 10, "rating_bps": 9000}, …]}

bps are 1/10,000 (uptime 9990 = 99.90 %; rating_bps is the mean user rating scaled to 0-10,000).
Pure: building, signing, recovering and parsing; storage is the intake's.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import is_checksum_address, to_checksum_address

from staking.domain.errors import SwarmError
from staking.domain.ids import ADDRESS, ID
from staking.domain.vocabulary import Address
from staking.rewards.eligibility import PerformanceReport
from staking.verdict import DOMAIN_NAME, DOMAIN_VERSION, Domain

MAX_REPORTS = 1_000
HEX_SIG = re.compile(r"^0x[0-9a-fA-F]{130}$")

TYPES: dict[str, list[dict[str, str]]] = {
    "EIP712Domain": [
        {"name": "name", "type": "string"},
        {"name": "version", "type": "string"},
        {"name": "chainId", "type": "uint256"},
        {"name": "verifyingContract", "type": "address"},
    ],
    "PerformanceBatch": [
        {"name": "id", "type": "bytes32"},
        {"name": "epoch", "type": "uint64"},
        {"name": "reports", "type": "PerformanceReport[]"},
    ],
    "PerformanceReport": [
        {"name": "provider", "type": "address"},
        {"name": "uptimeBps", "type": "uint16"},
        {"name": "responseMsP50", "type": "uint32"},
        {"name": "errorRateBps", "type": "uint16"},
        {"name": "ratingBps", "type": "uint16"},
    ],
}


@dataclass(frozen=True)
class ProviderReport:
    provider: Address
    report: PerformanceReport


@dataclass(frozen=True)
class PerformanceBatch:
    id: bytes
    epoch: int
    reports: tuple[ProviderReport, ...]

    @property
    def id_hex(self) -> str:
        return "0x" + self.id.hex()

    def content_hash(self) -> str:
        """What identifies the batch's content (its id aside), for replay/conflict answers."""
        rows = [
            [
                to_checksum_address(r.provider),
                r.report.uptime_bps,
                r.report.response_ms_p50,
                r.report.error_rate_bps,
                r.report.rating_bps,
            ]
            for r in self.reports
        ]
        return hashlib.sha256(json.dumps([self.epoch, rows]).encode()).hexdigest()


def typed_data(batch: PerformanceBatch, domain: Domain) -> dict[str, Any]:
    return {
        "types": TYPES,
        "primaryType": "PerformanceBatch",
        "domain": {
            "name": DOMAIN_NAME,
            "version": DOMAIN_VERSION,
            "chainId": domain.chain_id,
            "verifyingContract": to_checksum_address(domain.verifying_contract),
        },
        "message": {
            "id": batch.id,
            "epoch": batch.epoch,
            "reports": [
                {
                    "provider": to_checksum_address(r.provider),
                    "uptimeBps": r.report.uptime_bps,
                    "responseMsP50": r.report.response_ms_p50,
                    "errorRateBps": r.report.error_rate_bps,
                    "ratingBps": r.report.rating_bps,
                }
                for r in batch.reports
            ],
        },
    }


def sign_batch(batch: PerformanceBatch, domain: Domain, private_key: bytes | str) -> bytes:
    signable = encode_typed_data(full_message=typed_data(batch, domain))
    return bytes(Account.sign_message(signable, private_key=private_key).signature)


def recover_batch_signer(batch: PerformanceBatch, domain: Domain, signature: bytes) -> Address:
    if len(signature) != 65:
        raise ValueError("signature must be 65 bytes")
    signable = encode_typed_data(full_message=typed_data(batch, domain))
    return Address(Account.recover_message(signable, signature=signature))


def to_wire(batch: PerformanceBatch, signature: bytes) -> dict[str, Any]:
    return {
        "id": batch.id_hex,
        "epoch": batch.epoch,
        "reports": [
            {
                "provider": r.provider,
                "uptime_bps": r.report.uptime_bps,
                "response_ms_p50": r.report.response_ms_p50,
                "error_rate_bps": r.report.error_rate_bps,
                "rating_bps": r.report.rating_bps,
            }
            for r in batch.reports
        ],
        "signature": "0x" + signature.hex(),
    }


class InvalidPerformanceBody(SwarmError, ValueError):
    def __init__(self, errors: list[dict[str, str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))


def parse_batch(body: Any) -> tuple[PerformanceBatch, bytes]:
    """The batch and its signature from a request body; InvalidPerformanceBody names every bad field."""
    errors: list[dict[str, str]] = []

    def err(field: str, message: str) -> None:
        errors.append({"field": field, "message": message})

    if not isinstance(body, dict):
        raise InvalidPerformanceBody([{"field": "body", "message": "must be a JSON object"}])
    unknown = set(body) - {"id", "epoch", "reports", "signature"}
    for name in sorted(unknown):
        err(name, "unknown field")
    batch_id = body.get("id")
    if not isinstance(batch_id, str) or not ID.match(batch_id):
        err("id", "must be 0x followed by 64 hex digits")
    epoch = body.get("epoch")
    if isinstance(epoch, bool) or not isinstance(epoch, int) or not 0 <= epoch < 2**64:
        err("epoch", "must be an integer epoch number (uint64)")
    signature = body.get("signature")
    if not isinstance(signature, str) or not HEX_SIG.match(signature):
        err("signature", "must be 0x followed by 130 hex digits (65 bytes)")
    raw_reports = body.get("reports")
    reports: list[ProviderReport] = []
    if not isinstance(raw_reports, list) or not 1 <= len(raw_reports) <= MAX_REPORTS:
        err("reports", f"must be a list of 1 to {MAX_REPORTS} reports")
        raw_reports = []
    seen: set[str] = set()
    for i, item in enumerate(raw_reports):
        where = f"reports[{i}]"
        if not isinstance(item, dict):
            err(where, "must be an object")
            continue
        extra = set(item) - {"provider", "uptime_bps", "response_ms_p50", "error_rate_bps", "rating_bps"}
        for name in sorted(extra):
            err(f"{where}.{name}", "unknown field")
        provider = item.get("provider")
        if not isinstance(provider, str) or not ADDRESS.match(provider):
            err(f"{where}.provider", "must be a 0x address of 40 hex digits")
            continue
        if provider != provider.lower() and not is_checksum_address(provider):
            err(f"{where}.provider", "mixed-case address with a wrong EIP-55 checksum")
            continue
        checksummed = to_checksum_address(provider)
        if checksummed in seen:
            err(f"{where}.provider", "reported twice in one batch")
            continue
        seen.add(checksummed)
        values: dict[str, int] = {}
        for name, limit in (("uptime_bps", 10_000), ("error_rate_bps", 10_000), ("rating_bps", 10_000)):
            v = item.get(name)
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= limit:
                err(f"{where}.{name}", f"must be an integer from 0 to {limit}")
            else:
                values[name] = v
        p50 = item.get("response_ms_p50")
        if isinstance(p50, bool) or not isinstance(p50, int) or not 0 <= p50 < 2**32:
            err(f"{where}.response_ms_p50", "must be a non-negative integer of milliseconds (uint32)")
        else:
            values["response_ms_p50"] = p50
        if len(values) == 4:
            reports.append(ProviderReport(Address(checksummed), PerformanceReport(**values)))
    if errors:
        raise InvalidPerformanceBody(errors)
    assert isinstance(batch_id, str) and isinstance(epoch, int) and isinstance(signature, str)
    return PerformanceBatch(bytes.fromhex(batch_id[2:]), epoch, tuple(reports)), bytes.fromhex(signature[2:])
