"""Fixtures of the unit tests: the intake app in-process over an indexed SQLite file, with no
chain (tests/support/offchain.py)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from staking.db.engine import make_engine, upgrade
from staking.intake.detectors import Detectors
from tests.support.offchain import (
    DETECTOR_ADDRESS,
    DOMAIN,
    OffChainApi,
    OffChainPerformanceApi,
    index_deployment,
    offchain_api,
)


@pytest.fixture(scope="session")
def indexed_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file as the indexer leaves it after the devnet's deployment; each test
    gets its own copy (migrating once is what keeps these tests fast)."""
    path = tmp_path_factory.mktemp("indexed") / "swarm.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    engine = make_engine(url)
    try:
        index_deployment(engine)
        # The intake finds the detector in the index alone (no fallback asked): the row is right.
        assert Detectors(engine, DOMAIN, None).is_detector(DETECTOR_ADDRESS)
    finally:
        engine.dispose()
    return path


@pytest.fixture
def api(indexed_template: Path, tmp_path: Path) -> Iterator[OffChainApi]:
    """The verdict intake app, in-process, over a fresh copy of the indexed database."""
    path = tmp_path / "swarm.db"
    shutil.copy(indexed_template, path)
    with offchain_api(f"sqlite:///{path}") as app:
        yield app


@pytest.fixture
def perf(api: OffChainApi) -> OffChainPerformanceApi:
    """The same app, driven with performance batches."""
    return OffChainPerformanceApi(api.engine, api.intake, api.client, api.on_chain_checks)
