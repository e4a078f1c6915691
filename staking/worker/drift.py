"""The drift check: the SQL projection against SwarmStaking's own views, both at the indexed head.

The projection is read in one snapshot together with its checkpoint (block H and its hash); the
contract is read at exactly that block (`eth_call` with the EIP-1898 block hash), so blocks mined
meanwhile, or an indexer that lags, are never reported as drift. Every provider of the projection
is read with `getProvider` — calldata encoded from the contract's ABI, JSON-RPC batches of
`batch` calls in one HTTP request each — and every slash the projection holds as pending with
`slashState`. When a provider's pending slashes on chain do not match the slash rows the
projection holds as pending, that provider's other slash rows are read too, which finds a slash
the projection marked resolved too early (or a missing row).

The mismatches replace the rows of `drift_findings` in one transaction (an empty table: no drift),
with the time and block of the check in `meta`; `/readyz` and `/metrics` read them from there.
New mismatches (not in the previous check's findings) go to `notify("drift", {...})`.
A node that cannot serve the state at H (pruned) is read at its latest block instead, and the run's
log line says so: blocks after H may then show as drift until the indexer catches up.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from eth_abi import decode, encode
from eth_utils.abi import function_abi_to_4byte_selector, get_abi_input_types, get_abi_output_types
from sqlalchemy import Connection, Engine, delete, select

from indexer.store import Store
from staking.chain.contracts import StakingContract
from staking.chain.rpc import RawRpc, RpcError
from staking.db import schema as t
from staking.db.meta import DRIFT_BLOCK, DRIFT_CHECKED_MS
from staking.domain.vocabulary import ProviderClass, RecoveryPath, RecoveryStage, SlashState
from staking.readmodel import snapshot
from staking.worker.runs import run_job

log = logging.getLogger("drift")

JOB_NAME = "drift_check"
DEFAULT_BATCH = 500  # eth_calls per JSON-RPC batch (one HTTP request)
NOTIFY_LIMIT = 100  # providers and findings listed in one webhook event; counts are always complete

# providers column -> the component of getProvider's Provider struct it mirrors (the columns are
# `staking.db.meta.DRIFT_PROVIDER_COLUMNS`, in that order: a test checks it)
PROVIDER_FIELDS: dict[str, str] = {
    "provider_class": "class",
    "gpus": "gpus",
    "active": "active",
    "unbonding": "unbonding",
    "unbonding_end": "unbondingEnd",
    "jailed": "jailed",
    "jailed_until": "jailedUntil",
    "tombstoned": "tombstoned",
    "recovery_path": "recoveryPath",
    "recovery_stage": "recoveryStage",
    "pending_slashes": "pendingSlashes",
}
ENUMS: dict[str, type[IntEnum]] = {
    "provider_class": ProviderClass,
    "recovery_path": RecoveryPath,
    "recovery_stage": RecoveryStage,
    "slash_state": SlashState,
}

Notify = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True)
class Finding:
    provider: str
    field: str
    projected: str
    on_chain: str

    @property
    def key(self) -> tuple[str, str, str]:
        """What makes a finding the same as one of an earlier check (its values may have moved)."""
        subject = self.projected.split(" ", 1)[0] if self.field == "slash_state" else ""
        return self.provider, self.field, subject

    def as_dict(self) -> dict[str, str]:
        return {"provider": self.provider, "field": self.field, "projected": self.projected,
                "on_chain": self.on_chain}  # fmt: skip


@dataclass(frozen=True)
class DriftReport:
    block: int  # the indexed head H the projection reflects
    read_at: str  # the block the contract was read at: H's hash, or "latest (N)" after a fallback
    providers: int
    slashes: int  # slash states read
    findings: list[Finding]
    new: list[Finding]  # not in the previous check's findings
    resolved: int  # findings of the previous check that are gone
    checked_ms: int
    duration_s: float
    fallback: str | None = None  # why the state at H could not be read
    skipped: str | None = None  # why nothing was compared (the table was left as it was)

    @property
    def drifted(self) -> dict[str, list[str]]:
        """Provider -> the fields where it drifted."""
        out: dict[str, list[str]] = {}
        for f in self.findings:
            fields = out.setdefault(f.provider, [])
            if f.field not in fields:
                fields.append(f.field)
        return out

    def summary(self) -> str:
        if self.skipped:
            return f"skipped: {self.skipped}"
        text = (
            f"{self.providers} providers and {self.slashes} slashes at block {self.block}: "
            f"{len(self.findings)} findings ({len(self.new)} new, {self.resolved} resolved)"
        )
        return text + (f"; read at {self.read_at} ({self.fallback})" if self.fallback else "")


class _View:
    """One view function of the ABI: calldata and result decoding without web3's per-call cost."""

    def __init__(self, abi: Sequence[Mapping[str, Any]], name: str) -> None:
        item: Any = next(i for i in abi if i.get("type") == "function" and i.get("name") == name)
        self.selector = function_abi_to_4byte_selector(item)
        self.inputs = get_abi_input_types(item)
        self.outputs = get_abi_output_types(item)
        self.names = [c["name"] for c in item["outputs"][0].get("components", [])]

    def data(self, *args: Any) -> str:
        return "0x" + (self.selector + encode(self.inputs, list(args))).hex()

    def result(self, raw: str) -> Any:
        value = decode(self.outputs, bytes.fromhex(raw[2:]))[0]
        return dict(zip(self.names, value, strict=True)) if self.names else value


class _Views:
    """The contract's views the check reads."""

    def __init__(self, staking: StakingContract) -> None:
        abi = staking.abi
        self.provider, self.slash_state = _View(abi, "getProvider"), _View(abi, "slashState")


class _StateUnavailable(Exception):
    pass


@dataclass
class _Reader:
    """Batched `eth_call`s to the contract at one block."""

    rpc: RawRpc
    to: str
    block: Any  # {"blockHash": …} or a hex number
    batch: int

    def read(self, datas: Sequence[str]) -> list[str]:
        out: list[str] = []
        for i in range(0, len(datas), self.batch):
            part = datas[i : i + self.batch]
            results = self.rpc.batch([("eth_call", [{"to": self.to, "data": d}, self.block]) for d in part])
            for r in results:
                if isinstance(r, RpcError):
                    # The views never revert: the node cannot serve this block's state.
                    raise _StateUnavailable(r.message[:200])
                out.append(r)
        return out


@dataclass
class _Projection:
    block: int
    block_hash: str | None
    providers: dict[str, Any]  # address -> row mapping
    pending: dict[str, str]  # slash id -> provider, slashes the projection holds as pending


def _fmt(column: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    enum = ENUMS.get(column)
    if enum is not None and int(value) in enum._value2member_map_:
        return enum(int(value)).name.lower()
    return str(int(value))


def _slash_finding(provider: str, slash_id: str, projected: int, on_chain: int) -> Finding:
    return Finding(
        provider,
        "slash_state",
        f"{slash_id} {_fmt('slash_state', projected)}",
        f"{slash_id} {_fmt('slash_state', on_chain)}",
    )


def _load_projection(conn: Connection) -> _Projection:
    keys = ("checkpoint_block", "checkpoint_hash")
    meta = {r.key: r.value for r in conn.execute(select(t.meta).where(t.meta.c.key.in_(keys)))}
    cols = [t.providers.c.address, *(t.providers.c[c] for c in PROVIDER_FIELDS)]
    providers = {r["address"]: r for r in conn.execute(select(*cols)).mappings()}
    pending = {
        r.id: r.provider
        for r in conn.execute(select(t.slashes.c.id, t.slashes.c.provider).where(t.slashes.c.state == 1))
    }
    return _Projection(int(meta.get("checkpoint_block", 0)), meta.get("checkpoint_hash"), providers, pending)


def _compare(
    conn: Connection, proj: _Projection, reader: _Reader, views: _Views
) -> tuple[list[Finding], int]:
    """Findings of one read at `reader.block`, and the number of slash states read."""
    get_provider, slash_state = views.provider, views.slash_state
    addresses = sorted(proj.providers)
    pending_ids = sorted(proj.pending)
    raw = reader.read(
        [get_provider.data(a) for a in addresses]
        + [slash_state.data(bytes.fromhex(s[2:])) for s in pending_ids]
    )
    records = dict(zip(addresses, map(get_provider.result, raw[: len(addresses)]), strict=True))
    states = dict(zip(pending_ids, map(slash_state.result, raw[len(addresses) :]), strict=True))
    findings: list[Finding] = []
    for a in addresses:
        row, rec = proj.providers[a], records[a]
        if not rec["registered"]:
            findings.append(Finding(a, "registered", "true", "false"))
            continue
        for column, component in PROVIDER_FIELDS.items():
            if int(row[column]) != int(rec[component]):
                findings.append(Finding(a, column, _fmt(column, row[column]), _fmt(column, rec[component])))
    for sid in pending_ids:
        if states[sid] != SlashState.PENDING:
            findings.append(_slash_finding(proj.pending[sid], sid, SlashState.PENDING, states[sid]))

    # Pending slash rows that do not add up to the contract's count: read that provider's other rows.
    rows_pending = Counter(proj.pending.values())
    off = [
        a for a in addresses if records[a]["registered"] and rows_pending[a] != records[a]["pendingSlashes"]
    ]
    others: list[tuple[str, str, int]] = []
    for part in (off[i : i + 500] for i in range(0, len(off), 500)):
        q = select(t.slashes.c.id, t.slashes.c.provider, t.slashes.c.state).where(
            t.slashes.c.provider.in_(part), t.slashes.c.state != 1
        )
        others += [(r.id, r.provider, r.state) for r in conn.execute(q.order_by(t.slashes.c.id))]
    raw = reader.read([slash_state.data(bytes.fromhex(sid[2:])) for sid, _, _ in others])
    for (sid, provider, state), value in zip(others, map(slash_state.result, raw), strict=True):
        if value != state:
            findings.append(_slash_finding(provider, sid, state, value))
    explained = {f.provider for f in findings if f.field == "slash_state"}
    for a in off:
        if a not in explained:
            findings.append(
                Finding(a, "pending_slash_rows", str(rows_pending[a]), str(records[a]["pendingSlashes"]))
            )
    return findings, len(pending_ids) + len(others)


def check_drift(
    engine: Engine,
    staking: StakingContract,
    notify: Notify | None = None,
    batch: int = DEFAULT_BATCH,
    clock: Callable[[], float] = time.time,
) -> DriftReport:
    """Compare the projection with the contract at the indexed head; replace `drift_findings` with
    the mismatches and return them. `clock` (unix seconds) stamps the check (`checked_ms`).
    Raises NodeUnreachable/RpcError when the node cannot answer at all."""
    started = time.monotonic()
    views = _Views(staking)
    rpc = RawRpc(staking.w3)
    fallback: str | None = None
    with snapshot(engine) as conn:
        proj = _load_projection(conn)
        at: Any = {"blockHash": proj.block_hash} if proj.block_hash else hex(proj.block)
        read_at = proj.block_hash or str(proj.block)
        try:
            findings, slashes = _compare(conn, proj, _Reader(rpc, staking.address, at, batch), views)
        except _StateUnavailable as exc:
            latest, canonical = _head_and_hash(rpc, proj.block)
            if proj.block_hash is not None and canonical != proj.block_hash:
                # The indexed head was reorged out: the indexer rolls it back first.
                skipped = f"block {proj.block} {proj.block_hash} is no longer canonical ({exc})"
                log.info("drift check skipped", extra={"block": proj.block, "reason": skipped})
                return DriftReport(
                    proj.block, read_at, len(proj.providers), 0, [], [], 0, 0,
                    time.monotonic() - started, skipped=skipped,
                )  # fmt: skip
            fallback, read_at = f"state at block {proj.block} unavailable: {exc}", f"latest ({latest})"
            try:
                reader = _Reader(rpc, staking.address, hex(latest), batch)
                findings, slashes = _compare(conn, proj, reader, views)
            except _StateUnavailable as again:
                raise RpcError(
                    "eth_call", {"message": f"cannot read the contract's state: {again}"}
                ) from None
    checked_ms = int(clock() * 1000)
    before = {f.key for f in _replace_findings(engine, findings, proj.block, checked_ms)}
    new = [f for f in findings if f.key not in before]
    report = DriftReport(
        block=proj.block,
        read_at=read_at,
        providers=len(proj.providers),
        slashes=slashes,
        findings=findings,
        new=new,
        resolved=len(before - {f.key for f in findings}),
        checked_ms=checked_ms,
        duration_s=time.monotonic() - started,
        fallback=fallback,
    )
    extra = {
        "block": report.block, "read_at": report.read_at, "providers": report.providers,
        "slashes": report.slashes, "findings": len(findings), "new": len(new), "resolved": report.resolved,
        "drifted_providers": len(report.drifted), "duration_ms": round(report.duration_s * 1000, 1),
    }  # fmt: skip
    if fallback:
        extra["fallback"] = fallback
    level = logging.WARNING if findings or fallback else logging.INFO
    log.log(level, f"drift check: {len(findings)} findings", extra=extra)
    if new and notify is not None:
        notify("drift", _event(report))
    return report


def _head_and_hash(rpc: RawRpc, number: int) -> tuple[int, str | None]:
    """The node's head and its canonical hash at `number` (one batch)."""
    head, block = rpc.batch([("eth_blockNumber", []), ("eth_getBlockByNumber", [hex(number), False])])
    for r in (head, block):
        if isinstance(r, RpcError):
            raise r
    return int(head, 16), (block or {}).get("hash")


def _replace_findings(
    engine: Engine, findings: Iterable[Finding], block: int, checked_ms: int
) -> list[Finding]:
    """Replace every row of `drift_findings` (one transaction); returns the rows replaced."""
    rows = [f.as_dict() | {"block": block, "checked_ms": checked_ms} for f in findings]
    with engine.begin() as conn:
        cols = (t.drift_findings.c.provider, t.drift_findings.c.field, t.drift_findings.c.projected,
                t.drift_findings.c.on_chain)  # fmt: skip
        previous = [Finding(*r) for r in conn.execute(select(*cols))]
        conn.execute(delete(t.drift_findings))
        if rows:
            conn.execute(t.drift_findings.insert(), rows)
        Store(engine).write_meta(conn, {DRIFT_CHECKED_MS: str(checked_ms), DRIFT_BLOCK: str(block)})
    return previous


def _event(report: DriftReport) -> dict[str, Any]:
    """The `drift` webhook payload: which providers and fields differ, the new findings first."""
    drifted = report.drifted
    return {
        "block": report.block,
        "read_at": report.read_at,
        "checked_at_ms": report.checked_ms,
        "providers": dict(list(drifted.items())[:NOTIFY_LIMIT]),
        "providers_total": len(drifted),
        "findings": len(report.findings),
        "new": [f.as_dict() for f in report.new[:NOTIFY_LIMIT]],
        "new_total": len(report.new),
    }


def run_drift_check(
    engine: Engine,
    staking: StakingContract,
    notify: Notify | None = None,
    clock: Callable[[], float] = time.time,
) -> bool:
    """One scheduled drift check, recorded in `job_runs` as `drift_check` and logged like every
    job; never raises, returns whether it succeeded. The worker's scheduler calls it with its
    `JobsContext` (`staking.worker.jobs.scheduled_jobs`)."""

    def job() -> str:
        return check_drift(engine, staking, notify, clock=clock).summary()

    return run_job(engine, JOB_NAME, job, clock)
