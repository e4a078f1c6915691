"""The indexer's log decoder agrees with web3's `process_log` on every SwarmStaking event."""

from __future__ import annotations

from typing import Any

import pytest
from hexbytes import HexBytes

from indexer.decoder import EventDecoder
from staking.rewards.merkle import WeightTree
from tests.support.chain import Chain

pytestmark = pytest.mark.integration


def _normalize(value: Any) -> Any:
    if isinstance(value, bytes | HexBytes):
        return "0x" + bytes(value).hex()
    if isinstance(value, list | tuple):  # address[] of SlashCoSigned, uint16[4] of SeverityBoundsSet
        return [_normalize(v) for v in value]
    return value


def _exercise_every_event(chain: Chain) -> None:
    s, gov, svc = chain.staking, chain.governance, chain.service
    p0, p1, p2 = chain.providers[:3]
    newcomer = chain.account(16).address
    chain.tx(chain.token.transfer(newcomer, 10**21), gov)
    chain.tx(
        s.register(2, 0, "ipfs://a-much-longer-metadata-uri-that-spans-more-than-one-abi-word/xyz"), newcomer
    )
    chain.approve_and_stake(newcomer, 10**20)
    chain.tx(s.request_unbond(10**19), newcomer)
    chain.advance(2 * 24 * 3600)
    chain.tx(s.withdraw(10**18), newcomer)
    v, sig = chain.signed(p0)
    chain.tx(s.jail(v, sig, chain.now() + 3600), svc)
    chain.advance(3601)
    chain.tx(s.unjail(), p0)
    v1, sig1 = chain.signed(p1)
    chain.tx(s.propose_slash(v1, sig1, 500), svc)
    chain.tx(s.veto_slash(v1.id, b"\x07" * 32), gov)
    v2, sig2 = chain.signed(p1)
    chain.tx(s.propose_slash(v2, sig2, 700), svc)
    chain.advance(s.veto_window() + 1)
    chain.tx(s.execute_slash(v2.id), chain.stranger)
    chain.tx(s.begin_recovery(p2, 2), gov)
    chain.tx(s.advance_recovery(p2), gov)
    chain.tx(s.advance_recovery(p2), gov)
    chain.tx(s.reinstate(p2), gov)
    chain.tx(s.tombstone(chain.providers[3], b"\x09" * 32), gov)
    chain.tx(s.release_tombstoned(chain.providers[3]), gov)
    v3, sig3 = chain.signed(p0)
    chain.tx(s.jail(v3, sig3, 0), svc)
    chain.tx(s.lift_jails([p0], b"\x0a" * 32), gov)
    v4, sig4 = chain.signed(p0)
    chain.tx(s.propose_slash_quorum(v4, [sig4], 500), svc)  # SlashCoSigned, one signer
    bonds = 2 * s.appeal_params().bond
    chain.tx(chain.token.transfer(p0, bonds), gov)
    chain.tx(chain.token.approve(s.address, bonds), p0)
    chain.tx(s.appeal_slash(v4.id, b"\x0b" * 32), p0)  # SlashAppealed
    chain.tx(s.resolve_appeal(v4.id, False, b"\x0c" * 32), gov)  # AppealResolved
    v5, sig5 = chain.signed(p0)
    chain.tx(s.propose_slash(v5, sig5, 500), svc)
    chain.tx(s.appeal_slash(v5.id, b"\x0d" * 32), p0)
    chain.advance(s.appeal_params().timeout)
    chain.tx(s.execute_slash(v5.id), chain.stranger)  # AppealExpired
    epoch = s.current_epoch()
    chain.tx(chain.token.approve(s.address, 10**21), gov)
    chain.tx(s.fund_rewards(epoch, 10**21), gov)
    chain.advance(600)
    tree = WeightTree.build({p0: 3, p1: 5})
    chain.tx(s.publish_eligibility(epoch, tree.root, tree.total_weight, "ipfs://epoch"), svc)
    chain.tx(s.claim(epoch, 3, tree.proofs[p0]), p0)
    chain.tx(s.set_reward_challenge_delay(3600), gov)  # RewardChallengeDelaySet
    later = s.current_epoch()
    chain.tx(chain.token.approve(s.address, 10**18), gov)
    chain.tx(s.fund_rewards(later, 10**18), gov)
    chain.advance(600)
    chain.tx(s.publish_eligibility(later, tree.root, tree.total_weight, "ipfs://wrong"), svc)
    chain.tx(s.revoke_eligibility(later, b"\x0e" * 32), gov)  # EligibilityRevoked
    chain.advance(s.contract.functions.REWARD_CLAIM_PERIOD().call())
    chain.tx(s.sweep_epoch(epoch), gov)  # RewardsSwept: p1 never claimed
    chain.tx(chain.token.transfer(s.address, 10**18), gov)
    chain.tx(s.sweep_excess(), gov)  # ExcessSwept
    f = s.contract.functions
    chain.tx(f.beginDefaultAdminTransfer(newcomer), gov)  # DefaultAdminTransferScheduled
    chain.tx(f.cancelDefaultAdminTransfer(), gov)  # DefaultAdminTransferCanceled
    chain.tx(f.changeDefaultAdminDelay(100), gov)  # DefaultAdminDelayChangeScheduled
    chain.tx(f.rollbackDefaultAdminDelay(), gov)  # DefaultAdminDelayChangeCanceled
    for fn in (
        s.contract.functions.setVetoWindow(300),
        s.contract.functions.setMaxVerdictAge(600),
        s.contract.functions.setMaxJailDuration(7200),
        s.contract.functions.setProbationEpochs(2),
        s.contract.functions.setTreasury(chain.account(17).address),
        s.contract.functions.setClassParams(2, 10**20, 0, 600 + 3600),  # maxVerdictAge + margin
        s.set_severity_bounds((100, 200, 300, 400)),
        s.set_caps(7 * 24 * 3600, 100, 1_000, 4_000),
        s.set_quorum(3, 200),
        s.pause(),
        s.unpause(),
        s.grant_role("DETECTOR_ROLE", newcomer),
        s.revoke_role("DETECTOR_ROLE", newcomer),
    ):
        chain.tx(fn, gov)


def test_decoder_matches_web3_process_log_for_every_event_type(chain: Chain) -> None:
    _exercise_every_event(chain)
    raw = chain.rpc(
        "eth_getLogs", {"address": chain.staking.address, "fromBlock": "0x0", "toBlock": "latest"}
    )
    decoder = EventDecoder(chain.staking.abi)
    by_name = {e.name: e for e in chain.staking.contract.events}  # type: ignore[attr-defined]
    seen = set()
    for log in raw:
        ours = decoder.decode(log)
        assert ours is not None
        web3_log = chain.w3.eth.get_logs({"blockHash": log["blockHash"], "address": chain.staking.address})
        theirs = next(x for x in web3_log if x["logIndex"] == int(log["logIndex"], 16))
        decoded = by_name[ours.name]().process_log(theirs)
        assert ours.args == {k: _normalize(v) for k, v in decoded["args"].items()}, ours.name
        assert ours.block_number == decoded["blockNumber"] and ours.log_index == decoded["logIndex"]
        assert ours.block_time is not None
        seen.add(ours.name)
    declared = {i["name"] for i in chain.staking.abi if i["type"] == "event"}
    assert declared - seen <= {"RoleAdminChanged", "EIP712DomainChanged"}, f"not exercised: {declared - seen}"


def test_logs_of_other_contracts_are_ignored_not_fatal(chain: Chain) -> None:
    decoder = EventDecoder(chain.staking.abi)
    transfer = {
        "topics": ["0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"],
        "data": "0x",
    }
    assert decoder.decode(transfer) is None
