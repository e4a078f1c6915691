"""The contract's own views, and `assert_projection_matches_chain`: every projection table compared
with them (and the stored events with the node's logs), every difference in one assertion."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from eth_abi import decode, encode
from eth_utils import keccak, to_checksum_address

from staking.chain.contracts import EpochRecord, ProviderRecord, SlashRecord, role_id
from staking.domain.vocabulary import (
    Bps,
    EventType,
    ProviderClass,
    RecoveryPath,
    RecoveryStage,
    Severity,
    SlashState,
    Wei,
)
from tests.support.chain import Chain
from tests.support.indexing import ALL_ROLES, ZERO32, accounts, dump_tables, noncanonical_rows, rpc_batch

# ------------------------------------------------------------------------------------------ fast views


def _selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


PROVIDER_TYPES = ["bool", "bool", "bool", "uint8", "uint8", "uint8", "uint32", "uint32", "uint64", "uint64",
                  "uint256", "uint256"]  # fmt: skip
SLASH_TYPES = ["address", "uint16", "uint8", "uint8", "uint64", "uint128", "uint64", "uint8"]
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
        executable_at=r[4], amount=Wei(r[5]), proposed_at=r[6], severity=Severity(r[7]),
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
        raw = rpc_batch(self.chain.w3, requests)
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


def to_hex(value: bytes) -> str:
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
    _compare_appeals(chain, tables, upto, mismatches)
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
    from_logs = {to_hex(ev.args.id) for ev in _web3_events(chain, "SlashProposed", upto)}
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
            "severity": int(rec.severity), "provider": rec.provider,
            "event_type": int(rec.event_type), "proposed_at": rec.proposed_at,
        }  # fmt: skip
        for key, want in expected.items():
            if row[key] != want:
                out.append(f"slash {sid}.{key}: db {row[key]!r} != chain {want!r}")


def _compare_appeals(
    chain: Chain, tables: dict[str, list[dict[str, Any]]], upto: int, out: list[str]
) -> None:
    """Each appeals row against `getAppeal` (whose state reads expired from the deadline on, as
    the read model shows an unsettled open row), and every SlashAppealed on chain has its row."""
    from indexer.appeals import state_at

    rows = {r["id"]: r for r in tables["appeals"]}
    from_logs = {to_hex(ev.args.id) for ev in _web3_events(chain, "SlashAppealed", upto)}
    now = chain.now()
    for sid in sorted(set(rows) | from_logs):
        rec, row = chain.staking.get_appeal(bytes.fromhex(sid[2:])), rows.get(sid)
        if row is None:
            out.append(f"appeal {sid}: on chain (state {int(rec.state)}) but no appeals row")
            continue
        expected = {
            "state": rec.state.name.lower(), "deadline": rec.deadline, "bond": rec.bond,
            "evidence_hash": to_hex(rec.evidence_hash),
        }  # fmt: skip
        got = dict(row, state=state_at(row["state"], row["deadline"], now))
        for key, want in expected.items():
            if got[key] != want:
                out.append(f"appeal {sid}.{key}: db {got[key]!r} != chain {want!r}")


def _compare_epochs(chain: Chain, tables: dict[str, list[dict[str, Any]]], upto: int, out: list[str]) -> None:
    rows = {r["epoch"]: r for r in tables["epochs"]}
    numbers = set(rows)
    for name in (
        "RewardsFunded",
        "EligibilityPublished",
        "RewardClaimed",
        "EligibilityRevoked",
        "RewardsSwept",
    ):
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
                "merkle_root": to_hex(rec.merkle_root), "total_weight": rec.total_weight}  # fmt: skip
        # claimableAt is 0 on chain while unpublished, null in the row
        got["claimable_at"], want["claimable_at"] = row["claimable_at"] or 0, chain.staking.claimable_at(n)
        for key in want:
            if got[key] != want[key]:
                out.append(f"epoch {n}.{key}: db {got[key]!r} != chain {want[key]!r}")


def _compare_roles(chain: Chain, tables: dict[str, list[dict[str, Any]]], out: list[str]) -> None:
    rows = {(r["role"], r["account"]) for r in tables["roles"]}
    names = {to_hex(role_id(n)): n for n in ALL_ROLES}
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
        "reward_challenge_delay": str(chain.staking.reward_challenge_delay()),
    }
    appeal = chain.staking.appeal_params()
    want |= {
        "appeal_bond": str(appeal.bond),
        "appeal_grace": str(appeal.grace),
        "appeal_timeout": str(appeal.timeout),
    }
    caps = chain.staking.caps()
    want |= {
        "cap_window": str(caps.window), "jail_cap": str(caps.jail_cap),
        "slash_cap_bps": str(caps.slash_cap_bps),
        "max_slash_bps": str(caps.max_slash_bps), "severity_bounds": json.dumps(list(caps.severity_bounds)),
        "quorum": str(caps.quorum), "quorum_bps": str(caps.quorum_bps),
    }  # fmt: skip
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
