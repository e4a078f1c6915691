"""`swarm-staking detector revoke` in the Safe shape (SPEC sections 8 and 9), on a real Anvil with
Safe's own contracts: the council Safe contains a rogue detector in ONE transaction (revokeDetector,
vetoSlashes and liftJails through Safe's MultiSendCallOnly) once two of its three owners signed;
the service refuses the detector from the first owner's run on; a dry run changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from staking.db import schema as t
from staking.db.engine import make_engine
from staking.devnet.accounts import COUNCIL_OWNERS, devnet_account
from staking.domain.vocabulary import SlashState
from tests.support.chain import Chain
from tests.support.cli import CommandLine, command_line, refused, succeeded
from tests.support.containment import Rogue

pytestmark = pytest.mark.e2e

REVOKE = ("--veto-pending", "--release-jails", "--reason", "stolen detector key, INC-91")
ROGUE = 18  # not an owner of either Safe


@pytest.fixture
def scene(
    safe_chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[CommandLine, Rogue]]:
    chain = safe_chain
    with command_line(chain, tmp_path, monkeypatch) as cli:
        timelock = chain.deployment.governance.timelock
        assert timelock is not None
        # Only the timelock grants roles in this shape; impersonate it rather than wait out a proposal.
        chain.rpc("anvil_impersonateAccount", timelock)
        chain.rpc("anvil_setBalance", timelock, hex(10**18))
        engine: Engine = make_engine(cli.database_url)
        yield cli, Rogue(chain, engine, rogue=devnet_account(ROGUE), granter=timelock).build(index_after=True)
        chain.rpc("anvil_stopImpersonatingAccount", timelock)
        engine.dispose()


def revocations(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(select(t.detector_revocations.c.account)).scalars())


def test_the_council_safe_contains_a_detector_in_one_transaction(scene: tuple[CommandLine, Rogue]) -> None:
    cli, s = scene
    c, rogue = s.chain, s.rogue.address
    council = c.deployment.governance.council_safe
    block = c.w3.eth.block_number

    cli.sign_as(COUNCIL_OWNERS[0])
    dry = succeeded(cli("detector", "revoke", rogue, *REVOKE, "--sign", "--dry-run"))
    assert f"route    the council Safe {council}" in dry and f"SwarmStaking.revokeDetector({rogue})" in dry
    assert "vetoSlashes(3 ids): would veto 3" in dry and "liftJails(2 providers): would lift 2" in dry
    assert c.w3.eth.block_number == block and revocations(s.engine) == []

    first = succeeded(
        cli("detector", "revoke", rogue, *REVOKE, "--sign", "--signature-out", "c1.sig.json", "--yes")
    )
    assert f"refused  {rogue} by the service from now" in first and "signers  1 of 2" in first
    assert revocations(s.engine) == [rogue]  # the intake refuses it before the chain does
    assert c.staking.has_role("DETECTOR_ROLE", rogue) and c.w3.eth.block_number == block

    cli.sign_as(COUNCIL_OWNERS[2])
    out = succeeded(
        cli("detector", "revoke", rogue, *REVOKE, "--sign", "--signatures", "c1.sig.json", "--yes")
    )
    assert "the Safe executed it" in out and "vetoed   3 slashes" in out and "lifted   2 jails" in out
    assert c.w3.eth.block_number == block + 1  # one transaction: the Safe's execTransaction
    assert c.w3.eth.get_block("latest", full_transactions=True)["transactions"][0]["to"] == council
    assert not c.staking.has_role("DETECTOR_ROLE", rogue)
    assert [s.slash_state(n) for n in ("P0", "P1", "P2")] == [SlashState.VETOED] * 3
    assert s.slash_state("P3") == SlashState.PENDING and s.slash_state("P2 honest") == SlashState.PENDING
    assert [c.staking.is_jailed(p) for p in s.providers[:5]] == [False, False, True, True, False]


def test_a_governance_owner_cannot_sign_for_the_council(scene: tuple[CommandLine, Rogue]) -> None:
    cli, s = scene
    cli.sign_as(11)  # an owner of the governance Safe, not of the council's
    refused(cli("detector", "revoke", s.rogue.address, *REVOKE, "--sign", "--yes"), "is not an owner of Safe")
    assert s.chain.staking.has_role("DETECTOR_ROLE", s.rogue.address) and revocations(s.engine) == []
    refused(cli("detector", "revoke", s.rogue.address, "--via", "timelock"), "not the timelock")
