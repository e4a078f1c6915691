"""Faults around the indexer: killed mid-backfill, a second writer, another chain, the node going away,
and a node refusing large log ranges. Every wait here has a deadline."""

from __future__ import annotations

import contextlib
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from web3 import Web3

from indexer.runner import Indexer, IndexerConfig
from indexer.source import ChainSource, RangeTooLarge
from indexer.store import ChainMismatch
from staking.chain.connect import connect
from staking.config import REPO_ROOT
from staking.db import schema as t
from staking.db.engine import make_engine
from staking.db.lock import WriterBusy, single_writer
from staking.deployment import Deployment
from staking.devnet.node import LocalNode, free_port
from staking.devnet.provision import provision_devnet
from staking.domain.errors import NodeUnreachable
from tests.support.actors import Actor
from tests.support.chain import Chain
from tests.support.indexing import dump_tables, index_to_head, make_indexer, read_meta
from tests.support.processes import anvil_from_state, cli_env, dump_provisioned_state, fresh_database
from tests.support.views import assert_projection_matches_chain

pytestmark = pytest.mark.integration

CLI = str(Path(sys.executable).parent / "swarm-staking")
SMALL_PAGES = IndexerConfig(initial_span=5, max_span=5)

# The indexer with 5-block pages, as its own process (the CLI has no setting for the page size).
CHILD = """
import sys
from pathlib import Path
from indexer.runner import Indexer, IndexerConfig
from staking.chain.connect import connect
from staking.db import schema as t
from staking.db.engine import make_engine
from staking.db.lock import single_writer
from staking.deployment import Deployment

db_url, deployment, rpc_url = sys.argv[1:4]
engine = make_engine(db_url)
indexer = Indexer(engine, connect(rpc_url), Deployment.load(Path(deployment)),
                  IndexerConfig(initial_span=5, max_span=5))
with single_writer(engine, "indexer", wait=10):
    indexer.run(exit_at_head=True)
"""


def wait_for(condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def run_cli(args: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args], env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )


def error_lines(stderr: str) -> list[str]:
    """stderr without the JSON log lines: what the user reads as the error."""
    return [line for line in stderr.splitlines() if line.strip() and not line.startswith("{")]


def assert_refused(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    """A non-zero exit with an error message (containing `fragments`) and no traceback."""
    assert result.returncode != 0, f"expected a failure, got exit 0: {result.stdout}"
    assert "Traceback" not in result.stderr, result.stderr
    text = " ".join(line.strip() for line in error_lines(result.stderr))
    for fragment in fragments:
        assert fragment in text, f"{fragment!r} not in the error: {result.stderr!r}"


def assert_one_line(result: subprocess.CompletedProcess[str]) -> None:
    """The CLI promises errors as one line on stderr (also when it is not a terminal)."""
    lines = error_lines(result.stderr)
    assert len(lines) == 1, f"the error is not one line but {len(lines)}: {result.stderr!r}"


@pytest.fixture
def deployment_file(chain: Chain, tmp_path: Path) -> Path:
    path = tmp_path / "deployment.json"
    chain.deployment.save(path)
    return path


# ---------------------------------------------------------------------------------- kill -9


def many_events(chain: Chain, blocks: int, per_provider: int) -> None:
    """`blocks` blocks of `per_provider` stake(1) transactions from each demo provider (interval
    mining off, explicit nonces, one JSON-RPC batch per block)."""
    Actor(chain, random.Random(0)).run(0)  # allowances
    stake = chain.staking.stake(1)._encode_transaction_data()
    nonces = {p: int(chain.rpc("eth_getTransactionCount", p, "pending"), 16) for p in chain.providers}
    chain.rpc("evm_setAutomine", False)
    try:
        for _ in range(blocks):
            batch = []
            for p in chain.providers:
                for _ in range(per_provider):
                    tx = {"from": p, "to": chain.staking.address, "data": stake, "gas": hex(150_000),
                          "nonce": hex(nonces[p])}  # fmt: skip
                    nonces[p] += 1
                    batch.append(("eth_sendTransaction", [tx]))
            responses: Any = chain.w3.provider.make_batch_request(batch)  # type: ignore[attr-defined]
            assert all("error" not in r for r in responses), responses
            chain.rpc("evm_mine")
    finally:
        chain.rpc("evm_setAutomine", True)
    assert chain.rpc("txpool_status")["pending"] == "0x0"


def checkpoint_passed(engine: Engine, block: int, child: subprocess.Popen[bytes]) -> bool:
    if child.poll() is not None:  # ended on its own: fail now rather than at the deadline
        stderr = child.stderr.read().decode(errors="replace")[-2000:] if child.stderr else ""
        raise AssertionError(f"the indexer process exited with {child.returncode} before the kill: {stderr}")
    with engine.connect() as conn:
        value = conn.execute(select(t.meta.c.value).where(t.meta.c.key == "checkpoint_block")).scalar()
    return value is not None and int(value) >= block


def test_indexer_killed_mid_backfill_resumes_to_the_same_database(
    chain: Chain, db_url: str, deployment_file: Path, tmp_path: Path
) -> None:
    Actor(chain, random.Random(8)).run(15)
    many_events(chain, blocks=120, per_provider=3)
    head = chain.w3.eth.block_number
    start = chain.deployment.deployed_block
    index_to_head(db_url, chain, SMALL_PAGES)  # the uninterrupted run
    reference = dump_tables(db_url)
    assert len(reference["events"]) > 2_500
    assert_projection_matches_chain(db_url, chain)

    # Three trials at once (each its own database and kill point), so the children's start-up
    # (importing web3 takes ~2 s) is paid once.
    rng = random.Random(20240601)
    with contextlib.ExitStack() as stack:
        urls = [stack.enter_context(fresh_database(db_url, tmp_path)) for _ in range(3)]
        targets = [start + int((head - start) * rng.uniform(0.1, 0.8)) for _ in urls]
        delays = [rng.uniform(0, 0.03) for _ in urls]
        children = [
            subprocess.Popen(
                [sys.executable, "-c", CHILD, url, str(deployment_file), chain.deployment.rpc_url],
                cwd=REPO_ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            for url in urls
        ]
        engines = [make_engine(url) for url in urls]
        try:
            deadline = time.monotonic() + 90
            while any(c.returncode is None for c in children):
                assert time.monotonic() < deadline, "timed out waiting for the kill points"
                for child, engine, target, delay in zip(children, engines, targets, delays, strict=True):
                    if child.returncode is None and checkpoint_passed(engine, target, child):
                        time.sleep(delay)
                        child.send_signal(signal.SIGKILL)
                        child.wait(timeout=10)
                time.sleep(0.01)
        finally:
            for child in children:
                if child.poll() is None:
                    child.kill()
                    child.wait(timeout=10)
            for engine in engines:
                engine.dispose()

        for trial, (child, url) in enumerate(zip(children, urls, strict=True)):
            assert child.returncode == -signal.SIGKILL, f"trial {trial}: child ended by itself first"
            killed_at = int(read_meta(url)["checkpoint_block"])
            assert start <= killed_at < head, f"trial {trial}: the kill came after the backfill finished"
            indexer = make_indexer(url, chain, SMALL_PAGES)
            with single_writer(indexer.store.engine, "indexer", wait=10):  # the kill released the lock
                index_to_head(url, chain, indexer=indexer)
            resumed = dump_tables(url)
            for table, rows in reference.items():
                assert resumed[table] == rows, f"trial {trial} (killed at block {killed_at}): {table} differs"


# ---------------------------------------------------------------------------------- one writer


def test_second_writer_on_the_same_database_is_refused(chain: Chain, db_url: str) -> None:
    first, second = make_engine(db_url), make_engine(db_url)
    with single_writer(first, "indexer"):
        with pytest.raises(WriterBusy, match="only one may run"), single_writer(second, "indexer"):
            pass
        t0 = time.monotonic()
        with pytest.raises(WriterBusy), single_writer(second, "indexer", wait=1.0):
            pass
        assert 0.9 <= time.monotonic() - t0 < 5
    with single_writer(second, "indexer"):  # free again once the holder is gone
        pass


def test_cli_index_refuses_to_run_while_another_indexer_holds_the_database(
    chain: Chain, db_url: str, deployment_file: Path
) -> None:
    env = cli_env(db_url, deployment_file, chain.deployment.rpc_url)
    holder = make_engine(db_url)
    with single_writer(holder, "indexer"):
        busy = run_cli(["index"], env)
    assert_refused(busy, "only one may run")
    assert "checkpoint_block" not in read_meta(db_url), "the refused indexer wrote to the database"

    done = run_cli(["index"], env)
    assert done.returncode == 0, done.stderr
    assert_projection_matches_chain(db_url, chain)
    assert_one_line(busy)


# ---------------------------------------------------------------------------------- another chain


@pytest.fixture
def other_chain(tmp_path: Path) -> Iterator[tuple[Chain, Path]]:
    """A second provisioned Anvil (same addresses, another genesis) and its deployment file."""
    with LocalNode.start("anvil") as node:
        deployment = provision_devnet(node.w3, node.rpc_url)
        path = tmp_path / "other-deployment.json"
        deployment.save(path)
        yield Chain(node.w3, deployment), path


def test_database_from_another_chain_is_refused_until_reset(
    chain: Chain, db_url: str, other_chain: tuple[Chain, Path]
) -> None:
    other, other_file = other_chain
    index_to_head(db_url, chain)
    assert other.staking.address == chain.staking.address
    assert other.w3.eth.get_block(0)["hash"] != chain.w3.eth.get_block(0)["hash"]

    indexer = Indexer(make_engine(db_url), other.w3, other.deployment)
    with pytest.raises(ChainMismatch, match="genesis_hash") as refused:
        indexer.step()
    assert "swarm-staking db reset --yes" in str(refused.value)

    env = cli_env(db_url, other_file, other.deployment.rpc_url)
    refused_cli = run_cli(["index"], env)
    assert_refused(refused_cli, "genesis_hash", "swarm-staking db reset --yes")
    reset = run_cli(["db", "reset", "--yes"], env)
    assert reset.returncode == 0, reset.stderr
    Actor(other, random.Random(2)).run(5)
    done = run_cli(["index"], env)
    assert done.returncode == 0, done.stderr
    assert_projection_matches_chain(db_url, other)
    assert_one_line(refused_cli)


def test_cli_index_with_a_deployment_whose_contract_is_missing_fails_with_one_line(
    chain: Chain, db_url: str, tmp_path: Path
) -> None:
    wrong = chain.deployment.model_copy(deep=True)
    wrong.contracts.SwarmStaking = chain.stranger  # an address without code
    path = tmp_path / "wrong.json"
    wrong.save(path)
    result = run_cli(["index"], cli_env(db_url, path, chain.deployment.rpc_url))
    assert_refused(result, chain.stranger)
    assert_one_line(result)


# ---------------------------------------------------------------------------------- node down


@pytest.fixture(scope="module")
def provisioned_state(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Deployment]:
    """A provisioned devnet's state file, so that a node can appear on a port already provisioned
    (a node that is up before its contracts are deployed is another fault, not this test's)."""
    path = tmp_path_factory.mktemp("state") / "state.json"
    return path, dump_provisioned_state(path)


def test_indexer_survives_the_node_being_down_and_resumes_when_it_appears(
    db_url: str, provisioned_state: tuple[Path, Deployment]
) -> None:
    state, deployment = provisioned_state
    port = free_port()
    config = IndexerConfig(poll_interval=0.1, max_backoff=0.5)
    indexer = Indexer(make_engine(db_url), connect(f"http://127.0.0.1:{port}", timeout=2), deployment, config)
    with pytest.raises(NodeUnreachable):
        indexer.step()

    stop = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            indexer.run(stop)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    try:
        wait_for(lambda: indexer.status.last_error is not None, 10, "the loop to report the outage")
        assert indexer.status.rpc_ok is False
        time.sleep(1.0)  # a few retries while the node stays away
        assert worker.is_alive() and not errors, errors
        assert indexer.status.rpc_ok is False and indexer.status.last_error

        with anvil_from_state(state, port) as (w3, _):
            head = w3.eth.block_number

            def at_head() -> bool:
                return (indexer.status.caught_up and indexer.status.indexed == head) or bool(errors)

            wait_for(at_head, 30, "the indexer to reach the head")
            assert not errors, errors
            assert indexer.status.rpc_ok and indexer.status.last_error is None
            assert_projection_matches_chain(db_url, Chain(w3, deployment))
    finally:
        stop.set()
        worker.join(timeout=10)
    assert not worker.is_alive()


# ---------------------------------------------------------------------------------- log ranges


class SmallRangesOnly(ChainSource):
    """A node that refuses eth_getLogs over more than 8 blocks (a hosted provider's limit)."""

    def __init__(self, w3: Web3, address: str) -> None:
        super().__init__(w3, address)
        self.refused = 0
        self.widest = 0

    def logs(self, from_block: int, to_block: int) -> list[dict[str, Any]]:
        if to_block - from_block > 7:
            self.refused += 1
            raise RangeTooLarge("query exceeds max block range 8")
        self.widest = max(self.widest, to_block - from_block + 1)
        return super().logs(from_block, to_block)


def test_indexer_shrinks_its_log_range_when_the_node_refuses_large_ones(chain: Chain, db_url: str) -> None:
    Actor(chain, random.Random(12)).run(25)
    indexer = make_indexer(db_url, chain)
    source = SmallRangesOnly(chain.w3, chain.staking.address)
    indexer.source = source
    index_to_head(db_url, chain, indexer=indexer)
    assert source.refused > 0
    assert indexer.span < IndexerConfig().initial_span and indexer.span <= 16
    assert source.widest == 8
    assert_projection_matches_chain(db_url, chain)


@pytest.mark.integration
def test_indexer_rides_out_a_database_outage_instead_of_exiting(chain: Chain, db_url: str) -> None:
    # A restarted database fails the batch in flight (one transaction: nothing half-written); the
    # indexer retries with backoff instead of ending the process, and catches up once it answers.
    from sqlalchemy.exc import OperationalError

    indexer = make_indexer(db_url, chain)
    real = indexer.store.apply_batch
    failures = [0]

    def apply_batch(*args: Any, **kwargs: Any) -> None:
        if failures[0] < 2:
            failures[0] += 1
            raise OperationalError("INSERT …", {}, Exception("server closed the connection unexpectedly"))
        real(*args, **kwargs)

    indexer.store.apply_batch = apply_batch  # type: ignore[method-assign]
    stop = threading.Event()
    runner = threading.Thread(target=indexer.run, args=(stop,), daemon=True)
    runner.start()
    try:
        head = chain.w3.eth.block_number
        deadline = time.monotonic() + 30
        while (indexer.status.indexed or 0) < head:
            assert runner.is_alive(), "the indexer stopped on a database error"
            assert time.monotonic() < deadline, indexer.status
            time.sleep(0.1)
    finally:
        stop.set()
        runner.join(10)
    assert failures[0] == 2 and indexer.status.last_error is None
