"""Shared fixtures. One Anvil per test session, provisioned like the devnet; every test runs
between `evm_snapshot` and `evm_revert`, so tests never see each other's state."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest

from tests.chain_helpers import Chain


@pytest.fixture(scope="session")
def chain_session() -> Iterator[Chain]:
    from staking.devnet.node import LocalNode
    from staking.devnet.provision import provision_devnet

    with LocalNode.start("anvil") as node:
        deployment = provision_devnet(node.w3, node.rpc_url)
        yield Chain(node.w3, deployment)


@pytest.fixture
def chain(chain_session: Chain) -> Iterator[Chain]:
    snapshot = chain_session.rpc("evm_snapshot")
    try:
        yield chain_session
    finally:
        assert chain_session.rpc("evm_revert", snapshot) is True


@pytest.fixture(autouse=True)
def _no_sockets_in_unit_tests(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Unit tests must not touch the network: connecting anywhere fails loudly."""
    if request.node.get_closest_marker("unit") is None:
        return

    def refuse(*args: object, **kwargs: object) -> None:
        raise RuntimeError("unit tests may not open sockets")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Tests that use the chain are integration tests unless they say otherwise.
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if "chain" in fixtures and not any(item.iter_markers(name=m) for m in ("integration", "e2e")):
            item.add_marker(pytest.mark.integration)


os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", os.path.join("var", "hypothesis"))
