"""`swarm-staking audit verify`: a trail checked line by line, stopping at the first line that fails.

Without a node: every line is canonical JSON numbered in order, its `prev` is the sha256 of the
line before (the first line's, of the deployment it describes), and every detector signature of
every verdict recovers (EIP-712, the trail's chain and contract) to the signer it names. With a
node (`Node`): each signer held DETECTOR_ROLE when it says it detected (the role's grant and
revoke logs against block times), every transaction the trail claims exists with the claimed
sender, nonce, recipient and input and was mined in the claimed block, and every event it claims
is that log of that transaction, emitted by the contract, with the claimed name and arguments."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from eth_utils import keccak, to_checksum_address

from indexer.decoder import EventDecoder
from staking.audit.lines import anchor_hash, encode, sha256
from staking.domain.errors import SwarmError
from staking.domain.vocabulary import EventType, Severity
from staking.verdict import Domain, Verdict, recover_signer

DETECTOR_ROLE = "0x" + keccak(text="DETECTOR_ROLE").hex()
ROLE_GRANTED = "0x" + keccak(text="RoleGranted(bytes32,address,address)").hex()
ROLE_REVOKED = "0x" + keccak(text="RoleRevoked(bytes32,address,address)").hex()

Rpc = Callable[[str, list[Any]], Any]  # JSON-RPC method, params -> result


class TrailInvalid(SwarmError, ValueError):
    def __init__(self, line: int, kind: str, why: str) -> None:
        super().__init__(f"line {line + 1} ({kind}): {why}")
        self.line, self.kind, self.why = line, kind, why


@dataclass
class Report:
    lines: int = 0
    verdicts: int = 0
    signatures: int = 0
    transactions: int = 0
    events: int = 0
    head: str | None = None  # sha256 of the last line: publish it, and a later trail can be held to it
    node_checked: bool = False


@dataclass
class Node:
    """The chain the trail claims, asked through `rpc`; the contract's ABI decodes its logs."""

    rpc: Rpc
    abi: list[dict[str, Any]]
    _roles: dict[str, list[tuple[int, bool]]] | None = field(default=None, repr=False)
    _times: dict[int, int] = field(default_factory=dict, repr=False)

    def block_time(self, number: int) -> int:
        if number not in self._times:
            self._times[number] = int(self.rpc("eth_getBlockByNumber", [hex(number), False])["timestamp"], 16)
        return self._times[number]

    def detector_at(self, staking: str, account: str, at: int) -> bool:
        """Whether `account` held DETECTOR_ROLE at unix time `at` (the last grant or revoke before)."""
        if self._roles is None:
            self._roles = {}
            logs = self.rpc(
                "eth_getLogs",
                [{"address": staking, "fromBlock": "0x0", "toBlock": "latest",
                  "topics": [[ROLE_GRANTED, ROLE_REVOKED], DETECTOR_ROLE]}],
            )  # fmt: skip
            for log in logs:
                who = to_checksum_address("0x" + log["topics"][2][-40:])
                when = self.block_time(int(log["blockNumber"], 16))
                self._roles.setdefault(who, []).append((when, log["topics"][0] == ROLE_GRANTED))
        held = False
        for when, granted in self._roles.get(to_checksum_address(account), []):
            if when <= at:
                held = granted
        return held


def verify(lines: list[str], node: Node | None = None) -> Report:
    """The report of a trail that passes; TrailInvalid names the first line that does not."""
    report = Report(node_checked=node is not None)
    first: dict[str, Any] = {}
    decoder = EventDecoder(node.abi) if node is not None else None
    receipts: dict[str, Any] = {}
    for i, raw in enumerate(lines):
        try:
            rec = json.loads(raw)
        except ValueError:
            raise TrailInvalid(i, "?", "not a JSON object") from None
        kind = str(rec.get("kind", "?")) if isinstance(rec, dict) else "?"
        if not isinstance(rec, dict) or encode(rec) != raw:
            raise TrailInvalid(i, kind, "not in the trail's canonical form (sorted keys, no spaces)")
        if rec.get("n") != i:
            raise TrailInvalid(i, kind, f"numbered {rec.get('n')}, expected {i}: a line was removed or moved")
        if i == 0 and rec.get("prev") != anchor_hash(rec):
            raise TrailInvalid(i, kind, "its prev is not the hash of the deployment it describes: altered")
        if i > 0 and rec.get("prev") != sha256(lines[i - 1]):
            # Numbered in order, so nothing was removed in between: the line before was changed.
            before = json.loads(lines[i - 1]).get("kind", "?")
            raise TrailInvalid(i - 1, before, f"altered: its sha256 is not the prev of line {i + 1}")
        if i == 0:
            if kind != "deployment":
                raise TrailInvalid(i, kind, "the first line must describe the deployment")
            first = rec
            if node is not None:
                chain_id = int(node.rpc("eth_chainId", []), 16)
                if chain_id != rec["chain_id"]:
                    raise TrailInvalid(
                        i, kind, f"the node is chain {chain_id}, the trail's is {rec['chain_id']}"
                    )
        elif kind == "verdict":
            report.signatures += _signatures(i, rec, first, node)
            report.verdicts += 1
        elif (
            kind == "action" and node is not None and (rec.get("intent") or {}).get("mined_block") is not None
        ):
            _transaction(i, rec["intent"], node, receipts)
            report.transactions += 1
        elif kind == "event" and node is not None and decoder is not None:
            _event(i, rec, first, node, decoder, receipts)
            report.events += 1
    report.lines = len(lines)
    report.head = sha256(lines[-1]) if lines else None
    return report


def _signatures(i: int, rec: dict[str, Any], first: dict[str, Any], node: Node | None) -> int:
    domain = Domain(first["chain_id"], to_checksum_address(first["staking"]))
    try:
        verdict = Verdict(
            bytes.fromhex(rec["verdict_id"][2:]),
            to_checksum_address(rec["provider"]),
            EventType(rec["event_type"]),
            Severity(rec["severity"]),
            rec["detected_at"],
            bytes.fromhex(rec["evidence_hash"][2:]),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise TrailInvalid(i, "verdict", f"not a verdict: {exc}") from None
    if not rec.get("signatures"):
        raise TrailInvalid(i, "verdict", "carries no signature")
    for s in rec["signatures"]:
        try:
            signer = recover_signer(verdict, domain, bytes.fromhex(s["signature"][2:]))
        except (ValueError, KeyError) as exc:
            raise TrailInvalid(i, "verdict", f"signature of {s.get('signer')} is malformed: {exc}") from None
        if signer != to_checksum_address(s["signer"]):
            raise TrailInvalid(i, "verdict", f"the signature said to be {s['signer']}'s was made by {signer}")
        if node is not None and not node.detector_at(first["staking"], signer, rec["detected_at"]):
            raise TrailInvalid(
                i, "verdict", f"{signer} did not hold DETECTOR_ROLE at detected_at {rec['detected_at']}"
            )
    return len(rec["signatures"])


def _transaction(i: int, intent: dict[str, Any], node: Node, receipts: dict[str, Any]) -> None:
    tx_hash = str(intent.get("tx_hash") or "")
    tx = node.rpc("eth_getTransactionByHash", [tx_hash]) if tx_hash else None
    if tx is None:
        raise TrailInvalid(i, "action", f"transaction {tx_hash} is not on chain")
    claimed = {
        "from": intent["signer"],
        "to": intent["to"],
        "input": intent["data"],
        "nonce": intent["nonce"],
    }
    actual = {"from": tx["from"], "to": tx["to"], "input": tx["input"], "nonce": int(tx["nonce"], 16)}
    for key, value in claimed.items():
        have = actual[key]
        if (value.lower() if isinstance(value, str) else value) != (
            have.lower() if isinstance(have, str) else have
        ):
            raise TrailInvalid(
                i, "action", f"transaction {tx_hash}: {key} is {have} on chain, the trail says {value}"
            )
    receipt = node.rpc("eth_getTransactionReceipt", [tx_hash])
    if receipt is None or int(receipt["blockNumber"], 16) != intent["mined_block"]:
        raise TrailInvalid(
            i, "action", f"transaction {tx_hash} was not mined in block {intent['mined_block']}"
        )
    if intent.get("mined_block_hash") and receipt["blockHash"].lower() != intent["mined_block_hash"].lower():
        raise TrailInvalid(
            i, "action", f"transaction {tx_hash}: block {intent['mined_block']} is another block now"
        )
    receipts[tx_hash.lower()] = receipt


def _event(
    i: int,
    rec: dict[str, Any],
    first: dict[str, Any],
    node: Node,
    decoder: EventDecoder,
    receipts: dict[str, Any],
) -> None:
    tx_hash = str(rec["tx_hash"]).lower()
    receipt = receipts.get(tx_hash) or node.rpc("eth_getTransactionReceipt", [tx_hash])
    if receipt is None:
        raise TrailInvalid(i, "event", f"{rec['name']}: transaction {tx_hash} is not on chain")
    log = next((x for x in receipt["logs"] if int(x["logIndex"], 16) == rec["log_index"]), None)
    if log is None or log["address"].lower() != first["staking"]:
        raise TrailInvalid(
            i, "event", f"{rec['name']}: no log {rec['log_index']} of SwarmStaking in {tx_hash}"
        )
    if log["blockHash"].lower() != str(rec["block_hash"]).lower():
        raise TrailInvalid(i, "event", f"{rec['name']}: log {rec['log_index']} is in another block")
    decoded = decoder.decode(log)
    if decoded is None or decoded.name != rec["name"]:
        raise TrailInvalid(i, "event", f"log {rec['log_index']} of {tx_hash} is not {rec['name']}")
    if json.loads(json.dumps(decoded.args)) != rec["args"]:
        raise TrailInvalid(i, "event", f"{rec['name']}: the arguments on chain differ from the trail's")
