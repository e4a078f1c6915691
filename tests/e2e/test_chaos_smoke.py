"""`make chaos` in small: one fault-injection trial against the scaled-out service (indexer, API
replicas, two workers) on a private PostgreSQL cluster, and proof that the invariants the suite
judges by do catch a transaction nobody decided."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from faults import chaos
from faults.invariants import check_actions
from faults.pg_cluster import unavailable
from staking.chain.contracts import StakingContract
from staking.devnet.accounts import DETECTOR, SERVICE, devnet_account
from staking.domain.vocabulary import EventType, Severity
from staking.verdict import Verdict, sign_verdict, to_wire

pytestmark = pytest.mark.e2e

WHY_NOT = unavailable()


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[chaos.RunEnv]:
    if WHY_NOT:
        pytest.skip(f"the chaos suite needs a private PostgreSQL cluster: {WHY_NOT}")
    with chaos.chaos_environment(tmp_path_factory.mktemp("chaos"), seed=1) as run_env:
        yield run_env


def test_a_trial_with_a_killed_process_and_a_database_restart_keeps_every_invariant(
    env: chaos.RunEnv, tmp_path: Path
) -> None:
    opts = chaos.arguments(["--verdicts", "24", "--faults", "kill,pg_restart", "--settle-timeout", "60"])
    # a seed whose draw has both kinds (the RNG, not this test, decides what a trial does)
    seed = next(
        s
        for s in range(1, 1000)
        if len({k for _, k in chaos.draw_faults(random.Random(s), opts.faults)}) == 2
    )
    result = chaos.run_trial(1, seed, opts, env, tmp_path)
    assert result.violations == [], "\n".join(result.violations)
    assert {f.kind for f in result.faults} >= {"kill", "pg_restart"}
    assert result.verdicts == 24
    assert result.actions.get("jail:confirmed", 0) > 0  # the burst did reach the chain
    assert result.webhooks["outbox_rows"] > 0


def test_the_invariants_catch_a_transaction_the_service_did_not_decide(
    env: chaos.RunEnv, tmp_path: Path
) -> None:
    """A jail sent with the service key for a verdict decided without one (as a duplicate sender
    or a bug would) must be reported, however consistent the nonces are."""
    anvil = chaos.Anvil.start(tmp_path, load_state=env.snapshot.state)  # automine
    try:
        w3 = anvil.w3
        staking = StakingContract(w3, env.snapshot.deployment.contracts.SwarmStaking)
        service = devnet_account(SERVICE)
        first_block = w3.eth.block_number + 1
        nonce = w3.eth.get_transaction_count(service.address)
        now = int(w3.eth.get_block("latest")["timestamp"])
        v = Verdict(
            b"\x11" * 32,
            env.snapshot.providers[0],
            EventType.PERFORMANCE_VIOLATION,
            Severity.LOW,
            now,
            b"\x22" * 32,
        )
        signature = sign_verdict(v, staking.domain(), devnet_account(DETECTOR).key)
        tx = staking.jail(v, signature, 0).build_transaction(
            {"from": service.address, "nonce": nonce, "gas": 400_000, "chainId": 31337}
        )
        w3.eth.wait_for_transaction_receipt(
            w3.eth.send_raw_transaction(service.sign_transaction(dict(tx)).raw_transaction)  # type: ignore[arg-type]
        )
        body = to_wire(v, signature)
        settled = {
            body["id"]: {
                "id": body["id"],
                "status": "done",
                "actions": [{"kind": "warn", "state": "confirmed"}],
            }
        }
        audit = check_actions(w3, staking, service.address, [body], [body["id"]], settled, first_block, nonce)
    finally:
        anvil.stop()
    assert audit.transactions == 1
    assert any("jail decided=None mined=1" in v for v in audit.violations), audit.violations
