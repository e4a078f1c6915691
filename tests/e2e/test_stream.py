"""`GET /v1/stream` (SPEC section 10) from real `serve` processes on Anvil: a verdict's jail reaches
a subscriber as a `jailed` event from the real indexer; a subscriber that reconnects with
`Last-Event-ID` gets every later event exactly once, also from another replica after the first
one was killed; the filters select by provider and kind; bad filters are 422 problems."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from staking.db.engine import make_engine
from staking.db.stream import append
from staking.devnet.harness import LocalDeployment, ServiceProcess, local_deployment
from tests.support.live_service import post_breach

pytestmark = pytest.mark.e2e

A = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
B = "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65"


def read(base: str, count: int, timeout: float = 30, **params: Any) -> list[dict[str, Any]]:
    """The next `count` events of the stream (then the connection is closed)."""
    headers = {}
    if "last_event_id" in params:
        headers["Last-Event-ID"] = str(params.pop("last_event_id"))
    out: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    with httpx.stream("GET", f"{base}/v1/stream", params=params, headers=headers, timeout=20) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        event: dict[str, Any] = {}
        for line in r.iter_lines():
            if line.startswith("id: "):
                event["id"] = int(line[4:])
            elif line.startswith("event: "):
                event["event"] = line[7:]
            elif line.startswith("data: "):
                event["data"] = json.loads(line[6:])
            elif line == "" and "data" in event:
                assert event["data"]["id"] == event["id"] and event["data"]["kind"] == event["event"]
                out.append(event["data"])
                event = {}
                if len(out) == count:
                    return out
            assert time.monotonic() < deadline, f"only {len(out)} of {count} events in {timeout} s"
    raise AssertionError(f"the stream ended after {len(out)} of {count} events")


@pytest.fixture
def net(tmp_path: Path) -> Iterator[LocalDeployment]:
    with local_deployment(tmp_path, block_time=0) as n:
        yield n


def test_a_jail_reaches_a_subscriber_as_a_jailed_event(net: LocalDeployment, tmp_path: Path) -> None:
    service = ServiceProcess(net, tmp_path, f"sqlite:///{tmp_path}/svc.db")
    service.upgrade_db()
    service.start()
    try:
        provider = net.providers[0]
        v = post_breach(net, service.base_url, provider, "stream")
        (jailed,) = read(service.base_url, 1, 60, provider=provider, kinds="jailed", after=0)
        assert jailed["provider"] == provider and jailed["event"] == "Jailed"
        assert isinstance(jailed["block"], int) and jailed["args"]["verdictId"] == "0x" + v.id.hex()
        assert net.staking.is_jailed(provider)
    finally:
        service.stop()


def test_the_stream_resumes_without_gaps_across_reconnects_and_a_replica_restart(
    net: LocalDeployment, tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path}/replicas.db"
    first = ServiceProcess(net, tmp_path, db, role="api")
    first.upgrade_db()
    engine = make_engine(db)

    def emit(n: int, provider: str = A, kind: str = "jailed") -> None:
        with engine.begin() as conn:  # as the indexer does, in its own transaction
            for _ in range(n):
                append(conn, kind, {"event": "Jailed", "args": {}}, int(time.time() * 1000), provider, 7)

    try:
        emit(3)
        first.start()
        seen = read(first.base_url, 2, last_event_id=0)
        assert [e["id"] for e in seen] == [1, 2]
        emit(2)
        again = read(first.base_url, 3, last_event_id=seen[-1]["id"])  # a reconnect
        assert [e["id"] for e in again] == [3, 4, 5]
        first.kill()  # the replica dies; events keep coming
        emit(2)
        second = ServiceProcess(net, tmp_path, db, role="api")
        second.start()
        try:
            after = read(second.base_url, 2, last_event_id=again[-1]["id"])
            assert [e["id"] for e in after] == [6, 7]  # nothing lost, nothing twice
            emit(1, provider=B, kind="slash_proposed")
            emit(1, provider=A, kind="unjailed")
            (only_b,) = read(second.base_url, 1, provider=B.lower(), after=0)
            assert (only_b["id"], only_b["kind"]) == (8, "slash_proposed")
            (unjailed,) = read(second.base_url, 1, kinds="unjailed,incident", after=0)
            assert (unjailed["id"], unjailed["provider"]) == (9, A)
            for params in ({"kinds": "jailed,nonsense"}, {"provider": "0x123"}):
                r = httpx.get(f"{second.base_url}/v1/stream", params=params, timeout=10)
                assert r.status_code == 422 and r.headers["content-type"].startswith(
                    "application/problem+json"
                )
            r = httpx.get(f"{second.base_url}/v1/stream", headers={"Last-Event-ID": "x"}, timeout=10)
            assert r.status_code == 422
        finally:
            second.stop()
    finally:
        first.stop()
        engine.dispose()
