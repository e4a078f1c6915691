"""Helpers for the indexer's integration tests.

- `index_to_head` runs the real `Indexer` against the session's Anvil into a database, bounded in time.
- `assert_projection_matches_chain` compares every projection table with the contract's own views
  (and the stored events with the node's logs) and reports every difference in one assertion.
- `random_actions` drives a random mix of valid SwarmStaking calls, choosing each only when the
  chain's views say it will succeed.
- `fresh_database`, `dump_tables`, `cli_env` support the crash and CLI tests.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import random
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_abi import decode, encode
from eth_utils import keccak, to_checksum_address
from sqlalchemy import select
from web3 import Web3
from web3.contract.contract import ContractFunction

from indexer.projection import ProviderRow, row_from
from indexer.runner import Indexer, IndexerConfig
from staking.chain.connect import wait_for_rpc
from staking.chain.contracts import ROLE_NAMES, EpochRecord, ProviderRecord, SlashRecord, role_id
from staking.config import REPO_ROOT
from staking.db import schema as t
from staking.db.engine import make_engine, upgrade
from staking.deployment import Deployment
from staking.devnet.accounts import devnet_account
from staking.devnet.node import LocalNode, _command, _terminate, free_port
from staking.devnet.provision import provision_devnet
from staking.domain.clock import EpochClock
from staking.domain.vocabulary import (
    TOKEN,
    Bps,
    EventType,
    ProviderClass,
    RecoveryPath,
    RecoveryStage,
    SlashState,
    Wei,
)
from staking.rewards.merkle import WeightTree
from tests.chain_helpers import STRANGER_INDEX, Chain

ACCOUNT_COUNT = 20  # anvil --accounts 20
SPARE_ACCOUNTS = tuple(range(12, ACCOUNT_COUNT))  # no role, not a demo provider, treasury or stranger
UNLIMITED = 2**255
ZERO32 = "0x" + "00" * 32
ALL_ROLES = ("DEFAULT_ADMIN_ROLE", *ROLE_NAMES)
TABLES = ("meta", "blocks", "events", "providers", "slashes", "epochs", "roles", "params")


def accounts() -> list[str]:
    return [devnet_account(i).address for i in range(ACCOUNT_COUNT)]


# ------------------------------------------------------------------------------------------ indexing


def make_indexer(db_url: str, chain: Chain, config: IndexerConfig | None = None) -> Indexer:
    return Indexer(make_engine(db_url), chain.w3, chain.deployment, config or IndexerConfig())


def index_to_head(
    db_url: str,
    chain: Chain,
    config: IndexerConfig | None = None,
    *,
    indexer: Indexer | None = None,
    timeout: float = 60.0,
) -> Indexer:
    """Run an indexer (a new one unless `indexer` is given) until it reports the head; returns it.

    Bounded: a timer stops the loop after `timeout` seconds and the test fails."""
    indexer = indexer or make_indexer(db_url, chain, config)
    stop = threading.Event()
    timer = threading.Timer(timeout, stop.set)
    timer.daemon = True
    timer.start()
    try:
        indexer.run(stop, exit_at_head=True)
    finally:
        timer.cancel()
    assert not stop.is_set(), f"indexer did not reach the head within {timeout}s: {indexer.status}"
    head = chain.w3.eth.block_number
    checkpoint = indexer.store.checkpoint().block
    assert checkpoint == head, (
        f"run(exit_at_head=True) returned with the database at block {checkpoint}, head is {head}: "
        f"{indexer.status}"
    )
    assert indexer.status.indexed == checkpoint, (
        f"status.indexed {indexer.status.indexed} != the database's checkpoint {checkpoint}"
    )
    return indexer


# ------------------------------------------------------------------------------------------ reading


def dump_tables(db_url: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of every indexer table, ordered by key, without autoincrement ids."""
    engine = make_engine(db_url)
    out: dict[str, list[dict[str, Any]]] = {}
    try:
        with engine.connect() as conn:
            for name in TABLES:
                table = t.metadata.tables[name]
                if name == "events":
                    order = [table.c.block_number, table.c.log_index]
                else:
                    order = list(table.primary_key.columns)
                rows = conn.execute(select(table).order_by(*order)).mappings()
                out[name] = [
                    {k: v for k, v in r.items() if not (name == "events" and k == "id")} for r in rows
                ]
    finally:
        engine.dispose()
    return out


def read_meta(db_url: str) -> dict[str, str]:
    return {r["key"]: r["value"] for r in dump_tables_subset(db_url, "meta")}


def dump_tables_subset(db_url: str, name: str) -> list[dict[str, Any]]:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return [dict(r) for r in conn.execute(select(t.metadata.tables[name])).mappings()]
    finally:
        engine.dispose()


def provider_rows(db_url: str) -> dict[str, ProviderRow]:
    return {r["address"]: row_from(ProviderRow, r) for r in dump_tables_subset(db_url, "providers")}


def epoch_clock(db_url: str) -> EpochClock:
    meta = read_meta(db_url)
    return EpochClock(int(meta["epoch_genesis"]), int(meta["epoch_length"]))


def _batch(w3: Web3, requests: list[tuple[str, list[Any]]]) -> list[Any]:
    """One JSON-RPC batch; results in request order."""
    if not requests:
        return []
    out: list[Any] = []
    for i in range(0, len(requests), 200):
        part = requests[i : i + 200]
        responses: Any = w3.provider.make_batch_request(part)  # type: ignore[attr-defined]
        assert isinstance(responses, list) and len(responses) == len(part), responses
        for r in sorted(responses, key=lambda r: r["id"]):
            assert "error" not in r, r
            out.append(r["result"])
    return out


def canonical_hashes(chain: Chain, numbers: Iterable[int]) -> dict[int, str | None]:
    nums = sorted(set(numbers))
    blocks = _batch(chain.w3, [("eth_getBlockByNumber", [hex(n), False]) for n in nums])
    return {n: (b["hash"] if b else None) for n, b in zip(nums, blocks, strict=True)}


def noncanonical_rows(db_url: str, chain: Chain) -> list[str]:
    """events and blocks rows whose block hash is not the node's canonical hash at that height."""
    events = dump_tables_subset(db_url, "events")
    blocks = dump_tables_subset(db_url, "blocks")
    canon = canonical_hashes(chain, [e["block_number"] for e in events] + [b["number"] for b in blocks])
    out = [
        f"events row {e['name']} at block {e['block_number']} (log {e['log_index']}) has orphaned hash "
        f"{e['block_hash']} (canonical {canon[e['block_number']]})"
        for e in events
        if canon[e["block_number"]] != e["block_hash"]
    ]
    out += [
        f"blocks row {b['number']} has orphaned hash {b['hash']} (canonical {canon[b['number']]})"
        for b in blocks
        if canon[b["number"]] != b["hash"]
    ]
    return out


# ------------------------------------------------------------------------------------------ fast views


def _selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


PROVIDER_TYPES = ["bool", "bool", "bool", "uint8", "uint8", "uint8", "uint32", "uint32", "uint64", "uint64",
                  "uint256", "uint256"]  # fmt: skip
SLASH_TYPES = ["address", "uint16", "uint8", "uint8", "uint64", "uint64", "uint256", "bytes32"]
EPOCH_TYPES = ["bytes32", "uint256", "uint256", "uint256", "bool"]


Call = tuple[str, str, list[str], list[Any], list[str]]  # contract, signature, arg types, args, result types
Reads = tuple[list[Call], Callable[[list[tuple[Any, ...]]], Any]]  # calls and how to read their results


def _provider_record(r: tuple[Any, ...]) -> ProviderRecord:
    return ProviderRecord(
        registered=r[0], tombstoned=r[1], jailed=r[2], provider_class=ProviderClass(r[3]),
        recovery_path=RecoveryPath(r[4]), recovery_stage=RecoveryStage(r[5]), gpus=r[6], pending_slashes=r[7],
        jailed_until=r[8], unbonding_end=r[9], active=Wei(r[10]), unbonding=Wei(r[11]),
    )  # fmt: skip


def _slash_record(r: tuple[Any, ...]) -> SlashRecord:
    return SlashRecord(
        provider=to_checksum_address(r[0]), bps=Bps(r[1]), state=SlashState(r[2]), event_type=EventType(r[3]),
        proposed_at=r[4], executable_at=r[5], amount=Wei(r[6]), evidence_hash=bytes(r[7]),
    )  # fmt: skip


class Views:
    """The contracts' views through raw, batched `eth_call`s (web3's contract calls cost ~25 ms each
    here; a batch of a hundred costs about as much as one). Each `x(...)` has a `read_x(...)` twin
    for `many`, which answers several kinds of reads in one batch."""

    def __init__(self, chain: Chain, block: int | str = "latest") -> None:
        self.chain = chain
        self.staking = chain.staking.address
        self.token = chain.token.address
        self.block = hex(block) if isinstance(block, int) else block

    def call(self, calls: list[Call]) -> list[tuple[Any, ...]]:
        requests = []
        for to, sig, types, args, _ in calls:
            data = "0x" + (_selector(sig) + encode(types, args)).hex()
            requests.append(("eth_call", [{"to": to, "data": data}, self.block]))
        raw = _batch(self.chain.w3, requests)
        return [decode(out, bytes.fromhex(r[2:])) for r, (*_, out) in zip(raw, calls, strict=True)]

    def many(self, *reads: Reads) -> list[Any]:
        calls = [c for cs, _ in reads for c in cs]
        results = self.call(calls)
        out, i = [], 0
        for cs, parse in reads:
            out.append(parse(results[i : i + len(cs)]))
            i += len(cs)
        return out

    # ---- reads
    def read_providers(self, addresses: Iterable[str]) -> Reads:
        addresses = list(addresses)
        out_type = "(" + ",".join(PROVIDER_TYPES) + ")"
        calls = [(self.staking, "getProvider(address)", ["address"], [a], [out_type]) for a in addresses]
        return calls, lambda rs: {a: _provider_record(r[0]) for a, r in zip(addresses, rs, strict=True)}

    def read_slashes(self, ids: Iterable[str]) -> Reads:
        ids = list(ids)
        out_type = "(" + ",".join(SLASH_TYPES) + ")"
        calls = [
            (self.staking, "getSlash(bytes32)", ["bytes32"], [bytes.fromhex(i[2:])], [out_type]) for i in ids
        ]
        return calls, lambda rs: {i: _slash_record(r[0]) for i, r in zip(ids, rs, strict=True)}

    def read_epochs(self, numbers: Iterable[int]) -> Reads:
        numbers = list(numbers)
        out_type = "(" + ",".join(EPOCH_TYPES) + ")"
        calls = [(self.staking, "getEpoch(uint64)", ["uint64"], [n], [out_type]) for n in numbers]
        return calls, lambda rs: {
            n: EpochRecord(bytes(r[0][0]), r[0][1], Wei(r[0][2]), Wei(r[0][3]), r[0][4])
            for n, r in zip(numbers, rs, strict=True)
        }

    def read_has_roles(self, pairs: list[tuple[bytes, str]]) -> Reads:
        calls = [(self.staking, "hasRole(bytes32,address)", ["bytes32", "address"], [r, a], ["bool"])
                 for r, a in pairs]  # fmt: skip
        return calls, lambda rs: [r[0] for r in rs]

    def _read_per_account(self, to: str, sig: str, accounts: Iterable[str], extra: list[Any]) -> Reads:
        accounts = list(accounts)
        types = ["address"] * (1 + len(extra))
        calls = [(to, sig, types, [a, *extra], ["uint256"]) for a in accounts]
        return calls, lambda rs: {a: r[0] for a, r in zip(accounts, rs, strict=True)}

    def read_balances(self, accounts: Iterable[str]) -> Reads:
        return self._read_per_account(self.token, "balanceOf(address)", accounts, [])

    def read_allowances(self, owners: Iterable[str]) -> Reads:
        return self._read_per_account(self.token, "allowance(address,address)", owners, [self.staking])

    def read_min_stakes(self, accounts: Iterable[str]) -> Reads:
        return self._read_per_account(self.staking, "minStakeOf(address)", accounts, [])

    def read_scalar(self, signature: str, result: str = "uint256") -> Reads:
        return [(self.staking, signature, [], [], [result])], lambda rs: rs[0][0]

    # ---- one kind of read at a time
    def providers(self, addresses: Iterable[str]) -> dict[str, ProviderRecord]:
        return self.many(self.read_providers(addresses))[0]

    def slashes(self, ids: Iterable[str]) -> dict[str, SlashRecord]:
        return self.many(self.read_slashes(ids))[0]

    def epochs(self, numbers: Iterable[int]) -> dict[int, EpochRecord]:
        return self.many(self.read_epochs(numbers))[0]

    def has_roles(self, pairs: list[tuple[bytes, str]]) -> list[bool]:
        return self.many(self.read_has_roles(pairs))[0]

    def balances(self, accounts: Iterable[str]) -> dict[str, int]:
        return self.many(self.read_balances(accounts))[0]

    def allowances(self, owners: Iterable[str]) -> dict[str, int]:
        return self.many(self.read_allowances(owners))[0]

    def scalar(self, signature: str, result: str = "uint256") -> Any:
        return self.many(self.read_scalar(signature, result))[0]

    def now(self) -> int:
        return int(self.chain.rpc("eth_getBlockByNumber", self.block, False)["timestamp"], 16)


# ------------------------------------------------------------------------------------------ comparing


def _chain_logs(chain: Chain, to_block: int) -> list[dict[str, Any]]:
    params = {"address": chain.staking.address, "fromBlock": hex(chain.deployment.deployed_block),
              "toBlock": hex(to_block)}  # fmt: skip
    return list(chain.rpc("eth_getLogs", params))


def _web3_events(chain: Chain, name: str, to_block: int) -> list[Any]:
    """Events decoded by web3 (an independent decoder from the indexer's)."""
    event = getattr(chain.staking.contract.events, name)
    return list(event.get_logs(from_block=chain.deployment.deployed_block, to_block=to_block))


def _hex(value: bytes) -> str:
    return "0x" + bytes(value).hex()


def assert_projection_matches_chain(
    db_url: str, chain: Chain, slash_ids: Iterable[str] = (), at_head: bool = True
) -> None:
    """Every projection row equals the contract's views, nothing on chain is missing from the
    database, and the stored events are exactly the node's canonical logs. All differences are
    reported in one assertion message."""
    mismatches: list[str] = []
    tables = dump_tables(db_url)
    meta = {r["key"]: r["value"] for r in tables["meta"]}
    head = chain.w3.eth.block_number
    checkpoint = int(meta.get("checkpoint_block", "-1"))
    if at_head and checkpoint != head:
        mismatches.append(f"checkpoint_block {checkpoint} != head {head}")
    upto = checkpoint if checkpoint >= 0 else head
    _compare_providers(chain, tables, upto, mismatches)
    _compare_slashes(chain, tables, upto, slash_ids, mismatches)
    _compare_epochs(chain, tables, upto, mismatches)
    _compare_roles(chain, tables, mismatches)
    _compare_params(chain, tables, mismatches)
    _compare_events(chain, tables, upto, mismatches)
    mismatches += noncanonical_rows(db_url, chain)
    if mismatches:
        shown = mismatches[:80]
        more = f"\n… and {len(mismatches) - len(shown)} more" if len(mismatches) > len(shown) else ""
        raise AssertionError(
            f"projection differs from the chain in {len(mismatches)} places:\n  " + "\n  ".join(shown) + more
        )


def _compare_providers(
    chain: Chain, tables: dict[str, list[dict[str, Any]]], upto: int, out: list[str]
) -> None:
    rows = {r["address"]: r for r in tables["providers"]}
    withdrawn: dict[str, int] = {}
    for ev in _web3_events(chain, "Withdrawn", upto):
        withdrawn[ev.args.provider] = withdrawn.get(ev.args.provider, 0) + ev.args.amount
    slashed: dict[str, int] = {}
    for ev in _web3_events(chain, "SlashExecuted", upto):
        slashed[ev.args.provider] = slashed.get(ev.args.provider, 0) + ev.args.amount
    # From raw topics: web3 cannot decode a metadata URI that is not valid UTF-8 (anyone can register one).
    registered_topic = "0x" + keccak(text="ProviderRegistered(address,uint8,uint32,string)").hex()
    registered_at = {
        to_checksum_address("0x" + log["topics"][1][-40:]): int(log["blockNumber"], 16)
        for log in _chain_logs(chain, upto)
        if log["topics"][0] == registered_topic
    }
    records = Views(chain).providers(sorted(set(accounts()) | set(rows) | set(registered_at)))
    for address, rec in records.items():
        row = rows.get(address)
        if not rec.registered:
            if row is not None:
                out.append(f"provider {address}: row in the database but not registered on chain")
            continue
        if row is None:
            out.append(f"provider {address}: registered on chain but no providers row")
            continue
        expected = {
            "tombstoned": rec.tombstoned, "jailed": rec.jailed, "provider_class": int(rec.provider_class),
            "recovery_path": int(rec.recovery_path), "recovery_stage": int(rec.recovery_stage),
            "gpus": rec.gpus, "pending_slashes": rec.pending_slashes, "jailed_until": rec.jailed_until,
            "unbonding_end": rec.unbonding_end, "active": rec.active, "unbonding": rec.unbonding,
            "withdrawn": withdrawn.get(address, 0), "slashed": slashed.get(address, 0),
            "registered_block": registered_at.get(address),
        }  # fmt: skip
        for key, want in expected.items():
            if row[key] != want:
                out.append(f"provider {address}.{key}: db {row[key]!r} != chain {want!r}")


def _compare_slashes(
    chain: Chain, tables: dict[str, list[dict[str, Any]]], upto: int, slash_ids: Iterable[str], out: list[str]
) -> None:
    rows = {r["id"]: r for r in tables["slashes"]}
    from_logs = {_hex(ev.args.id) for ev in _web3_events(chain, "SlashProposed", upto)}
    wanted = {s.lower() for s in slash_ids}
    for sid, rec in Views(chain).slashes(sorted(set(rows) | from_logs | wanted)).items():
        row = rows.get(sid)
        if rec.state == 0:
            if row is not None:
                out.append(f"slash {sid}: row in the database but none on chain")
            continue
        if row is None:
            out.append(f"slash {sid}: on chain (state {int(rec.state)}) but no slashes row")
            continue
        expected = {
            "state": int(rec.state), "bps": rec.bps, "amount": rec.amount, "executable_at": rec.executable_at,
            "evidence_hash": _hex(rec.evidence_hash), "provider": rec.provider,
            "event_type": int(rec.event_type), "proposed_at": rec.proposed_at,
        }  # fmt: skip
        for key, want in expected.items():
            if row[key] != want:
                out.append(f"slash {sid}.{key}: db {row[key]!r} != chain {want!r}")


def _compare_epochs(chain: Chain, tables: dict[str, list[dict[str, Any]]], upto: int, out: list[str]) -> None:
    rows = {r["epoch"]: r for r in tables["epochs"]}
    numbers = set(rows)
    for name in ("RewardsFunded", "EligibilityPublished", "RewardClaimed"):
        numbers |= {ev.args.epoch for ev in _web3_events(chain, name, upto)}
    current = chain.staking.current_epoch()
    numbers |= set(range(max(0, current - 20), current + 2))
    for n, rec in Views(chain).epochs(sorted(numbers)).items():
        row = rows.get(n)
        on_chain = rec.published or rec.pool or rec.claimed
        if not on_chain:
            if row is not None:
                out.append(f"epoch {n}: row in the database but nothing on chain")
            continue
        if row is None:
            out.append(f"epoch {n}: funded or published on chain but no epochs row")
            continue
        got = {
            "pool": row["pool"], "claimed": row["claimed"], "published": row["published"],
            "merkle_root": row["merkle_root"] or ZERO32, "total_weight": row["total_weight"] or 0,
        }  # fmt: skip
        want = {"pool": rec.pool, "claimed": rec.claimed, "published": rec.published,
                "merkle_root": _hex(rec.merkle_root), "total_weight": rec.total_weight}  # fmt: skip
        for key in want:
            if got[key] != want[key]:
                out.append(f"epoch {n}.{key}: db {got[key]!r} != chain {want[key]!r}")


def _compare_roles(chain: Chain, tables: dict[str, list[dict[str, Any]]], out: list[str]) -> None:
    rows = {(r["role"], r["account"]) for r in tables["roles"]}
    names = {_hex(role_id(n)): n for n in ALL_ROLES}
    holders = set(accounts()) | {chain.staking.address, chain.token.address} | {a for _, a in rows}
    pairs = [(role, account) for role in names for account in sorted(holders)]
    held = Views(chain).has_roles([(bytes.fromhex(r[2:]), a) for r, a in pairs])
    for (role, account), has in zip(pairs, held, strict=True):
        if has != ((role, account) in rows):
            out.append(f"role {names[role]} of {account}: chain {has}, db {(role, account) in rows}")
    for role, account in rows:
        if role not in names:
            out.append(f"roles row for unknown role {role} ({account})")


def _compare_params(chain: Chain, tables: dict[str, list[dict[str, Any]]], out: list[str]) -> None:
    rows = {r["name"]: r["value"] for r in tables["params"]}
    fns = chain.staking.contract.functions
    want = {
        "veto_window": str(chain.staking.veto_window()),
        "max_verdict_age": str(chain.staking.max_verdict_age()),
        "max_jail_duration": str(fns.maxJailDuration().call()),
        "probation_epochs": str(fns.probationEpochs().call()),
        "treasury": chain.staking.treasury(),
    }
    for cls in ProviderClass:
        cp = chain.staking.class_params(cls)
        want[f"class.{int(cls)}"] = json.dumps(
            {"base_min_stake": str(cp.base_min_stake), "per_gpu_min_stake": str(cp.per_gpu_min_stake),
             "unbonding_period": cp.unbonding_period}, sort_keys=True,
        )  # fmt: skip
    paused = chain.staking.paused()
    if "paused" in rows or paused:
        want["paused"] = "true" if paused else "false"
    for name in sorted(set(want) | set(rows)):
        if rows.get(name) != want.get(name):
            out.append(f"param {name}: db {rows.get(name)!r} != chain {want.get(name)!r}")


def _compare_events(chain: Chain, tables: dict[str, list[dict[str, Any]]], upto: int, out: list[str]) -> None:
    logs = {(lg["blockHash"], int(lg["logIndex"], 16)): lg for lg in _chain_logs(chain, upto)}
    stored: dict[tuple[str, int], dict[str, Any]] = {}
    for e in tables["events"]:
        key = (e["block_hash"], e["log_index"])
        if key in stored:
            out.append(f"event stored twice: block {e['block_number']} log {e['log_index']}")
        stored[key] = e
    for key in sorted(set(logs) - set(stored), key=lambda k: (int(logs[k]["blockNumber"], 16), k[1])):
        out.append(f"log missing from events: block {int(logs[key]['blockNumber'], 16)} log {key[1]}")
    for key in sorted(set(stored) - set(logs), key=lambda k: (stored[k]["block_number"], k[1])):
        e = stored[key]
        out.append(
            f"events row not among the node's logs: {e['name']} block {e['block_number']} log {key[1]}"
        )
    for key in set(stored) & set(logs):
        if stored[key]["tx_hash"] != logs[key]["transactionHash"]:
            out.append(f"event at block {stored[key]['block_number']} log {key[1]}: tx hash differs")


def send(chain: Chain, fn: ContractFunction, sender: str, gas: int = 1_500_000) -> dict[str, Any]:
    """`chain.tx` without web3's gas estimate and receipt polling (Anvil automines on send); asserts
    success. About ten times faster, for the many transactions of the random histories."""
    tx = {"from": sender, "to": fn.address, "data": fn._encode_transaction_data(), "gas": hex(gas)}
    tx_hash = chain.rpc("eth_sendTransaction", tx)
    deadline = time.monotonic() + 30
    receipt = chain.rpc("eth_getTransactionReceipt", tx_hash)
    while receipt is None and time.monotonic() < deadline:
        time.sleep(0.005)
        receipt = chain.rpc("eth_getTransactionReceipt", tx_hash)
    assert receipt is not None, f"{fn.fn_name} from {sender}: no receipt"
    assert int(receipt["status"], 16) == 1, f"{fn.fn_name} from {sender} reverted"
    return dict(receipt)


# ------------------------------------------------------------------------------------------ acting


@dataclass
class _Epoch:
    tree: WeightTree
    claimed: set[str] = field(default_factory=set)


PROVIDER_CANDIDATES = tuple(i for i in range(3, ACCOUNT_COUNT) if i not in (10, STRANGER_INDEX))


@dataclass
class Actor:
    """Random valid SwarmStaking calls. Every candidate is computed from the chain's views first,
    so each chosen call succeeds (`chain.tx` asserts it). `log` records the actions taken."""

    chain: Chain
    rng: random.Random
    slash_ids: list[str] = field(default_factory=list)
    published: dict[int, _Epoch] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)
    exclude: frozenset[str] = frozenset()  # action names never to choose
    views: Views = field(init=False)

    def __post_init__(self) -> None:
        self.views = Views(self.chain)

    def wait_until(self, timestamp: int) -> None:
        now = self.views.now()
        if now < timestamp:
            self.chain.advance(timestamp - now)

    def ensure_allowance(self, account: str) -> None:
        if self.views.allowances([account])[account] < 2**200:
            send(self.chain, self.chain.token.approve(self.chain.staking.address, UNLIMITED), account)

    def step(self) -> None:
        c, rng, v = self.chain, self.rng, self.views
        s = c.staking
        gov = c.governance
        everyone = [devnet_account(i).address for i in PROVIDER_CANDIDATES]
        spare = [devnet_account(i).address for i in SPARE_ACCOUNTS]
        detector_candidates = [*spare, c.stranger]
        detector = role_id("DETECTOR_ROLE")
        current = v.scalar("currentEpoch()")
        window = range(max(0, current - 4), current + 2)
        records, balances, minimum, slashes, epochs, roles = v.many(
            v.read_providers(everyone), v.read_balances(everyone), v.read_min_stakes(everyone),
            v.read_slashes(self.slash_ids), v.read_epochs(window),
            v.read_has_roles([(detector, a) for a in detector_candidates]),
        )  # fmt: skip
        recs = {a: r for a, r in records.items() if r.registered}
        pending = [(i, r) for i, r in slashes.items() if r.state == SlashState.PENDING]
        is_detector = dict(zip(detector_candidates, roles, strict=True))
        now = v.now()
        live = [a for a, r in recs.items() if not r.tombstoned]
        options: list[tuple[float, str, Callable[[], None]]] = []

        def add(weight: float, name: str, fn: Callable[[], None]) -> None:
            options.append((weight, name, fn))

        stakers = [a for a in live if balances[a] > 0]
        if stakers:

            def stake() -> None:
                a = rng.choice(stakers)
                amount = min(
                    balances[a], rng.choice([1, rng.randrange(1, TOKEN), rng.randrange(TOKEN, 5_000 * TOKEN)])
                )
                self.ensure_allowance(a)
                send(c, s.stake(amount), a)

            add(3, "stake", stake)
        bonded = [a for a, r in recs.items() if r.active > 0]
        if bonded:

            def unbond() -> None:
                a = rng.choice(bonded)
                active = recs[a].active
                send(
                    c,
                    s.request_unbond(
                        rng.choice([active, rng.randrange(1, active + 1), max(1, active // 10)])
                    ),
                    a,
                )

            add(2, "requestUnbond", unbond)
        withdrawable = [a for a, r in recs.items() if r.unbonding > 0 and r.pending_slashes == 0]
        if withdrawable:

            def withdraw() -> None:
                a = rng.choice(withdrawable)
                self.wait_until(recs[a].unbonding_end)
                unbonding = recs[a].unbonding
                send(c, s.withdraw(rng.choice([unbonding, rng.randrange(1, unbonding + 1)])), a)

            add(1.5, "withdraw", withdraw)
        if live:

            def jail() -> None:
                a = rng.choice(live)
                verdict, sig = c.signed(a, detected_at=now)
                until = 0 if rng.random() < 0.3 else now + rng.randrange(120, 3_600)
                send(c, s.jail(verdict, sig, until), c.service)

            add(2, "jail", jail)
        unjailable = [
            a for a, r in recs.items()
            if r.jailed and not r.tombstoned and r.jailed_until and not r.recovery_path
            and r.active >= minimum[a]
        ]  # fmt: skip
        if unjailable:

            def unjail() -> None:
                a = rng.choice(unjailable)
                self.wait_until(recs[a].jailed_until)
                send(c, s.unjail(), a)

            add(2, "unjail", unjail)
        if recs:

            def propose() -> None:
                a = rng.choice(list(recs))
                verdict, sig = c.signed(a, detected_at=now)
                bps = rng.choice([1, 500, 2_500, 10_000, rng.randrange(1, 10_001)])
                send(c, s.propose_slash(verdict, sig, bps), c.service)
                self.slash_ids.append(_hex(verdict.id))

            add(3, "proposeSlash", propose)
        vetoable = [sid for sid, r in pending if now + 5 < r.executable_at]
        if vetoable:

            def veto() -> None:
                send(c, s.veto_slash(bytes.fromhex(rng.choice(vetoable)[2:]), keccak(os.urandom(8))), gov)

            add(2, "vetoSlash", veto)
        if pending:

            def execute() -> None:
                sid, rec = rng.choice(pending)
                self.wait_until(rec.executable_at)
                send(c, s.execute_slash(bytes.fromhex(sid[2:])), c.stranger)

            add(2.5, "executeSlash", execute)
        no_path = [a for a in live if not recs[a].recovery_path]
        if no_path:

            def begin() -> None:
                sender = rng.choice([c.service, gov])
                send(c, s.begin_recovery(rng.choice(no_path), RecoveryPath(rng.randrange(1, 4))), sender)

            add(1.5, "beginRecovery", begin)
        advancing = [a for a, r in recs.items() if r.recovery_path and r.recovery_stage < 4]
        if advancing:
            add(2, "advanceRecovery", lambda: send(c, s.advance_recovery(rng.choice(advancing)), gov))
        reinstatable = [
            a for a in live
            if (not recs[a].recovery_path and recs[a].jailed)
            or (recs[a].recovery_path and recs[a].recovery_stage == 4)
        ]  # fmt: skip
        if reinstatable:
            add(2, "reinstate", lambda: send(c, s.reinstate(rng.choice(reinstatable)), gov))
        if len(live) > 4:
            add(0.4, "tombstone", lambda: send(c, s.tombstone(rng.choice(live), keccak(os.urandom(8))), gov))
        unregistered = [a for a in spare if a not in recs]
        if unregistered:

            def register() -> None:
                a = unregistered[0]
                cls = ProviderClass(rng.randrange(3))
                gpus = rng.randrange(1, 9) if cls == ProviderClass.HARDWARE_PROVIDER else rng.randrange(0, 3)
                send(c, c.token.transfer(a, 200_000 * TOKEN), gov)
                send(c, s.register(cls, gpus, f"ipfs://random-{rng.randrange(10**6)}"), a)
                if rng.random() < 0.8:
                    self.ensure_allowance(a)
                    send(c, s.stake(rng.randrange(1, 100_000) * TOKEN), a)

            add(1, "register", register)
        fundable = [e for e in (current, current, current + 1) if not epochs[e].published]
        if fundable:

            def fund() -> None:
                self.ensure_allowance(gov)
                send(c, s.fund_rewards(rng.choice(fundable), rng.randrange(1, 10_000) * TOKEN), gov)

            add(1.5, "fundRewards", fund)
        finished = [e for e in range(max(0, current - 4), current) if not epochs[e].published]
        if finished:

            def publish() -> None:
                epoch = rng.choice(finished)
                if rng.random() < 0.1:
                    tree = WeightTree.build({})
                else:
                    chosen = rng.sample(list(recs), k=min(len(recs), rng.randrange(1, 5)))
                    tree = WeightTree.build({a: rng.randrange(1, 1_000) for a in chosen})
                send(
                    c,
                    s.publish_eligibility(epoch, tree.root, tree.total_weight, f"ipfs://epoch-{epoch}"),
                    c.service,
                )
                self.published[epoch] = _Epoch(tree)

            add(1.5, "publishEligibility", publish)
        claims = [(e, a) for e, pe in self.published.items() for a in pe.tree.weights if a not in pe.claimed]
        if claims:

            def claim() -> None:
                epoch, a = rng.choice(claims)
                pe = self.published[epoch]
                send(c, s.claim(epoch, pe.tree.weights[a], pe.tree.proofs[a]), a)
                pe.claimed.add(a)

            add(2, "claim", claim)
        grantable = [a for a in detector_candidates if not is_detector[a]]
        if grantable:
            add(
                0.7,
                "grantDetector",
                lambda: send(c, s.grant_role("DETECTOR_ROLE", rng.choice(grantable)), gov),
            )
        revocable = [a for a in detector_candidates if is_detector[a]]
        if revocable:
            add(
                0.7,
                "revokeDetector",
                lambda: send(c, s.revoke_role("DETECTOR_ROLE", rng.choice(revocable)), gov),
            )
        fns = s.contract.functions
        add(0.6, "setVetoWindow", lambda: send(c, fns.setVetoWindow(rng.randrange(60, 1_200)), gov))
        add(0.3, "setProbationEpochs", lambda: send(c, fns.setProbationEpochs(rng.randrange(0, 6)), gov))

        def pause_unpause() -> None:
            send(c, s.pause(), gov)
            send(c, s.unpause(), gov)

        add(0.2, "pause+unpause", pause_unpause)
        add(1.5, "advanceTime", lambda: c.advance(rng.choice([30, 121, 601, 3_600, 86_400])))

        options = [o for o in options if o[1] not in self.exclude]
        _, name, action = rng.choices(options, weights=[w for w, _, _ in options])[0]
        self.log.append(name)
        action()

    def run(self, n: int) -> list[str]:
        owners = [self.chain.governance, *self.chain.providers]
        for owner, allowance in self.views.allowances(owners).items():
            if allowance < 2**200:
                send(self.chain, self.chain.token.approve(self.chain.staking.address, UNLIMITED), owner)
        for _ in range(n):
            self.step()
        return self.slash_ids


def random_actions(chain: Chain, rng: random.Random, n: int) -> list[str]:
    """`n` random valid actions; returns the ids ('0x…') of the slashes proposed."""
    return Actor(chain, rng).run(n)


# ------------------------------------------------------------------------------------------ plumbing


@contextlib.contextmanager
def fresh_database(like: str, directory: Path) -> Iterator[str]:
    """Another fresh, migrated database of the same kind as `like` (dropped afterwards on PostgreSQL)."""
    if like.startswith("sqlite"):
        url = f"sqlite:///{directory / f'extra-{uuid.uuid4().hex[:8]}.db'}"
        upgrade(url)
        yield url
        return
    from tests.conftest import fresh_pg_database

    with fresh_pg_database() as url:
        yield url


def dump_provisioned_state(path: Path) -> Deployment:
    """Provision a throwaway Anvil like the devnet and write its full state (blocks and logs
    included) to `path` for `anvil --load-state`. Returns its deployment."""
    with LocalNode.start("anvil") as node:
        deployment = provision_devnet(node.w3, node.rpc_url)
        dumped = node.w3.provider.make_request("anvil_dumpState", [])  # type: ignore[arg-type]
    path.write_bytes(gzip.decompress(bytes.fromhex(dumped["result"][2:])))
    return deployment


@contextlib.contextmanager
def anvil_from_state(state: Path, port: int | None = None) -> Iterator[tuple[Web3, str]]:
    """An Anvil that starts already holding `state` (on `port`, or a free one); stopped afterwards."""
    port = port or free_port()
    process = subprocess.Popen(
        [*_command("anvil", port), "--load-state", str(state)], cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        yield wait_for_rpc(url, timeout=30), url
    finally:
        _terminate(process)


def cli_env(db_url: str, deployment: Path, rpc_url: str) -> dict[str, str]:
    # No COLUMNS/LINES: the CLI's output must not depend on the caller's terminal size.
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("SWARM_") and k not in ("COLUMNS", "LINES")
    }
    env |= {"SWARM_DATABASE_URL": db_url, "SWARM_DEPLOYMENT": str(deployment), "SWARM_RPC_URL": rpc_url,
            "SWARM_LOG_JSON": "true"}  # fmt: skip
    return env
