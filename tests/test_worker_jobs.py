"""Scheduled jobs: matured slashes are executed once, vetoed and immature ones never."""

from __future__ import annotations

import pytest

from indexer.runner import Indexer
from staking.db.engine import make_engine
from staking.devnet.accounts import devnet_account
from staking.txmanager.manager import TxConfig, TxManager
from staking.worker.jobs import execute_matured_slashes
from tests.chain_helpers import Chain

pytestmark = pytest.mark.integration


def test_matured_slashes_are_executed_once_and_vetoed_or_immature_ones_never(
    db_url: str, chain: Chain
) -> None:
    engine = make_engine(db_url)
    s = chain.staking
    matured, vetoed, young = (chain.signed(chain.providers[i]) for i in (0, 1, 2))
    for v, sig in (matured, vetoed):
        chain.tx(s.propose_slash(v, sig, 1000), chain.service)
    chain.tx(s.veto_slash(vetoed[0].id, b"\x01" * 32), chain.governance)
    chain.advance(s.veto_window() + 1)
    chain.tx(s.propose_slash(young[0], young[1], 1000), chain.service)  # window still open
    Indexer(engine, chain.w3, chain.deployment).run(exit_at_head=True)

    txm = TxManager(engine, chain.w3, devnet_account(1), TxConfig(), error_name=s.error_name)
    txm.reconcile()
    assert execute_matured_slashes(engine, s, txm) == 1
    txm.tick()
    assert s.slash_state(matured[0].id) == 3
    assert s.slash_state(vetoed[0].id) == 2 and s.slash_state(young[0].id) == 1
    # Running again before the indexer saw the execution submits nothing new (one intent per slash).
    assert execute_matured_slashes(engine, s, txm) == 0
