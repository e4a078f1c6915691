"""Stateful property test: random staking / slashing / reward sequences never create or lose tokens.

A Hypothesis state machine drives the real contract on the session's Anvil and keeps a Python
model of every provider's buckets, every slash and every reward epoch. Every rule calls the
contract, also when the model predicts a revert, and asserts that the contract agrees (success,
or the predicted custom error). After every step the invariants compare the chain with the model
and check token conservation.

Every transaction is mined with `tx_at(now + 1)` so the model knows its exact block timestamp.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest
from eth_abi import decode
from eth_utils import keccak, to_checksum_address
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from web3.contract.contract import ContractFunction
from web3.logs import DISCARD
from web3.types import TxReceipt

from staking.rewards.merkle import WeightTree
from tests.support.chain import Chain

pytestmark = pytest.mark.integration

T = 10**18
DAY = 24 * 3600
MAX_BPS = 10_000
ZERO32 = b"\x00" * 32
ACTIVE_PROVIDERS = (0, 1, 3, 4, 6)  # hardware 7 d (x3), network operator 28 d, platform user 1 d
UNLIMITED = 2**255


@dataclass(frozen=True)
class Start:
    """What every example starts from (the module snapshot), read once."""

    chain: Chain
    genesis: int
    epoch_length: int
    veto_window: int
    treasury: str
    holders: list[str]
    providers: list[tuple[str, int, int, int, int]]  # address, unbonding period, active, unbonding, end


_START: Start | None = None


@pytest.fixture(autouse=True, scope="module")
def _bind_session_chain(chain_session: Chain) -> Iterator[None]:
    """Hands the session chain to the state machine (a unittest TestCase gets no fixtures) and
    grants the allowances every example needs once, inside a module-wide snapshot."""
    global _START
    chain = chain_session
    snapshot = chain.rpc("evm_snapshot")
    for account in [chain.governance, *chain.providers]:
        chain.tx(chain.token.approve(chain.staking.address, UNLIMITED), account)
    providers = []
    for address in chain.providers:
        rec = chain.staking.provider(address)
        period = chain.staking.class_params(rec.provider_class).unbonding_period
        providers.append((address, period, rec.active, rec.unbonding, rec.unbonding_end))
    _START = Start(
        chain=chain,
        genesis=int(chain.staking.contract.functions.epochGenesis().call()),
        epoch_length=int(chain.staking.contract.functions.epochLength().call()),
        veto_window=chain.staking.veto_window(),
        treasury=chain.treasury,
        holders=list(dict.fromkeys(to_checksum_address(h) for h in chain.holders())),
        providers=providers,
    )
    try:
        yield
    finally:
        _START = None
        assert chain.rpc("evm_revert", snapshot) is True


# ---------------------------------------------------------------------------------------- fast reads


def _selector(signature: str) -> str:
    return "0x" + keccak(text=signature)[:4].hex()


BALANCE_OF = _selector("balanceOf(address)")
TOTAL_SUPPLY = _selector("totalSupply()")
GET_PROVIDER = _selector("getProvider(address)")
GET_EPOCH = _selector("getEpoch(uint64)")
SLASH_STATE = _selector("slashState(bytes32)")
STAKE_OF = _selector("stakeOf(address)")
UNBONDING_OF = _selector("unbondingOf(address)")


def _word(value: int | str | bytes) -> str:
    if isinstance(value, bytes):
        return value.hex().rjust(64, "0")
    if isinstance(value, str):
        return value.lower().removeprefix("0x").rjust(64, "0")
    return f"{value:064x}"


class Reader:
    """Raw, batched `eth_call`s: the invariants read ~40 values per step, and one JSON-RPC batch
    costs about as much as a single call through web3's contract-call path."""

    def __init__(self, chain: Chain) -> None:
        self.chain = chain
        self.token = chain.token.address
        self.staking = chain.staking.address

    def _batch(self, calls: list[tuple[str, str]]) -> list[bytes]:
        requests = [("eth_call", [{"to": to, "data": data}, "latest"]) for to, data in calls]
        responses: Any = self.chain.w3.provider.make_batch_request(requests)  # type: ignore[attr-defined]
        assert isinstance(responses, list) and len(responses) == len(calls), responses
        by_id = sorted(responses, key=lambda r: r["id"])
        return [bytes.fromhex(r["result"][2:]) for r in by_id]

    def balance(self, account: str) -> int:
        return self.balances([account])[0]

    def balances(self, accounts: list[str]) -> list[int]:
        out = self._batch([(self.token, BALANCE_OF + _word(a)) for a in accounts])
        return [int.from_bytes(b) for b in out]

    def total_supply(self) -> int:
        return int.from_bytes(self._batch([(self.token, TOTAL_SUPPLY)])[0])

    def providers(self, accounts: list[str]) -> list[tuple[int, int, int, int]]:
        """(active, unbonding, unbondingEnd, pendingSlashes) of each account."""
        out = self._batch([(self.staking, GET_PROVIDER + _word(a)) for a in accounts])
        words = [decode(["uint256"] * 12, b) for b in out]
        return [(w[10], w[11], w[9], w[7]) for w in words]

    def stakes(self, accounts: list[str]) -> list[tuple[int, int]]:
        """(stakeOf, unbondingOf) of each account, through the public views."""
        calls = [(self.staking, sel + _word(a)) for a in accounts for sel in (STAKE_OF, UNBONDING_OF)]
        out = [int.from_bytes(b) for b in self._batch(calls)]
        return list(zip(out[::2], out[1::2], strict=True))

    def epochs(self, epochs: list[int]) -> list[tuple[bytes, int, int, int, bool]]:
        """(merkleRoot, totalWeight, pool, claimed, published) of each epoch."""
        out = self._batch([(self.staking, GET_EPOCH + _word(e)) for e in epochs])
        return [decode(["bytes32", "uint256", "uint256", "uint256", "bool"], b) for b in out]

    def slash_states(self, ids: list[bytes]) -> list[int]:
        return [int.from_bytes(b) for b in self._batch([(self.staking, SLASH_STATE + _word(i)) for i in ids])]


# ---------------------------------------------------------------------------------------- model


@dataclass
class ProviderModel:
    address: str
    unbonding_period: int
    active: int
    unbonding: int
    unbonding_end: int
    pending: int = 0


@dataclass
class SlashModel:
    provider: int  # index into chain.providers
    amount: int
    executable_at: int
    state: int = 1  # 1 pending, 2 vetoed, 3 executed


@dataclass
class EpochModel:
    pool: int = 0
    published: bool = False
    total_weight: int = 0
    tree: WeightTree | None = None
    claimed: int = 0
    claimers: set[str] = field(default_factory=set)


AMOUNT_KINDS = st.sampled_from(["zero", "one", "quarter", "all", "over"])
TIME_STEPS = st.sampled_from([30, 119, 121, 601, DAY, 7 * DAY, 28 * DAY])
BPS = st.sampled_from([0, 1, 500, 3_333, 10_000, 10_001])


X = TypeVar("X")


def _choose(pick: int, prefer: bool, interesting: Sequence[X], everything: Sequence[X]) -> X:
    """An interesting candidate when asked for one and one exists, else any candidate."""
    pool = interesting if prefer and interesting else everything
    return pool[pick % len(pool)]


def _pick(kind: str, available: int) -> int:
    return {"zero": 0, "one": 1, "quarter": available // 4, "all": available, "over": available + 1}[kind]


class TokenConservation(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        assert _START is not None, "the module fixture did not bind the chain"
        self.chain = _START.chain
        self.snapshot = self.chain.rpc("evm_snapshot")
        self.read = Reader(self.chain)
        self.staking = self.chain.staking
        self.treasury = _START.treasury  # no rule changes it
        self.genesis, self.epoch_length = _START.genesis, _START.epoch_length
        self.veto_window = _START.veto_window
        self.holders = _START.holders
        self.providers = [ProviderModel(*row) for row in _START.providers]
        self.slashes: dict[bytes, SlashModel] = {}
        self.epochs: dict[int, EpochModel] = {}
        self.verdicts = 0

    def teardown(self) -> None:
        assert self.chain.rpc("evm_revert", self.snapshot) is True

    # ---- plumbing
    def _pending(self) -> list[bytes]:
        return [i for i, s in self.slashes.items() if s.state == 1]

    def _next_ts(self) -> int:
        return self.chain.now() + 1

    def _epoch_at(self, ts: int) -> int:
        return (ts - self.genesis) // self.epoch_length

    def _send(self, ts: int, fn: ContractFunction, sender: str, error: str | None) -> TxReceipt | None:
        """Mines `fn` at `ts`; asserts it succeeds when `error` is None, else that it reverts with `error`."""
        if error is not None:
            self.chain.expect_revert_at(ts, fn, sender, error)
            return None
        receipt = self.chain.tx_at(ts, fn, sender)
        assert receipt["status"] == 1, f"{fn.fn_name} reverted but the model predicted success"
        return receipt

    def _event(self, receipt: TxReceipt, name: str) -> dict[str, Any]:
        found = getattr(self.staking.contract.events, name)().process_receipt(receipt, errors=DISCARD)
        assert len(found) == 1
        return dict(found[0]["args"])

    # ---- staking
    @rule(who=st.sampled_from(ACTIVE_PROVIDERS), kind=AMOUNT_KINDS)
    def stake(self, who: int, kind: str) -> None:
        p = self.providers[who]
        amount = {"zero": 0, "one": 1, "quarter": 250 * T, "all": 1_000 * T, "over": 3_333 * T + 7}[kind]
        error = "ZeroAmount" if amount == 0 else None
        before = self.read.balance(p.address)
        self._send(self._next_ts(), self.staking.stake(amount), p.address, error)
        if error is None:
            p.active += amount
            assert self.read.balance(p.address) == before - amount

    @rule(who=st.sampled_from(ACTIVE_PROVIDERS), kind=AMOUNT_KINDS)
    def request_unbond(self, who: int, kind: str) -> None:
        p = self.providers[who]
        amount = _pick(kind, p.active)
        ts = self._next_ts()
        error = "ZeroAmount" if amount == 0 else "InsufficientStake" if amount > p.active else None
        self._send(ts, self.staking.request_unbond(amount), p.address, error)
        if error is None:
            p.active -= amount
            p.unbonding += amount
            p.unbonding_end = max(p.unbonding_end, ts + p.unbonding_period)

    @rule(
        pick=st.integers(0, 10**6), prefer=st.booleans(), kind=AMOUNT_KINDS, wait_for_maturity=st.booleans()
    )
    def withdraw(self, pick: int, prefer: bool, kind: str, wait_for_maturity: bool) -> None:
        unbonding = [i for i in ACTIVE_PROVIDERS if self.providers[i].unbonding]
        who = _choose(pick, prefer, unbonding, list(ACTIVE_PROVIDERS))
        p = self.providers[who]
        if prefer and not p.unbonding and p.active:
            self.request_unbond(who, "quarter")  # something to withdraw, once it matures
        if wait_for_maturity and self.chain.now() < p.unbonding_end:
            self.chain.mine(p.unbonding_end)
        amount = _pick(kind, p.unbonding)
        ts = self._next_ts()
        if amount == 0:
            error: str | None = "ZeroAmount"
        elif p.pending:
            error = "WithdrawalBlockedBySlash"
        elif ts < p.unbonding_end:
            error = "UnbondingNotFinished"
        elif amount > p.unbonding:
            error = "InsufficientStake"
        else:
            error = None
        before = self.read.balance(p.address)
        self._send(ts, self.staking.withdraw(amount), p.address, error)
        if error is None:
            p.unbonding -= amount
            assert self.read.balance(p.address) == before + amount

    @rule(seconds=TIME_STEPS)
    def advance_time(self, seconds: int) -> None:
        self.chain.advance(seconds)

    # ---- slashing
    @rule(who=st.sampled_from(ACTIVE_PROVIDERS), bps=BPS)
    def propose_slash(self, who: int, bps: int) -> None:
        p = self.providers[who]
        self.verdicts += 1
        verdict = self.chain.verdict(p.address, verdict_id=keccak(text=f"conservation-{self.verdicts}"))
        ts = self._next_ts()
        error = "InvalidBps" if bps == 0 or bps > MAX_BPS else None
        fn = self.staking.propose_slash(verdict, self.chain.sign(verdict), bps)
        receipt = self._send(ts, fn, self.chain.service, error)
        if receipt is not None:
            amount = (p.active + p.unbonding) * bps // MAX_BPS
            assert self._event(receipt, "SlashProposed")["amount"] == amount
            self.slashes[verdict.id] = SlashModel(who, amount, ts + self.veto_window)
            p.pending += 1

    @precondition(lambda self: self.slashes)
    @rule(pick=st.integers(0, 10**6))
    def propose_duplicate_slash(self, pick: int) -> None:
        slash_id = list(self.slashes)[pick % len(self.slashes)]
        p = self.providers[self.slashes[slash_id].provider]
        verdict = self.chain.verdict(p.address, verdict_id=slash_id)
        fn = self.staking.propose_slash(verdict, self.chain.sign(verdict), 100)
        self._send(self._next_ts(), fn, self.chain.service, "SlashAlreadyExists")

    @precondition(lambda self: self.slashes)
    @rule(pick=st.integers(0, 10**6), prefer=st.booleans(), at_window_end=st.booleans())
    def veto_slash(self, pick: int, prefer: bool, at_window_end: bool) -> None:
        slash_id = _choose(pick, prefer, self._pending(), list(self.slashes))
        s = self.slashes[slash_id]
        ts = self._next_ts()
        if at_window_end and ts < s.executable_at:
            ts = s.executable_at  # the first second the veto is closed
        if s.state != 1:
            error: str | None = "SlashNotPending"
        elif ts >= s.executable_at:
            error = "VetoWindowClosed"
        else:
            error = None
        self._send(ts, self.staking.veto_slash(slash_id, ZERO32), self.chain.governance, error)
        if error is None:
            s.state = 2
            self.providers[s.provider].pending -= 1

    @precondition(lambda self: self.slashes)
    @rule(pick=st.integers(0, 10**6), prefer=st.booleans(), wait_out_window=st.booleans())
    def execute_slash(self, pick: int, prefer: bool, wait_out_window: bool) -> None:
        slash_id = _choose(pick, prefer, self._pending(), list(self.slashes))
        s = self.slashes[slash_id]
        p = self.providers[s.provider]
        ts = self._next_ts()
        if wait_out_window and ts < s.executable_at:
            ts = s.executable_at
        if s.state != 1:
            error: str | None = "SlashNotPending"
        elif ts < s.executable_at:
            error = "VetoWindowOpen"
        else:
            error = None
        before = self.read.balance(self.treasury)
        receipt = self._send(ts, self.staking.execute_slash(slash_id), self.chain.stranger, error)
        if receipt is None:
            return
        amount = min(s.amount, p.active + p.unbonding)
        from_active = min(amount, p.active)
        ev = self._event(receipt, "SlashExecuted")
        assert (ev["amount"], ev["fromActive"], ev["fromUnbonding"]) == (
            amount,
            from_active,
            amount - from_active,
        )
        assert self.read.balance(self.treasury) == before + amount
        p.active -= from_active
        p.unbonding -= amount - from_active
        p.pending -= 1
        s.state = 3

    # ---- rewards
    @rule(offset=st.sampled_from([-1, 0, 1]), kind=st.sampled_from(["zero", "small", "odd", "large"]))
    def fund_rewards(self, offset: int, kind: str) -> None:
        ts = self._next_ts()
        epoch = max(0, self._epoch_at(ts) + offset)
        amount = {"zero": 0, "small": 1, "odd": 1_234 * T + 567, "large": 50_000 * T}[kind]
        e = self.epochs.setdefault(epoch, EpochModel())
        error = "ZeroAmount" if amount == 0 else "EpochAlreadyPublished" if e.published else None
        self._send(ts, self.staking.fund_rewards(epoch, amount), self.chain.governance, error)
        if error is None:
            e.pool += amount

    @rule(
        which=st.sampled_from(["just_ended", "just_ended", "just_ended", "current", "earlier"]),
        weights=st.dictionaries(st.sampled_from(ACTIVE_PROVIDERS), st.integers(1, 1_000), max_size=4),
        mode=st.sampled_from(["exact", "exact", "understated", "inconsistent"]),
    )
    def publish_eligibility(self, which: str, weights: dict[int, int], mode: str) -> None:
        if which == "just_ended":  # close the running epoch, then publish it
            running = self._epoch_at(self._next_ts())
            self.chain.mine(self.genesis + (running + 1) * self.epoch_length)
        ts = self._next_ts()
        epoch = max(0, self._epoch_at(ts) - {"just_ended": 1, "current": 0, "earlier": 2}[which])
        tree = WeightTree.build({self.providers[i].address: w for i, w in weights.items()})
        total = tree.total_weight
        if mode == "understated" and total > 1:
            total = total // 2  # leaves sum above totalWeight: claims must stop at the pool
        root = tree.root
        if mode == "inconsistent":
            root, total = (keccak(text="some root"), 0) if total == 0 else (ZERO32, total)
        e = self.epochs.setdefault(epoch, EpochModel())
        if epoch >= self._epoch_at(ts):
            error: str | None = "EpochNotFinished"
        elif e.published:
            error = "EpochAlreadyPublished"
        elif (root == ZERO32) != (total == 0):
            error = "InvalidEligibility"
        else:
            error = None
        fn = self.staking.publish_eligibility(epoch, root, total, "ipfs://conservation")
        self._send(ts, fn, self.chain.service, error)
        if error is None:
            e.published, e.tree, e.total_weight = True, tree, total

    @precondition(lambda self: self.epochs)
    @rule(
        who=st.integers(0, 10**6),
        pick=st.integers(0, 10**6),
        prefer=st.booleans(),
        tamper=st.sampled_from(["none", "none", "none", "weight", "zero"]),
    )
    def claim(self, who: int, pick: int, prefer: bool, tamper: str) -> None:
        published = [n for n in sorted(self.epochs) if self.epochs[n].published]
        epoch = _choose(pick, prefer, published, sorted(self.epochs))
        e = self.epochs[epoch]
        everyone = [self.providers[i].address for i in ACTIVE_PROVIDERS]
        eligible = [a for a in everyone if e.tree is not None and a in e.tree.weights]
        account = _choose(who, prefer, eligible, everyone)
        weight, proof = 1, []
        if e.tree is not None and account in e.tree.weights:
            weight, proof = e.tree.weights[account], e.tree.proofs[account]
        honest = e.tree is not None and account in e.tree.weights and tamper == "none"
        if tamper == "weight":
            weight += 1
        elif tamper == "zero":
            weight = 0
        amount = e.pool * weight // e.total_weight if honest else 0
        if not e.published:
            error: str | None = "EpochNotPublished"
        elif account in e.claimers:
            error = "AlreadyClaimed"
        elif not honest or amount > e.pool - e.claimed:
            error = "InvalidProof"
        else:
            error = None
        before = self.read.balance(account)
        self._send(self._next_ts(), self.staking.claim(epoch, weight, proof), account, error)
        if error is None:
            e.claimed += amount
            e.claimers.add(account)
            assert self.read.balance(account) == before + amount

    # ---- invariants
    @invariant()
    def tokens_are_conserved(self) -> None:
        assert sum(self.read.balances(self.holders)) == self.read.total_supply()

    @invariant()
    def contract_holds_exactly_the_stakes_and_unclaimed_pools(self) -> None:
        buckets = 0
        for active, unbonding in self.read.stakes([p.address for p in self.providers]):
            assert active >= 0 and unbonding >= 0
            buckets += active + unbonding
        unclaimed = sum(e.pool - e.claimed for e in self.epochs.values())
        assert self.read.balance(self.staking.address) == buckets + unclaimed

    @invariant()
    def chain_matches_the_model(self) -> None:
        on_chain = self.read.providers([p.address for p in self.providers])
        for p, actual in zip(self.providers, on_chain, strict=True):
            assert actual == (p.active, p.unbonding, p.unbonding_end, p.pending), p.address
        if self.slashes:
            states = self.read.slash_states(list(self.slashes))
            assert states == [s.state for s in self.slashes.values()]
        if self.epochs:
            for (epoch, e), (_, total, pool, claimed, published) in zip(
                self.epochs.items(), self.read.epochs(list(self.epochs)), strict=True
            ):
                assert (pool, claimed, published) == (e.pool, e.claimed, e.published), epoch
                if e.published:
                    assert total == e.total_weight, epoch


TokenConservation.TestCase.settings = settings(
    max_examples=25,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestTokenConservation = TokenConservation.TestCase
