"""`swarm-staking slash appeal` (the provider, its own key) and `appeal list|resolve` (the council)
as a user runs them against a real Anvil (SPEC section 9): the evidence file's sha256 goes on chain,
the bond is approved first when the allowance is short, a dry run or a declined prompt changes
nothing, each refusal is one line, and the council's decision moves the bond and the slash."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from indexer.runner import Indexer
from staking.cli.common import tokens
from staking.db.engine import make_engine
from staking.devnet.accounts import FIRST_PROVIDER
from staking.domain.vocabulary import AppealState, SlashState
from tests.support.chain import STRANGER_INDEX, Chain
from tests.support.cli import CommandLine, command_line, refused, succeeded

pytestmark = pytest.mark.e2e

EVIDENCE = b"our own load test, ticket OPS-77: request logs attached\n"
REASON = "the logs show a load test the provider announced on the forum"


@pytest.fixture
def cli(chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CommandLine]:
    with command_line(chain, tmp_path, monkeypatch) as cli:
        yield cli


def provider(cli: CommandLine) -> str:
    return cli.chain.providers[0]  # devnet account #FIRST_PROVIDER, listed by the deployment


def propose(cli: CommandLine, bps: int = 500) -> str:
    c = cli.chain
    v, sig = c.signed(provider(cli))
    c.tx(c.staking.propose_slash(v, sig, bps), c.service)
    return "0x" + v.id.hex()


def evidence_file(cli: CommandLine, content: bytes = EVIDENCE, name: str = "evidence.txt") -> str:
    path = cli.workdir / name
    path.write_bytes(content)
    return str(path)


def view(cli: CommandLine, sid: str) -> dict[str, Any]:
    """What an appeal could change, plus the provider's nonce and the block."""
    c, s, p = cli.chain, cli.chain.staking, provider(cli)
    return {
        "appeal": s.get_appeal(bytes.fromhex(sid[2:])),
        "slash": s.slash(bytes.fromhex(sid[2:])),
        "balance": c.token.balance_of(p),
        "allowance": c.token.contract.functions.allowance(p, s.address).call(),
        "nonce": c.w3.eth.get_transaction_count(p, "pending"),
        "block": c.w3.eth.block_number,
    }


def index(cli: CommandLine) -> None:
    engine = make_engine(cli.database_url)
    try:
        Indexer(engine, cli.chain.w3, cli.chain.deployment).run(exit_at_head=True)
    finally:
        engine.dispose()


def test_a_provider_appeals_its_own_slash_approving_the_bond_first(cli: CommandLine) -> None:
    c, s, p = cli.chain, cli.chain.staking, provider(cli)
    sid = propose(cli)
    c.tx(c.token.approve(s.address, 0), p)  # the allowance is short: approve goes first
    args = ["slash", "appeal", sid, "--evidence", evidence_file(cli)]
    digest = hashlib.sha256(EVIDENCE).hexdigest()
    before = view(cli, sid)

    dry = succeeded(cli(*args, "--dry-run"))
    assert f"signer   {p} (devnet provider account #{FIRST_PROVIDER}, public default mnemonic)" in dry
    assert "SwarmToken.approve" in dry and f"appealSlash(id={sid}, evidenceHash=0x{digest})" in dry
    assert "(predicted)" in dry and "appeal open" in dry and "nothing was sent" in dry
    assert view(cli, sid) == before, "a dry run must change nothing on chain"
    refused(cli(*args, input="n\n"), "aborted")
    assert view(cli, sid) == before, "a declined prompt must send nothing"

    sent = succeeded(cli(*args, "--yes"))
    assert "sent     approve tx" in sent and "sent     tx" in sent
    a = s.get_appeal(bytes.fromhex(sid[2:]))
    assert a.state == AppealState.OPEN and a.evidence_hash.hex() == digest
    assert c.token.balance_of(p) == before["balance"] - s.appeal_params().bond
    assert f"appeal open, bond {tokens(s.appeal_params().bond)} SWARM, evidence sha256 0x{digest}" in sent

    refused(cli(*args, "--yes"), "already has an appeal (open)", "one appeal per slash")


def test_appeals_the_contract_would_refuse_are_one_line_errors(cli: CommandLine) -> None:
    c, s, p = cli.chain, cli.chain.staking, provider(cli)
    sid = propose(cli)
    evidence = evidence_file(cli)
    before = view(cli, sid)
    cli.sign_as(STRANGER_INDEX)
    refused(cli("slash", "appeal", sid, "--evidence", evidence, "--yes"), "is not the slashed provider", p)
    cli.sign_as(None)
    unknown = "0x" + "ab" * 32
    refused(
        cli("slash", "appeal", unknown, "--evidence", evidence, "--yes"), "cannot be appealed: no such slash"
    )
    refused(
        cli("slash", "appeal", sid, "--evidence", str(cli.workdir / "missing.txt")),
        "cannot read the evidence",
    )
    refused(cli("slash", "appeal", sid, "--evidence", evidence_file(cli, b"", "empty.txt")), "is empty")
    refused(cli("slash", "appeal", "0x12", "--evidence", evidence), "not a slash id")

    # Too few tokens: the provider parks its tokens elsewhere.
    c.tx(c.token.transfer(c.stranger, c.token.balance_of(p)), p)
    refused(cli("slash", "appeal", sid, "--evidence", evidence, "--yes"), "too few tokens")
    c.tx(c.token.transfer(p, before["balance"]), c.stranger)

    c.advance(s.veto_window() + 1)
    for extra in ("--dry-run", "--yes"):
        refused(cli("slash", "appeal", sid, "--evidence", evidence, extra), "appeal window", "closed at")
    assert s.get_appeal(bytes.fromhex(sid[2:])).state == AppealState.NONE


def test_the_council_lists_and_resolves_appeals(cli: CommandLine) -> None:
    c, s = cli.chain, cli.chain.staking
    rejected, upheld = propose(cli), propose(cli, bps=1_000)
    evidence = evidence_file(cli)
    for sid in (rejected, upheld):
        succeeded(cli("slash", "appeal", sid, "--evidence", evidence, "--yes"))
    index(cli)
    text = succeeded(cli("appeal", "list"))
    assert f"{rejected}  open" in text and f"{upheld}  open" in text
    assert "2 appeals (2 open); indexed to block" in text and "appeal resolve ID --upheld|--rejected" in text
    items = json.loads(succeeded(cli("appeal", "list", "--json")))
    assert {i["id"] for i in items} == {rejected, upheld} and all(
        i["slash"]["state"] == "pending" for i in items
    )
    assert "0 upheld appeals" in succeeded(cli("appeal", "list", "--state", "upheld"))
    refused(
        cli("appeal", "list", "--state", "pending"), "--state must be one of open, upheld, rejected, expired"
    )

    resolve = ["appeal", "resolve", rejected, "--rejected", "--reason", REASON]
    refused(cli("appeal", "resolve", rejected, "--reason", REASON), "--upheld or --rejected")
    cli.sign_as(STRANGER_INDEX)
    refused(cli(*resolve, "--yes"), "lacks VETOER_ROLE, which resolveAppeal requires")
    cli.sign_as(None)  # the EOA devnet: the governance account is the council
    treasury = c.token.balance_of(c.treasury)
    before = view(cli, rejected)
    dry = succeeded(cli(*resolve, "--dry-run"))
    bond = f"bond {tokens(s.appeal_params().bond)} SWARM"
    assert f"appeal rejected, {bond} to the treasury" in dry and "nothing was sent" in dry
    assert view(cli, rejected) == before
    succeeded(cli(*resolve, "--yes"))
    sid = bytes.fromhex(rejected[2:])
    assert s.get_appeal(sid).state == AppealState.REJECTED and s.slash_state(sid) == SlashState.PENDING
    assert c.token.balance_of(c.treasury) == treasury + s.appeal_params().bond
    refused(cli(*resolve, "--yes"), "no open appeal to resolve", "rejected")

    sent = succeeded(cli("appeal", "resolve", upheld, "--upheld", "--reason", REASON, "--yes"))
    assert f"appeal upheld, {bond} refunded" in sent
    assert s.slash_state(bytes.fromhex(upheld[2:])) == SlashState.VETOED
    index(cli)
    states = {i["id"]: i["state"] for i in json.loads(succeeded(cli("appeal", "list", "--json")))}
    assert states == {rejected: "rejected", upheld: "upheld"}
