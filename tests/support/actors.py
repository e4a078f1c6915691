"""Random valid SwarmStaking calls (`random_actions`), each chosen only when the chain's views say
it will succeed."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from eth_utils import keccak
from web3.contract.contract import ContractFunction

from staking.chain.contracts import role_id
from staking.devnet.accounts import devnet_account
from staking.domain.vocabulary import (
    TOKEN,
    ProviderClass,
    RecoveryPath,
    SlashState,
)
from staking.rewards.merkle import WeightTree
from tests.support.chain import STRANGER_INDEX, Chain
from tests.support.indexing import ACCOUNT_COUNT, SPARE_ACCOUNTS, UNLIMITED
from tests.support.views import Views, to_hex


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
    appealed: dict[str, int] = field(default_factory=dict)  # open appeals this actor made: deadline
    decided: set[str] = field(default_factory=set)  # slashes appealed once (one appeal per slash)
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
        # A jail blocks withdrawals until a timed one runs out; a tombstone freezes the stake.
        withdrawable = [
            a for a, r in recs.items()
            if r.unbonding > 0 and r.pending_slashes == 0
            and (not r.jailed or (r.jailed_until and not r.tombstoned))
        ]  # fmt: skip
        if withdrawable:

            def withdraw() -> None:
                a = rng.choice(withdrawable)
                self.wait_until(max(recs[a].unbonding_end, recs[a].jailed_until))
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
                self.slash_ids.append(to_hex(verdict.id))

            add(3, "proposeSlash", propose)
        vetoable = [sid for sid, r in pending if now + 5 < r.executable_at]
        if vetoable:

            def veto() -> None:
                sid = rng.choice(vetoable)
                send(c, s.veto_slash(bytes.fromhex(sid[2:]), keccak(os.urandom(8))), gov)
                self._decide(sid)  # a veto of an appealed slash upholds the appeal

            add(2, "vetoSlash", veto)
        if pending:

            def execute() -> None:
                sid, rec = rng.choice(pending)
                # An open appeal freezes it until its deadline; then executeSlash expires it first.
                self.wait_until(max(rec.executable_at, self.appealed.get(sid, 0)))
                send(c, s.execute_slash(bytes.fromhex(sid[2:])), c.stranger)
                self._decide(sid)

            add(2.5, "executeSlash", execute)
        self._appeal_options(pending, balances, now, add)
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

    def _decide(self, sid: str) -> None:
        if self.appealed.pop(sid, None) is not None:
            self.decided.add(sid)

    def _appeal_options(
        self,
        pending: list[tuple[str, Any]],
        balances: dict[str, int],
        now: int,
        add: Callable[[float, str, Callable[[], None]], None],
    ) -> None:
        """The slashed provider appeals (inside the window, once per slash, with the bond); the
        council (governance on the EOA devnet) upholds or rejects an open appeal before its deadline."""
        c, rng, s = self.chain, self.rng, self.chain.staking
        bond = s.appeal_params().bond
        appealable = [
            (sid, r) for sid, r in pending
            if sid not in self.appealed and sid not in self.decided and now + 5 < r.executable_at
            and balances.get(r.provider, 0) >= bond
        ]  # fmt: skip
        if appealable:

            def appeal() -> None:
                sid, rec = rng.choice(appealable)
                self.ensure_allowance(rec.provider)
                send(c, s.appeal_slash(bytes.fromhex(sid[2:]), keccak(os.urandom(8))), rec.provider)
                self.appealed[sid] = c.staking.get_appeal(bytes.fromhex(sid[2:])).deadline

            add(1.5, "appealSlash", appeal)
        open_ = [sid for sid, _ in pending if now + 5 < self.appealed.get(sid, 0)]
        if open_:

            def resolve() -> None:
                sid = rng.choice(open_)
                upheld = rng.random() < 0.5
                send(c, s.resolve_appeal(bytes.fromhex(sid[2:]), upheld, keccak(os.urandom(8))), c.governance)
                self._decide(sid)

            add(1.5, "resolveAppeal", resolve)

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
