"""Shared fixtures. One Anvil per test session, provisioned like the devnet; every test runs
between `evm_snapshot` and `evm_revert`, so tests never see each other's state."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator

import pytest

from tests.support.chain import Chain

# Every test carries the marker of its folder (tests/support/markers.py); pytester tests that rule.
pytest_plugins = ["tests.support.markers", "tests.support.ordering", "pytester"]


@pytest.fixture(scope="session")
def chain_session() -> Iterator[Chain]:
    from staking.devnet.node import LocalNode
    from staking.devnet.provision import provision_devnet

    with LocalNode.start("anvil") as node:
        deployment = provision_devnet(node.w3, node.rpc_url)
        yield Chain(node.w3, deployment)


@pytest.fixture
def chain(chain_session: Chain) -> Iterator[Chain]:
    with chain_session.reverted() as chain:
        yield chain


@pytest.fixture(scope="session")
def safe_chain_session() -> Iterator[Chain]:
    """A second Anvil, provisioned in the Safe shape (SPEC section 9): the timelock and two Safes."""
    from staking.devnet.node import LocalNode
    from staking.devnet.provision import provision_devnet

    with LocalNode.start("anvil") as node:
        yield Chain(node.w3, provision_devnet(node.w3, node.rpc_url, governance="safe"))


@pytest.fixture
def safe_chain(safe_chain_session: Chain) -> Iterator[Chain]:
    with safe_chain_session.reverted() as chain:
        yield chain


@pytest.fixture(autouse=True)
def _no_sockets_in_unit_tests(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Unit tests must not touch the network: connecting anywhere fails loudly."""
    if request.node.get_closest_marker("unit") is None:
        return

    def refuse(*args: object, **kwargs: object) -> None:
        raise RuntimeError("unit tests may not open sockets")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)


os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", os.path.join("var", "hypothesis"))


# ---- databases: every test that takes `db_url` runs on SQLite and on PostgreSQL

PG_ADMIN_URL = os.environ.get("SWARM_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _pg_available() -> str | None:
    """None if PostgreSQL answers, else why not."""
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return None
    except Exception as exc:
        return f"PostgreSQL at {PG_ADMIN_URL} unreachable: {type(exc).__name__}"


_PG_MISSING = _pg_available()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh, migrated database URL (SQLite file, or a new PostgreSQL database dropped afterwards)."""
    from staking.db.engine import upgrade

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db')}/swarm.db"
        upgrade(url)
        yield url
        return
    require_pg()
    with fresh_pg_database() as url:
        yield url


def require_pg() -> None:
    """Skip the test without PostgreSQL (fail it when SWARM_REQUIRE_PG is set, as in CI)."""
    if _PG_MISSING:
        if os.environ.get("SWARM_REQUIRE_PG"):
            pytest.fail(_PG_MISSING)
        pytest.skip(_PG_MISSING)


@contextlib.contextmanager
def fresh_pg_database() -> Iterator[str]:
    """A new, migrated PostgreSQL database's URL; dropped afterwards."""
    import uuid

    import psycopg

    from staking.db.engine import upgrade

    name = f"swarm_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database, dropped afterwards (skipped without PostgreSQL)."""
    require_pg()
    with fresh_pg_database() as url:
        yield url
