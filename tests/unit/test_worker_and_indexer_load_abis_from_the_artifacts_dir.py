"""SWARM_ARTIFACTS_DIR is honoured by every role, not only the API: the worker's contract (and so
its executor and jobs), the indexer of `serve --role indexer` and of `swarm-staking index` decode
and call with the ABI found there. The copied artifact carries one extra event, so which ABI a
part holds shows in what it can decode. Unit tests: no node, no sockets."""

from __future__ import annotations

import json
import re
import shutil
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from eth_utils import keccak

from staking.chain.artifacts import DEFAULT_ARTIFACTS, ArtifactMissing
from staking.config import Settings
from staking.runtime import Runtime
from staking.service import indexer_loop, open_runtime, worker_loop
from tests.support.runtime import Files, devnet_files

pytestmark = pytest.mark.unit

MARKER = {
    "type": "event",
    "name": "ArtifactsDirMarker",
    "anonymous": False,
    "inputs": [{"name": "marker", "type": "uint256", "indexed": False, "internalType": "uint256"}],
}
MARKER_TOPIC = "0x" + keccak(text="ArtifactsDirMarker(uint256)").hex()


def marked_artifacts(tmp_path: Path) -> Path:
    """A copy of the build's SwarmStaking artifact whose ABI has one more event."""
    relative = Path("contracts") / "SwarmStaking.sol" / "SwarmStaking.json"
    target = tmp_path / "elsewhere" / "artifacts"
    (target / relative).parent.mkdir(parents=True)
    data = json.loads((DEFAULT_ARTIFACTS / relative).read_text())
    data["abi"].append(MARKER)
    (target / relative).write_text(json.dumps(data))
    shutil.copytree(
        DEFAULT_ARTIFACTS / "contracts" / "SwarmToken.sol", target / "contracts" / "SwarmToken.sol"
    )
    return target


def has_marker(abi: list[dict[str, Any]]) -> bool:
    return any(item.get("name") == MARKER["name"] for item in abi)


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Files:
    files = devnet_files(tmp_path)
    files.env(monkeypatch)
    monkeypatch.setenv("SWARM_ARTIFACTS_DIR", str(marked_artifacts(tmp_path)))
    return files


def test_the_services_contract_comes_from_the_configured_artifacts(files: Files) -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.artifacts_dir == files.deployment.parent.parent / "elsewhere" / "artifacts"
    rt = open_runtime(settings)
    assert has_marker(rt.staking.abi)
    assert not has_marker(Runtime(Settings(_env_file=None, artifacts_dir=DEFAULT_ARTIFACTS)).staking.abi)  # type: ignore[call-arg]


def test_a_missing_artifacts_dir_is_named_at_start_up(files: Files, tmp_path: Path) -> None:
    empty = tmp_path / "no-build"
    with pytest.raises(ArtifactMissing, match=re.escape(str(empty))):
        open_runtime(files.settings(artifacts_dir=empty))


def test_the_worker_runs_its_executor_and_jobs_with_the_configured_abi(
    files: Files, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = open_runtime(Settings(_env_file=None))  # type: ignore[call-arg]
    stop = threading.Event()
    built: dict[str, Any] = {}
    real_jobs_context, real_executor = rt.jobs_context, rt.executor

    def jobs_context(*args: Any, **kwargs: Any) -> Any:
        built["jobs"] = real_jobs_context(*args, **kwargs)
        return built["jobs"]

    def executor(*args: Any, **kwargs: Any) -> Any:
        built["executor"] = real_executor(*args, **kwargs)
        return SimpleNamespace(run=lambda lead_stop: stop.set())  # one term, then stop

    # The transaction manager reads the chain id from the node: a stand-in for this term.
    monkeypatch.setattr(
        rt, "tx_manager", lambda engine, fence, outbox=None: SimpleNamespace(reconcile=lambda: None)
    )
    monkeypatch.setattr(rt, "jobs_context", jobs_context)
    monkeypatch.setattr(rt, "executor", executor)
    worker_loop(rt, stop)
    assert built["executor"].staking is rt.staking and built["jobs"].staking is rt.staking
    assert has_marker(built["executor"].staking.abi)


def test_the_indexer_role_decodes_with_the_configured_abi(
    files: Files, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = open_runtime(Settings(_env_file=None))  # type: ignore[call-arg]
    stop = threading.Event()
    built: list[Any] = []
    real_indexer = rt.indexer

    def indexer(*args: Any, **kwargs: Any) -> Any:
        built.append(real_indexer(*args, **kwargs))
        return SimpleNamespace(run=lambda lead_stop: stop.set())

    monkeypatch.setattr(rt, "indexer", indexer)
    indexer_loop(rt, stop)
    assert built[0].staking is rt.staking
    assert built[0].decoder.specs[MARKER_TOPIC].name == "ArtifactsDirMarker"


def test_the_index_command_decodes_with_the_configured_abi(files: Files) -> None:
    from staking.cli.service import _open_indexer

    engine, indexer = _open_indexer(progress=False)
    assert MARKER_TOPIC in indexer.decoder.specs
    engine.dispose()
