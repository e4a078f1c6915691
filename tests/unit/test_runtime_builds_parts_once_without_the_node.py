"""The composition root (`staking.runtime`): one Runtime per process builds each part once, on
first use, and none of them talks to the node — the API and the CLI start while the node is down,
and a command that only reads the database needs no deployment file. The worker's jobs and
executor take the Runtime's clock. Unit tests: the autouse fixture refuses every socket."""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
import typer
from sqlalchemy import select
from typer.testing import CliRunner

from staking.chain.keys import SignerError
from staking.db import schema as t
from staking.db.engine import SchemaOutdated
from staking.db.meta import DRIFT_FIELDS, DRIFT_PROVIDER_COLUMNS
from staking.devnet.accounts import devnet_account
from staking.runtime import build_runtime
from staking.service import open_runtime
from staking.worker import jobs
from staking.worker.drift import PROVIDER_FIELDS
from tests.support.runtime import STAKING_ADDRESS, UNCONTACTED_RPC, devnet_files

pytestmark = pytest.mark.unit

SECRET = "webhook-secret-that-must-not-leak"


def test_every_part_is_built_once_on_first_use_without_contacting_the_node(tmp_path: Path) -> None:
    files = devnet_files(tmp_path)
    rt = build_runtime(files.settings())
    assert not any(rt.built(p) for p in ("deployment", "engine", "w3", "staking", "policy", "signer"))

    assert rt.rpc_url == UNCONTACTED_RPC  # the deployment's, as nothing overrides it
    assert rt.staking.address == STAKING_ADDRESS and rt.staking.w3 is rt.w3
    with rt.engine.connect() as conn:
        assert conn.execute(select(t.meta)).all() == []
    assert rt.policy.rewards is not None
    for part in ("deployment", "engine", "w3", "staking", "policy"):
        assert getattr(rt, part) is getattr(rt, part), part
    # A second Runtime (another process) builds its own.
    assert build_runtime(files.settings()).engine is not rt.engine
    rt.close()
    assert not rt.built("engine")


def test_the_rpc_url_setting_overrides_the_deployments(tmp_path: Path) -> None:
    rt = build_runtime(devnet_files(tmp_path).settings(rpc_url="http://node.internal:8545/key"))
    assert rt.rpc_url == "http://node.internal:8545/key"
    assert rt.w3.provider.endpoint_uri == "http://node.internal:8545/key"  # type: ignore[attr-defined]


def test_a_part_that_fails_is_not_kept_and_fails_again(tmp_path: Path) -> None:
    files = devnet_files(tmp_path)
    rt = build_runtime(files.settings(deployment=tmp_path / "missing.json"))
    assert rt.engine is rt.engine  # the database alone needs no deployment file
    for _ in range(2):
        with pytest.raises(FileNotFoundError, match=r"missing\.json"):
            rt.deployment  # noqa: B018
    assert not rt.built("deployment")

    stale = build_runtime(files.settings(database_url=f"sqlite:///{tmp_path}/empty.db"))
    with pytest.raises(SchemaOutdated):
        stale.engine  # noqa: B018


def test_threads_asking_at_once_get_one_part(tmp_path: Path) -> None:
    rt = build_runtime(devnet_files(tmp_path).settings())
    start = threading.Barrier(8)
    seen: list[object] = []

    def ask() -> None:
        start.wait()
        seen.append(rt.staking)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(seen) == 8 and all(s is seen[0] for s in seen)


def test_the_service_signer_falls_back_to_the_devnet_account_only_on_the_devnet(tmp_path: Path) -> None:
    assert open_runtime(devnet_files(tmp_path).settings()).signer.address == devnet_account(1).address
    # Without the service's fallback, a Runtime with nothing configured has no signer.
    with pytest.raises(SignerError):
        build_runtime(devnet_files(tmp_path / "strict").settings()).signer  # noqa: B018
    testnet = devnet_files(tmp_path / "testnet", chain_id=11155111)
    with pytest.raises(SignerError):
        open_runtime(testnet.settings()).signer  # noqa: B018


def test_webhooks_without_a_secret_are_refused_and_the_secret_never_shows(tmp_path: Path) -> None:
    files = devnet_files(tmp_path)
    with pytest.raises(SignerError, match="SWARM_WEBHOOK_SECRET"):
        build_runtime(files.settings(webhook_urls="http://hooks.internal/x")).webhook_notifier(start=False)
    rt = build_runtime(files.settings(webhook_urls="http://hooks.internal/x", webhook_secret=SECRET))
    notifier = rt.webhook_notifier(start=False)
    assert notifier.urls == ["http://hooks.internal/x"] and notifier.engine is rt.engine
    assert SECRET not in repr(rt) and SECRET not in str(rt.settings.loggable())


def test_the_worker_parts_share_the_runtimes_contract_and_clock(tmp_path: Path) -> None:
    rt = build_runtime(devnet_files(tmp_path).settings(), clock=lambda: 1_700_000_000.25)
    txm = SimpleNamespace()
    context = rt.jobs_context(rt.engine, txm, notify=None)  # type: ignore[arg-type]
    executor = rt.executor(rt.engine, txm)  # type: ignore[arg-type]
    assert context.staking is rt.staking and executor.staking is rt.staking
    assert context.clock is rt.clock and executor.clock is rt.clock
    assert context.rules == rt.policy.rewards
    assert rt.now_ms() == 1_700_000_000_250
    config = rt.lease_config()
    assert (config.seconds, config.poll) == (
        rt.settings.worker_lease_seconds,
        rt.settings.worker_standby_poll_seconds,
    )


def test_a_scheduled_job_is_stamped_by_the_runtimes_clock(tmp_path: Path) -> None:
    """No module state: the entry runs with what its context holds, clock included."""
    times = iter([1_000.0, 1_000.5])
    rt = build_runtime(devnet_files(tmp_path).settings(), clock=lambda: next(times))
    entries = jobs.scheduled_jobs(rt.jobs_context(rt.engine, None))
    assert set(entries) == {"reconcile_epochs", "drift_check"}  # nothing that sends without a signer
    assert entries["reconcile_epochs"]() is True  # nothing indexed yet: it waits, without the node
    with rt.engine.connect() as conn:
        run = conn.execute(select(t.job_runs).where(t.job_runs.c.name == "reconcile_epochs")).one()
    assert (run.last_started_ms, run.last_finished_ms, run.last_status) == (1_000_000, 1_000_500, "ok")
    assert run.last_result == "waiting: the indexer has not recorded the chain yet"


def test_one_cli_command_builds_one_runtime_and_disposes_of_its_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from staking.cli.common import load_settings, open_command_scope, runtime, service_engine

    devnet_files(tmp_path).env(monkeypatch)
    seen: list[object] = []
    cli = typer.Typer()
    cli.callback()(open_command_scope)  # as the `swarm-staking` app's root callback does

    @cli.command()
    def probe() -> None:
        rt = runtime()
        seen.extend([rt, runtime(), load_settings() is rt.settings, service_engine() is rt.engine])

    @cli.command()
    def other() -> None:
        seen.append(runtime())

    for command in ("probe", "other"):
        result = CliRunner().invoke(cli, [command])
        assert result.exit_code == 0, result.output
    rt, again, same_settings, same_engine, second = seen
    assert rt is again and same_settings is True and same_engine is True
    assert second is not rt  # each command its own
    assert not rt.built("engine")  # disposed of when the command ended


def test_the_drift_check_keys_live_beside_their_tables() -> None:
    """The readers (`/readyz`, `/metrics`) and the writer (the drift check) share one definition."""
    assert tuple(PROVIDER_FIELDS) == DRIFT_PROVIDER_COLUMNS
    assert set(DRIFT_FIELDS) >= set(DRIFT_PROVIDER_COLUMNS) | {"registered", "slash_state"}
