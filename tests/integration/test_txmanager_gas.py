"""The transaction manager's gas limit survives the state moving between simulation and
inclusion. Seen in `make test`'s chaos smoke trial: two `jailAndProposeSlash` simulated in one
cap bucket (whose counters were already written) were mined in the next one, whose first writes
cost fresh storage slots, and ran out of gas at the simulated estimate plus 25 % (measured here:
an estimate of ~117k, 171k used in the fresh bucket)."""

from __future__ import annotations

import pytest

from staking.chain.rpc import RawRpc
from staking.chain.safe import calldata
from staking.domain.vocabulary import Bps
from staking.txmanager.client import TxClient
from staking.txmanager.states import TxConfig
from tests.support.chain import Chain

pytestmark = pytest.mark.integration

CAP_WINDOW = 3_600  # the devnet's: buckets of 150 s


def combined(chain: Chain, provider: str) -> object:
    v, sig = chain.signed(provider)
    return chain.staking.jail_and_propose_slash(v, sig, 0, Bps(1_000))


def test_a_limit_simulated_in_a_written_bucket_suffices_in_a_fresh_one(chain: Chain) -> None:
    client = TxClient(RawRpc(chain.w3), chain.service, TxConfig())
    # A boundary at least 60 s ahead, so the two earlier blocks still fit before it.
    fresh = chain.bucket_start(CAP_WINDOW, after=chain.now() + 60)
    # Bucket k holds a jail and a slash already: the next call there writes warm slots only.
    chain.tx_ok_at(fresh - 30, combined(chain, chain.providers[0]), chain.service)  # type: ignore[arg-type]
    chain.mine(fresh - 20)
    fn = combined(chain, chain.providers[1])
    (gas,) = client.simulate_many([(chain.staking.address, "0x" + calldata(fn).hex())])  # type: ignore[arg-type]
    assert isinstance(gas, int)
    # …but it is mined in bucket k + 1, whose counters start at zero.
    chain.set_next_timestamp(fresh)
    tx_hash = fn.transact({"from": chain.service, "gas": gas})  # type: ignore[attr-defined]
    receipt = chain.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)
    assert receipt["status"] == 1, f"out of gas: limit {gas}, used {receipt['gasUsed']}"
