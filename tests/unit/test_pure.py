"""Pure modules: verdict signing, Merkle trees, settings, the deployment file (no sockets)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from eth_account import Account
from eth_utils import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from staking.chain.keys import SignerError, load_signer
from staking.config import Settings
from staking.deployment import Deployment
from staking.devnet.accounts import devnet_account
from staking.domain.vocabulary import EventType, Severity
from staking.rewards.merkle import WeightTree, leaf_hash, verify
from staking.verdict import Domain, Verdict, recover_signer, sign_verdict

pytestmark = pytest.mark.unit

DOMAIN = Domain(chain_id=31337, verifying_contract="0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512")


def _verdict(**kw: object) -> Verdict:
    base: dict[str, object] = dict(
        id=keccak(text="v"),
        provider=devnet_account(3).address,
        event_type=EventType.SYSTEM_ATTACK,
        severity=Severity.HIGH,
        detected_at=1_795_000_000,
        evidence_hash=keccak(text="e"),
    )
    base.update(kw)
    return Verdict(**base)  # type: ignore[arg-type]


def test_a_signed_verdict_recovers_to_its_signer() -> None:
    v = _verdict()
    sig = sign_verdict(v, DOMAIN, devnet_account(2).key)
    assert len(sig) == 65
    assert recover_signer(v, DOMAIN, sig) == devnet_account(2).address


@pytest.mark.parametrize(
    "change",
    [
        {"severity": Severity.LOW},
        {"event_type": EventType.POLICY_VIOLATION},
        {"detected_at": 1_795_000_001},
        {"evidence_hash": keccak(text="other")},
        {"provider": devnet_account(4).address},
        {"id": keccak(text="w")},
    ],
)
def test_changing_any_signed_field_changes_the_recovered_signer(change: dict[str, object]) -> None:
    sig = sign_verdict(_verdict(), DOMAIN, devnet_account(2).key)
    assert recover_signer(_verdict(**change), DOMAIN, sig) != devnet_account(2).address


def test_a_signature_from_another_chain_or_contract_recovers_someone_else() -> None:
    sig = sign_verdict(_verdict(), Domain(1, DOMAIN.verifying_contract), devnet_account(2).key)
    assert recover_signer(_verdict(), DOMAIN, sig) != devnet_account(2).address
    other = Domain(31337, devnet_account(5).address)
    sig = sign_verdict(_verdict(), other, devnet_account(2).key)
    assert recover_signer(_verdict(), DOMAIN, sig) != devnet_account(2).address


def test_verdicts_reject_bad_lengths_and_unknown_codes() -> None:
    with pytest.raises(ValueError):
        _verdict(id=b"\x01" * 31)
    with pytest.raises(ValueError):
        _verdict(event_type=6)
    with pytest.raises(ValueError):
        _verdict(severity=4)
    with pytest.raises(ValueError):
        recover_signer(_verdict(), DOMAIN, b"\x00" * 64)


def test_wire_names_round_trip_and_unknown_names_list_the_choices() -> None:
    for e in EventType:
        assert EventType.from_wire(e.wire) is e
    with pytest.raises(ValueError, match="security_breach"):
        EventType.from_wire("meteor_strike")


addresses = st.lists(st.binary(min_size=20, max_size=20), min_size=1, max_size=40, unique=True)


@settings(max_examples=60, deadline=None)
@given(addresses, st.data())
def test_every_account_proof_verifies_against_the_root_and_no_other_weight_does(
    raw: list[bytes], data: st.DataObject
) -> None:
    weights = {"0x" + a.hex(): data.draw(st.integers(1, 10**24)) for a in raw}
    tree = WeightTree.build(weights)
    assert tree.total_weight == sum(weights.values())
    for account, weight in tree.weights.items():
        assert verify(tree.proofs[account], tree.root, account, weight)
        assert not verify(tree.proofs[account], tree.root, account, weight + 1)


def test_tree_root_does_not_depend_on_input_order_and_rejects_zero_weights() -> None:
    accounts = [devnet_account(i).address for i in range(3, 10)]
    a = WeightTree.build({x: i + 1 for i, x in enumerate(accounts)})
    b = WeightTree.build(dict(reversed(list({x: i + 1 for i, x in enumerate(accounts)}.items()))))
    assert a.root == b.root
    with pytest.raises(ValueError):
        WeightTree.build({accounts[0]: 0})
    assert WeightTree.build({}).total_weight == 0
    single = WeightTree.build({accounts[0]: 5})
    assert single.root == leaf_hash(accounts[0], 5) and single.proofs[accounts[0]] == []


def test_loggable_settings_never_contain_the_signer_key(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "0x" + "ab" * 32
    monkeypatch.setenv("SWARM_SIGNER_KEY", secret)
    monkeypatch.setenv("SWARM_RPC_URL", "http://127.0.0.1:9")
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert s.rpc_url == "http://127.0.0.1:9"
    shown = s.loggable()
    assert shown["signer_key"] == "<set>"
    assert secret not in repr(shown) and secret not in repr(s) and secret not in str(s)


def test_a_raw_key_is_refused_off_the_devnet_and_keystores_need_the_right_password(tmp_path: Path) -> None:
    key = "0x" + os.urandom(32).hex()
    assert load_signer(31337, None, None, key).address == Account.from_key(key).address
    with pytest.raises(SignerError, match="devnet"):
        load_signer(1, None, None, key)
    with pytest.raises(SignerError, match="no signer"):
        load_signer(1, None, None, None)
    ks = tmp_path / "k.json"
    ks.write_text(__import__("json").dumps(Account.encrypt(key, "pw", kdf="pbkdf2", iterations=2)))
    pw = tmp_path / "pw"
    pw.write_text("pw\n")
    for secret in (ks, pw):  # secret files must be owner-only (see test_security_keys)
        secret.chmod(0o600)
    assert load_signer(1, ks, pw, None).address == Account.from_key(key).address
    pw.write_text("bad")
    with pytest.raises(SignerError, match="wrong password") as exc:
        load_signer(1, ks, pw, None)
    assert key[2:] not in str(exc.value)


def test_deployment_file_round_trips_and_rejects_unchecksummed_addresses(tmp_path: Path) -> None:
    good = {
        "chain_id": 31337,
        "rpc_url": "http://127.0.0.1:8545",
        "deployed_block": 1,
        "contracts": {"SwarmStaking": devnet_account(3).address, "SwarmToken": devnet_account(4).address},
        "accounts": {
            "governance": devnet_account(0).address,
            "service": devnet_account(1).address,
            "detector": devnet_account(2).address,
            "providers": [devnet_account(5).address],
        },
    }
    d = Deployment.model_validate(good)
    path = tmp_path / "deployments" / "x.json"
    d.save(path)
    assert Deployment.load(path) == d
    bad = dict(good, contracts={"SwarmStaking": devnet_account(3).address.lower(), "SwarmToken": "0x1"})
    with pytest.raises(ValueError):
        Deployment.model_validate(bad)
    with pytest.raises(FileNotFoundError, match="swarm-staking devnet"):
        Deployment.load(tmp_path / "missing.json")
