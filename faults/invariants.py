"""Invariants of the verdict pipeline, judged against the (final, canonical) chain after a fault run.
Shared by `faults.verdict_crash` (`make crash`) and `faults.chaos` (`make chaos`).

- `check_actions`: every verdict posted was accepted, stored and ended `done`, with exactly its
  decided on-chain actions: one successful `jail` / `proposeSlash` / `beginRecovery` effect (a
  `jailAndProposeSlash` counts as both, a `proposeSlashQuorum` as a `proposeSlash`) per
  confirmed action, none for an action not decided, and the contract's state shows each effect;
  no failed, reverted, duplicate or voided transaction from the service signer; no nonce gap (the
  signer's mined nonce equals its pending nonce and moved by the number of its transactions).
- `check_intents`: every transaction intent of the service's database is confirmed (none failed,
  voided or still open).
- `check_projection`: the SQL projection equals the contract at the indexed head (the worker's
  drift check, `staking.worker.drift.check_drift`), and the indexed head is canonical.
- `check_webhooks`: webhook events reached the outbox and every delivery was made or is being
  retried (the receiver's view is checked by the caller).
Each returns a list of human-readable violations (empty: the invariant holds).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import Engine, func, select
from web3 import Web3

from staking.chain.contracts import StakingContract
from staking.chain.rpc import RawRpc
from staking.db import schema as t


@dataclass
class ActionAudit:
    violations: list[str] = field(default_factory=list)
    transactions: int = 0  # mined by the service signer since the first block
    actions: Counter[str] = field(default_factory=Counter)  # "<kind>:<state>" -> count
    calls: Counter[str] = field(default_factory=Counter)  # contract function -> successful txs


TERMINAL = ("done", "failed", "rejected")


def wait_verdicts_settled(
    base_urls: list[str], ids: list[str], timeout: float, interval: float = 0.5
) -> dict[str, dict[str, Any]]:
    """`GET /v1/verdicts/{id}` until every verdict is done, failed or rejected, or `timeout`
    passes (then the last answer of each, for the report). Asks the first replica that answers."""
    deadline = time.monotonic() + timeout
    settled: dict[str, dict[str, Any]] = {}
    last: dict[str, dict[str, Any]] = {}
    clients = [httpx.Client(base_url=u, timeout=10) for u in base_urls]
    try:

        def get(vid: str) -> dict[str, Any]:
            answer: dict[str, Any] = {"status": "unreachable"}
            for client in clients:
                try:
                    r = client.get(f"/v1/verdicts/{vid}")
                except httpx.HTTPError as exc:
                    answer = {"status": f"unreachable ({type(exc).__name__})"}
                    continue
                if r.status_code == 200:
                    return dict(r.json())
                answer = {"status": f"HTTP {r.status_code}"}
            return answer

        while True:
            for vid in ids:
                if vid not in settled:
                    last[vid] = resource = get(vid)
                    if resource.get("status") in TERMINAL:
                        settled[vid] = resource
            if len(settled) == len(ids) or time.monotonic() >= deadline:
                break
            time.sleep(interval)
    finally:
        for client in clients:
            client.close()
    return {vid: settled.get(vid, last.get(vid, {})) for vid in ids}


def signer_transactions(
    w3: Web3, signer: str, first_block: int, batch: int = 100, last_block: int | None = None
) -> list[tuple[Any, Any]]:
    """Every transaction the service signer got mined from `first_block` to `last_block` (default:
    the head) on the canonical chain, with its receipt, as plain dicts: hash, from, to
    (checksummed), input, nonce; receipt status and block."""
    rpc = RawRpc(w3)
    head = int(rpc.call("eth_blockNumber", []), 16) if last_block is None else last_block
    mine: list[dict[str, Any]] = []
    numbers = list(range(first_block, head + 1))
    for i in range(0, len(numbers), batch):
        blocks = rpc.batch([("eth_getBlockByNumber", [hex(n), True]) for n in numbers[i : i + batch]])
        for block in blocks:
            if isinstance(block, Exception):
                raise block
            for tx in block["transactions"]:
                if tx["from"].lower() == signer.lower():
                    mine.append(normalized_tx(tx))
    receipts: list[Any] = []
    for i in range(0, len(mine), batch):
        receipts += rpc.batch([("eth_getTransactionReceipt", [tx["hash"]]) for tx in mine[i : i + batch]])
    out = []
    for tx, receipt in zip(mine, receipts, strict=True):
        if isinstance(receipt, Exception) or receipt is None:
            raise RuntimeError(f"no receipt for mined transaction {tx['hash']}: {receipt}")
        out.append((tx, {"status": int(receipt["status"], 16), "block": int(receipt["blockNumber"], 16)}))
    return out


def normalized_tx(tx: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON-RPC (or web3) transaction as a plain dict with checksummed addresses."""

    def hexstr(value: Any) -> str:
        return value if isinstance(value, str) else "0x" + bytes(value).hex()

    nonce = tx.get("nonce", 0)
    return {
        "hash": hexstr(tx["hash"]) if tx.get("hash") is not None else None,
        "from": Web3.to_checksum_address(tx["from"]),
        "to": Web3.to_checksum_address(tx["to"]) if tx.get("to") else None,
        "input": hexstr(tx.get("input", "0x")),
        "nonce": int(nonce, 16) if isinstance(nonce, str) else int(nonce),
    }


def call_key(staking: StakingContract, tx: Any, signer: str) -> tuple[str, str]:
    """(function, what it acts on) of a signer transaction: the verdict/slash id, the provider or
    the epoch; ("void", nonce) for a no-op self-transfer that fills a nonce."""
    if tx["to"] == Web3.to_checksum_address(signer) and tx["input"] in (b"", "0x"):
        return ("void", str(tx["nonce"]))
    fn, args = staking.contract.decode_function_input(tx["input"])
    name = fn.fn_name
    if name in ("jail", "proposeSlash", "proposeSlashQuorum", "jailAndProposeSlash"):
        v = args["v"]
        return (name, "0x" + bytes(v["id"] if isinstance(v, dict) else v[0]).hex())
    if name == "beginRecovery":
        return (name, str(args["provider"]))
    if name == "executeSlash":
        return (name, "0x" + bytes(args["id"]).hex())
    if name == "publishEligibility":  # the epoch job, if an epoch ends during a run
        return (name, str(args["epoch"]))
    return (name, "?")


def check_actions(
    w3: Web3,
    staking: StakingContract,
    signer: str,
    bodies: list[dict[str, Any]],
    accepted: Iterable[str],
    settled: Mapping[str, dict[str, Any]],
    first_block: int,
    nonce_before: int,
) -> ActionAudit:
    """Verdict resources (`GET /v1/verdicts/{id}`) against the signer's transactions on chain."""
    audit = ActionAudit()
    violations = audit.violations
    accepted = set(accepted)
    by_id = {b["id"]: b for b in bodies}

    # What went on chain, decoded: (function, verdict/slash id or provider) -> successful count.
    sent: Counter[tuple[str, str]] = Counter()
    signer = Web3.to_checksum_address(signer)
    head = w3.eth.block_number  # everything below is judged at this block (jobs may still send)
    txs = signer_transactions(w3, signer, first_block, last_block=head)
    audit.transactions = len(txs)
    for tx, receipt in txs:
        key = call_key(staking, tx, signer)
        if receipt["status"] != 1:
            violations.append(f"transaction {tx['hash']} ({key[0]} {key[1]}) reverted on chain")
            continue
        # A verdict's jail and slash may go in one jailAndProposeSlash; a quorum slash is a slash.
        parts = {"jailAndProposeSlash": ("jail", "proposeSlash"), "proposeSlashQuorum": ("proposeSlash",)}
        for name in parts.get(key[0], (key[0],)):
            sent[(name, key[1])] += 1
            audit.calls[name] += 1
    for key, n in sent.items():
        if n > 1:
            violations.append(f"{key[0]} for {key[1]} was mined {n} times")
        if key[0] == "void":
            violations.append(f"nonce {key[1]} was voided: an intended action did not go out")
        if key[0] in ("jail", "proposeSlash") and key[1] not in by_id:
            violations.append(f"{key[0]} for {key[1]} was mined, but no such verdict was posted")

    recovery_providers: Counter[str] = Counter()
    for vid in by_id:
        resource = settled.get(vid)
        if vid not in accepted:
            violations.append(f"verdict {vid} was never accepted")
            continue
        if resource is None or "actions" not in resource:
            violations.append(f"verdict {vid} is lost: {resource}")
            continue
        if resource["status"] != "done":
            violations.append(f"verdict {vid} ended {resource['status']}: {resource['actions']}")
        decided = {a["kind"]: a["state"] for a in resource["actions"]}
        for kind, state in decided.items():
            audit.actions[f"{kind}:{state}"] += 1
        vid_bytes = bytes.fromhex(vid[2:])
        jailed = decided.get("jail") == "confirmed"
        if (
            sent[("jail", vid)] != int(jailed)
            or staking.contract.functions.verdictJailUsed(vid_bytes).call() != jailed
        ):
            violations.append(
                f"verdict {vid}: jail decided={decided.get('jail')} mined={sent[('jail', vid)]}"
            )
        proposed = decided.get("propose_slash") == "confirmed"
        state = int(staking.slash_state(vid_bytes))
        if sent[("proposeSlash", vid)] != int(proposed) or (state in (1, 3)) != proposed:
            violations.append(
                f"verdict {vid}: slash decided={decided.get('propose_slash')} "
                f"mined={sent[('proposeSlash', vid)]} state={state}"
            )
        if decided.get("begin_recovery") == "confirmed":
            recovery_providers[by_id[vid]["provider"]] += 1
    for provider in {b["provider"] for b in bodies}:
        expected = recovery_providers[provider]
        mined = sent[("beginRecovery", provider)]
        if mined != expected or expected > 1:
            violations.append(f"provider {provider}: {expected} recoveries confirmed, {mined} mined")
        if expected and staking.provider(provider).recovery_path == 0:
            violations.append(f"provider {provider}: recovery confirmed but none open on chain")

    at_head = w3.eth.get_transaction_count(signer, head)
    if at_head - nonce_before != len(txs):
        violations.append(
            f"nonce gap: nonce moved {at_head - nonce_before} but {len(txs)} transactions mined"
        )
    # Nothing left in the pool: a transaction sent just now (a scheduled job) gets a few blocks.
    deadline = time.monotonic() + 5.0
    while True:
        latest = w3.eth.get_transaction_count(signer, "latest")
        pending = w3.eth.get_transaction_count(signer, "pending")
        if latest == pending or time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    if latest != pending:
        violations.append(
            f"signer has {pending - latest} transactions stuck (latest {latest}, pending {pending})"
        )
    return audit


def open_work(engine: Engine) -> dict[str, int]:
    """What the service still has in flight: actions not settled, intents not confirmed/failed."""
    with engine.connect() as conn:
        actions = conn.execute(
            select(func.count()).select_from(t.actions).where(t.actions.c.state.in_(["pending", "submitted"]))
        ).scalar_one()
        intents = conn.execute(
            select(func.count())
            .select_from(t.tx_intents)
            .where(t.tx_intents.c.state.notin_(["confirmed", "failed"]))
        ).scalar_one()
        verdicts = conn.execute(
            select(func.count())
            .select_from(t.verdicts)
            .where(t.verdicts.c.status.in_(["received", "executing"]))
        ).scalar_one()
    return {"actions": int(actions), "intents": int(intents), "verdicts": int(verdicts)}


def check_intents(engine: Engine) -> list[str]:
    """Every transaction intent is confirmed: none failed, voided or still open."""
    violations = []
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                t.tx_intents.c.id,
                t.tx_intents.c.idempotency_key,
                t.tx_intents.c.nonce,
                t.tx_intents.c.state,
                t.tx_intents.c.error,
            ).order_by(t.tx_intents.c.nonce)
        ).all()
    nonces: Counter[int] = Counter(r.nonce for r in rows)
    for r in rows:
        if r.state != "confirmed":
            why = f": {r.error}" if r.error else ""
            violations.append(f"intent {r.id} ({r.idempotency_key}, nonce {r.nonce}) ended {r.state}{why}")
    for nonce, n in nonces.items():
        if n > 1:
            violations.append(f"nonce {nonce} was planned for {n} intents")
    return violations


def indexed_head(engine: Engine) -> tuple[int, str | None]:
    keys = ("checkpoint_block", "checkpoint_hash")
    with engine.connect() as conn:
        meta = {r.key: r.value for r in conn.execute(select(t.meta).where(t.meta.c.key.in_(keys)))}
    return int(meta.get("checkpoint_block", 0)), meta.get("checkpoint_hash")


def check_projection(engine: Engine, staking: StakingContract) -> list[str]:
    """The SQL projection equals the contract at the indexed head, and that head is canonical.
    Run once the indexer has caught up with the chain."""
    from staking.worker.drift import check_drift

    violations = []
    block, block_hash = indexed_head(engine)
    canonical = staking.w3.eth.get_block(block)["hash"]
    if block_hash is not None and "0x" + bytes(canonical).hex() != block_hash:
        violations.append(f"indexed head {block} {block_hash} is not canonical ({bytes(canonical).hex()})")
    report = check_drift(engine, staking)
    if report.skipped:
        violations.append(f"drift check skipped: {report.skipped}")
    if report.fallback:
        violations.append(f"drift check read the latest block instead of the indexed head: {report.fallback}")
    for f in report.findings[:20]:
        violations.append(
            f"projection drift at block {report.block}: {f.provider} {f.field} "
            f"projected {f.projected}, on chain {f.on_chain}"
        )
    if len(report.findings) > 20:
        violations.append(f"... and {len(report.findings) - 20} more drift findings")
    return violations


@dataclass
class OutboxAudit:
    rows: int = 0
    by_state: dict[str, int] = field(default_factory=dict)
    by_kind: dict[str, int] = field(default_factory=dict)
    retried: int = 0  # rows that needed more than one attempt
    never_tried: int = 0  # pending rows not attempted `stale_after_ms` after they were queued
    violations: list[str] = field(default_factory=list)


def check_webhooks(engine: Engine, now_ms: int, stale_after_ms: int = 30_000) -> OutboxAudit:
    """Every outbox row is delivered, failed after its last attempt, or being retried; none sits
    untried past `stale_after_ms` (the notifier tries a due row within a fraction of a second)."""
    audit = OutboxAudit()
    ob = t.webhook_outbox
    with engine.connect() as conn:
        rows = conn.execute(
            select(ob.c.id, ob.c.kind, ob.c.state, ob.c.attempts, ob.c.next_attempt_ms, ob.c.created_ms)
        ).all()
    audit.rows = len(rows)
    audit.by_state = dict(Counter(r.state for r in rows))
    audit.by_kind = dict(Counter(r.kind for r in rows))
    audit.retried = sum(1 for r in rows if r.attempts > 1)
    for r in rows:
        if r.state == "pending" and r.attempts == 0 and now_ms - r.next_attempt_ms > stale_after_ms:
            audit.never_tried += 1
    if audit.never_tried:
        audit.violations.append(
            f"{audit.never_tried} webhook deliveries were due more than {stale_after_ms // 1000}s ago "
            "and never attempted"
        )
    return audit
