"""`swarm-staking rewards show|proof|publish|fund|claim` as a user runs them, against a real Anvil:
providers claim exactly `pool * weight // totalWeight` with proofs from the database (the rounding
dust stays in the contract), an ineligible provider cannot claim, and the oracle's publish path
and funding behave like every governance command (dry run sends nothing, one-line errors)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from typer.testing import CliRunner, Result
from web3.exceptions import ContractCustomError

from indexer.runner import Indexer
from staking.cli import app
from staking.cli.chainops import Gov
from staking.cli.reverts import revert_reason
from staking.db.engine import make_engine, upgrade
from staking.devnet.accounts import GOVERNANCE, SERVICE, devnet_account, provider_accounts
from staking.domain.clock import EpochClock
from staking.domain.vocabulary import TOKEN
from staking.rewards.epochs import epoch_row, window
from staking.rewards.merkle import WeightTree
from tests.support.chain import Chain
from tests.support.epochs import GRACE, Oracle, chain_clock, file_reports, varied_reports
from tests.support.reward_epochs_on_chain import finish_epoch, fund, publish

pytestmark = pytest.mark.e2e

SIGNER_ENV = ("SWARM_SIGNER_KEY", "SWARM_SIGNER_KEYSTORE", "SWARM_SIGNER_PASSWORD_FILE", "SWARM_RPC_URL")
POOL = 1_000 * TOKEN + 7  # not a multiple of anything: the shares round down


@dataclass
class Cli:
    chain: Chain
    env: dict[str, str]
    clock: EpochClock
    runner: CliRunner

    def __call__(self, *args: str | int, signer: int | None = None, input: str | None = None) -> Result:
        env = dict(self.env)
        if signer is not None:  # SWARM_SIGNER_KEY: accepted on the devnet (chain 31337) only
            env["SWARM_SIGNER_KEY"] = devnet_account(signer).key.to_0x_hex()
        return self.runner.invoke(app, [str(a) for a in args], env=env, input=input)

    def json(self, *args: str | int, signer: int | None = None) -> Any:
        result = self(*args, "--json", signer=signer)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    def into(self, epoch: int, offset: int) -> None:
        """Mine a block `offset` seconds into `epoch`."""
        self.chain.mine(window(self.clock, epoch)[0] + offset)


@pytest.fixture
def cli(chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    deployment = tmp_path / "deployment.json"
    chain.deployment.save(deployment)
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in SIGNER_ENV:
        monkeypatch.delenv(name, raising=False)
    env = {"SWARM_DEPLOYMENT": str(deployment)}
    yield Cli(chain, env, chain_clock(chain), CliRunner())


def index(chain: Chain, db_url: str) -> None:
    Indexer(make_engine(db_url), chain.w3, chain.deployment).run(exit_at_head=True)


def provider_index(address: str) -> int:
    return next(3 + i for i, a in enumerate(provider_accounts()) if a.address == address)


def test_providers_claim_pool_times_weight_over_total_weight_with_proofs_from_the_database(
    cli: Cli, db_url: str
) -> None:
    chain, s = cli.chain, cli.chain.staking
    cli.env["SWARM_DATABASE_URL"] = db_url
    epoch = cli.clock.epoch_at(chain.now()) + 1
    cli.into(epoch, 10)
    jailed = chain.providers[1]
    v, sig = chain.signed(jailed)
    chain.tx(s.jail(v, sig, 0), chain.service)  # before the service's transaction manager starts
    funded = cli("rewards", "fund", epoch, str(POOL), "--base-units", "--yes")  # governance funds it
    assert funded.exit_code == 0, funded.output
    assert "sent     approve tx" in funded.stdout and s.epoch(epoch).pool == POOL
    oracle = Oracle.start(chain, db_url)
    file_reports(oracle.engine, epoch, varied_reports(chain.providers, epoch))
    cli.into(epoch + 1, GRACE)
    oracle.settle()

    doc = cli.json("rewards", "show", epoch)
    assert doc["state"] == "published" and doc["published"] and doc["pool"] == str(POOL)
    assert doc["merkle_root"] == "0x" + s.epoch(epoch).merkle_root.hex() != "0x" + "00" * 32
    total = int(doc["total_weight"])
    eligible = [w for w in doc["weights"] if w["eligible"]]
    assert len(eligible) == len(chain.providers) - 1 and total == sum(int(w["weight"]) for w in eligible)
    shown = cli("rewards", "show", epoch)
    assert shown.exit_code == 0 and "6 of 7 providers eligible" in shown.stdout, shown.output

    paid = 0
    for i, w in enumerate(eligible):
        address, weight = w["address"], int(w["weight"])
        proof = cli.json("rewards", "proof", epoch, address.lower())
        assert proof["weight"] == w["weight"] and proof["claim"]["claimed"] is False
        before = chain.token.balance_of(address)
        if i == 0:  # through the command line, signed with the provider's own key
            claimed = cli("rewards", "claim", epoch, "--yes", signer=provider_index(address))
            assert claimed.exit_code == 0, claimed.output
            assert "rounded down" in claimed.stdout and "claimed" in claimed.stdout
        else:
            nodes = [bytes.fromhex(n[2:]) for n in proof["proof"]]
            chain.tx(s.claim(epoch, weight, nodes), address)
        amount = chain.token.balance_of(address) - before
        assert amount == POOL * weight // total == int(proof["claim"]["amount"])
        paid += amount
    record = s.epoch(epoch)
    assert record.claimed == paid and 0 <= POOL - paid < len(eligible)  # the dust stays in the contract

    first = eligible[0]["address"]
    again = cli("rewards", "claim", epoch, "--yes", signer=provider_index(first))
    assert again.exit_code == 1 and "AlreadyClaimed" in again.output
    refused = cli("rewards", "claim", epoch, "--yes", signer=provider_index(jailed))
    assert refused.exit_code == 1 and "is not eligible" in refused.output and "jailed" in refused.output
    # On chain too: no weight and proof of the jailed provider's opens the pool to it.
    other = cli.json("rewards", "proof", epoch, first)
    nodes = [bytes.fromhex(n[2:]) for n in other["proof"]]
    chain.expect_revert(s.claim(epoch, int(other["weight"]), nodes), jailed, "InvalidProof")
    chain.expect_revert(s.claim(epoch, 1, []), jailed, "InvalidProof")
    not_eligible = cli("rewards", "proof", epoch, jailed, "--json")
    assert not_eligible.exit_code == 1 and "jailed during the epoch" in not_eligible.output


def test_a_claim_refused_for_overdrawing_the_pool_is_explained_with_its_amounts(chain: Chain) -> None:
    s = chain.staking
    a, b = chain.providers[0], chain.providers[1]
    epoch = s.current_epoch()
    fund(chain, epoch, 1_000 * TOKEN)
    tree = WeightTree.build({a: 60, b: 60})  # sums to 120, published as 100
    finish_epoch(chain, epoch)
    publish(chain, epoch, tree, total_weight=100)
    chain.tx(s.claim(epoch, 60, tree.proofs[a]), a)
    with pytest.raises(ContractCustomError) as refused:
        s.claim(epoch, 60, tree.proofs[b]).call({"from": b})
    data = refused.value.data
    assert isinstance(data, str)

    reason = revert_reason(cast(Gov, SimpleNamespace(staking=s)), data, "execution reverted")
    amount, remaining = 600 * TOKEN, 400 * TOKEN
    assert reason == (
        f"PoolOverdrawn(epoch={epoch}, amount={amount}, remaining={remaining}): the claim of {amount}"
        f" exceeds the {remaining} left in epoch {epoch}'s pool: the published weights sum above its"
        " total weight, so the root is wrong (report it to the rewards oracle)"
    )


def test_rewards_publish_computes_a_finished_epoch_and_sends_it_as_the_rewards_oracle(
    cli: Cli, tmp_path: Path
) -> None:
    chain = cli.chain
    db_url = f"sqlite:///{tmp_path}/swarm.db"
    upgrade(db_url)
    cli.env["SWARM_DATABASE_URL"] = db_url
    epoch = cli.clock.epoch_at(chain.now()) + 1
    cli.into(epoch, 10)
    file_reports(make_engine(db_url), epoch, varied_reports(chain.providers, epoch))
    index(chain, db_url)
    running = cli("rewards", "publish", epoch, "--yes")
    assert running.exit_code == 1 and f"epoch {epoch} has not finished" in running.output

    cli.into(epoch + 1, 5)
    index(chain, db_url)
    service = devnet_account(SERVICE).address
    nonce = chain.w3.eth.get_transaction_count(service)
    dry = cli("rewards", "publish", epoch, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert f"signer   {service} (devnet service account #1" in dry.stdout
    assert "(predicted) epoch" in dry.stdout and "dry run: publishEligibility would succeed" in dry.stdout
    assert not chain.staking.epoch(epoch).published and chain.w3.eth.get_transaction_count(service) == nonce
    engine = make_engine(db_url)
    with engine.connect() as conn:
        assert epoch_row(conn, epoch) is None, "a dry run stores nothing"

    no_role = cli("rewards", "publish", epoch, "--yes", signer=GOVERNANCE)
    assert no_role.exit_code == 1
    assert "lacks REWARDS_ORACLE_ROLE, which publishEligibility requires" in no_role.output

    sent = cli("rewards", "publish", epoch, "--yes")
    assert sent.exit_code == 0, sent.output
    with engine.connect() as conn:
        row = epoch_row(conn, epoch)
    assert row is not None and row["state"] == "published" and row["eligible"] == len(chain.providers)
    record = chain.staking.epoch(epoch)
    assert record.published and "0x" + record.merkle_root.hex() == row["merkle_root"]
    assert record.total_weight == row["total_weight"]
    twice = cli("rewards", "publish", epoch, "--yes")
    assert twice.exit_code == 1 and "EpochAlreadyPublished" in twice.output


def test_rewards_fund_dry_run_sends_nothing_and_funding_adds_exactly_the_amount(cli: Cli) -> None:
    chain, s = cli.chain, cli.chain.staking
    epoch = cli.clock.epoch_at(chain.now()) + 2
    gov = chain.governance
    before = (chain.token.balance_of(gov), chain.w3.eth.get_transaction_count(gov), s.epoch(epoch).pool)
    dry = cli("rewards", "fund", epoch, "250", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "SwarmToken.approve" in dry.stdout and "(predicted) epoch" in dry.stdout
    assert "pool 250 SWARM" in dry.stdout and "nothing was sent" in dry.stdout
    assert (
        chain.token.balance_of(gov),
        chain.w3.eth.get_transaction_count(gov),
        s.epoch(epoch).pool,
    ) == before

    declined = cli("rewards", "fund", epoch, "250", input="n\n")
    assert declined.exit_code == 1 and "aborted" in declined.output
    assert s.epoch(epoch).pool == 0
    assert cli("rewards", "fund", epoch, "250", "--yes").exit_code == 0
    assert cli("rewards", "fund", epoch, "0.5", "--yes").exit_code == 0
    assert s.epoch(epoch).pool == 250 * TOKEN + TOKEN // 2
    assert chain.token.balance_of(gov) == before[0] - s.epoch(epoch).pool
    bad = cli("rewards", "fund", epoch, "-3", "--yes")
    assert bad.exit_code != 0
    assert cli("rewards", "fund", epoch, "1.0000000000000000001", "--yes").exit_code == 1
