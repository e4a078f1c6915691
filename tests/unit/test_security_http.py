"""The API's protections against its HTTP clients (SECURITY.md, "A malicious HTTP client"): the
admin bearer token on the sensitive reads, per-detector (and optional per-address) rate limits on
the intake, body size and JSON depth limits, and CORS off unless configured.

In-process (no chain, no sockets): a migrated SQLite file, detectors decided by a stub, verdicts
and performance batches signed with the devnet detector's key.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_utils import keccak, to_checksum_address
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, delete, func, select

import staking.api.security as security_module
from staking.api.app import create_app
from staking.api.security import SecurityOptions, json_depth_exceeds
from staking.db import schema as t
from staking.db.engine import make_engine, upgrade
from staking.devnet.accounts import devnet_account
from staking.domain.vocabulary import Address, EventType, Severity
from staking.intake.ratelimit import Limit, TokenBuckets
from staking.intake.service import IntakeService
from staking.performance import PerformanceBatch, ProviderReport, sign_batch
from staking.performance import to_wire as batch_wire
from staking.policy import load_policy
from staking.rewards.eligibility import PerformanceReport
from staking.verdict import Domain, Verdict, sign_verdict, to_wire

pytestmark = pytest.mark.unit

PROBLEM_JSON = "application/problem+json"
TOKEN = "admin-token-0123456789abcdef"
DETECTOR, OTHER_DETECTOR, STRANGER = devnet_account(2), devnet_account(12), devnet_account(13)
DETECTORS = {DETECTOR.address, OTHER_DETECTOR.address}
DOMAIN = Domain(31337, Address(to_checksum_address("0x" + "5a" * 20)))
PROVIDER = Address(devnet_account(3).address)
INTAKE_TABLES = (t.verdicts, t.actions, t.investigations, t.performance_batches, t.performance_reports)
ORIGIN = "https://dashboard.example.org"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "swarm.db"
    upgrade(f"sqlite:///{path}")
    return path


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Api:
    engine: Engine
    client: TestClient
    clock: FakeClock
    n: int = 0

    def verdict(self, key: Any = DETECTOR.key, **changes: Any) -> dict[str, Any]:
        self.n += 1
        v = Verdict(
            keccak(text=f"security-{self.n}-{time.time()}"),
            PROVIDER,
            EventType.POLICY_VIOLATION,
            Severity.LOW,
            int(time.time()) - 5,
            keccak(text=f"evidence-{self.n}"),
        )
        return dict(to_wire(v, sign_verdict(v, DOMAIN, key)), **changes)

    def batch(self, key: Any = DETECTOR.key) -> dict[str, Any]:
        report = PerformanceReport(uptime_bps=9_990, response_ms_p50=120, error_rate_bps=10, rating_bps=9_000)
        b = PerformanceBatch(os.urandom(32), 0, (ProviderReport(PROVIDER, report),))
        return batch_wire(b, sign_batch(b, DOMAIN, key))

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return {
                tbl.name: int(conn.execute(select(func.count()).select_from(tbl)).scalar_one())
                for tbl in INTAKE_TABLES
            }


@contextmanager
def make_api(db: Path, security: SecurityOptions | None = None, limit: Limit | None = None) -> Iterator[Api]:
    engine = make_engine(f"sqlite:///{db}")
    with engine.begin() as conn:  # the epoch clock the performance intake checks epochs against
        now = int(time.time())
        conn.execute(delete(t.meta).where(t.meta.c.key.in_(("epoch_genesis", "epoch_length"))))
        conn.execute(
            t.meta.insert(),
            [{"key": "epoch_genesis", "value": str(now - 60)}, {"key": "epoch_length", "value": "86400"}],
        )
    clock = FakeClock()
    intake = IntakeService(
        engine,
        DOMAIN,
        lambda account: account in DETECTORS,
        load_policy(),
        max_age=7 * 86_400,
        limiter=TokenBuckets(limit, "detector", clock=clock) if limit else None,
    )
    app = create_app(engine, intake, security=security)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(engine, client, clock)
    engine.dispose()


@pytest.fixture
def db(template: Path, tmp_path: Path) -> Path:
    path = tmp_path / "swarm.db"
    shutil.copy(template, path)
    return path


@pytest.fixture
def api(db: Path) -> Iterator[Api]:
    with make_api(db) as api:
        yield api


def problem_of(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    doc: dict[str, Any] = response.json()
    assert doc["status"] == status
    return doc


# ------------------------------------------------------------------------------------- admin token

ADMIN_PATHS = ("/metrics", "/v1/investigations")


def test_with_an_admin_token_the_sensitive_reads_need_it_as_a_bearer_token(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = security_module.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(security_module.hmac, "compare_digest", spy)
    with make_api(db, SecurityOptions(admin_token=SecretStr(TOKEN))) as api:
        for path in ADMIN_PATHS:
            missing = problem_of(api.client.get(path), 401)
            assert missing["type"] == "/problems/admin-token-required"
            assert api.client.get(path).headers["www-authenticate"].startswith("Bearer realm=")
            for header in (f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", f"Basic {TOKEN}", TOKEN, "Bearer "):
                wrong = api.client.get(path, headers={"Authorization": header})
                problem_of(wrong, 401)
                assert TOKEN not in wrong.text
            ok = api.client.get(path, headers={"Authorization": f"Bearer {TOKEN}"})
            assert ok.status_code == 200, ok.text
            lower_scheme = api.client.get(path, headers={"Authorization": f"bearer {TOKEN}"})
            assert lower_scheme.status_code == 200  # RFC 7235: the scheme is case-insensitive
        wrong = api.client.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert 'error="invalid_token"' in wrong.headers["www-authenticate"]
        # Everything else stays public: the SPEC's API is for providers and detectors.
        assert api.client.get("/healthz").status_code == 200
        assert api.client.get("/openapi.json").status_code == 200
        assert api.client.get(f"/v1/verdicts/0x{'00' * 32}").status_code == 404
        assert api.client.post("/v1/verdicts", json=api.verdict()).status_code == 202
    assert compared and all(b == TOKEN.encode() for _, b in compared), "compare with hmac.compare_digest"


def test_without_an_admin_token_the_reads_stay_open_as_the_spec_has_them(api: Api) -> None:
    for path in ADMIN_PATHS:
        assert api.client.get(path).status_code == 200
        assert api.client.get(path, headers={"Authorization": "Bearer whatever"}).status_code == 200


def test_the_openapi_document_names_the_bearer_scheme_and_where_it_applies(db: Path) -> None:
    with make_api(db, SecurityOptions(admin_token=SecretStr(TOKEN))) as api:
        doc = api.client.get("/openapi.json").json()
        assert doc["components"]["securitySchemes"]["adminToken"]["scheme"] == "bearer"
        for path in ADMIN_PATHS:
            operation = doc["paths"][path]["get"]
            assert operation["security"] == [{"adminToken": []}]
            assert PROBLEM_JSON in operation["responses"]["401"]["content"]
        assert "security" not in doc["paths"]["/healthz"]["get"]
        for path in ("/v1/verdicts", "/v1/performance"):
            assert "Retry-After" in doc["paths"][path]["post"]["responses"]["429"]["headers"]
    with make_api(db) as api:  # no token configured: documented as optional, no 401
        operation = api.client.get("/openapi.json").json()["paths"]["/metrics"]["get"]
        assert operation["security"] == [{"adminToken": []}, {}] and "401" not in operation["responses"]


# ------------------------------------------------------------------------------------- rate limits


def test_a_detector_over_its_rate_limit_gets_429_with_retry_after_and_nothing_is_stored(db: Path) -> None:
    with make_api(db, limit=Limit(rate=0.5, burst=3)) as api:
        first = api.verdict()
        assert api.client.post("/v1/verdicts", json=first).status_code == 202
        for _ in range(2):
            assert api.client.post("/v1/verdicts", json=api.verdict()).status_code == 202
        before = api.counts()
        limited = api.client.post("/v1/verdicts", json=api.verdict())
        doc = problem_of(limited, 429)
        assert doc["type"] == "/problems/rate-limited" and DETECTOR.address in doc["detail"]
        assert limited.headers["retry-after"] == "2"  # one token at 0.5/s
        # Replays count too, and so do the detector's performance batches (one bucket).
        assert api.client.post("/v1/verdicts", json=first).status_code == 429
        batch = api.client.post("/v1/performance", json=api.batch())
        problem_of(batch, 429)
        assert batch.headers["retry-after"] == "2"
        assert api.counts() == before, "a rate-limited request must store nothing"
        # Another detector has its own bucket; a non-detector is refused before any bucket.
        assert api.client.post("/v1/verdicts", json=api.verdict(OTHER_DETECTOR.key)).status_code == 202
        assert api.client.post("/v1/verdicts", json=api.verdict(STRANGER.key)).status_code == 401
        api.clock.now += 2.0  # the bucket refills
        assert api.client.post("/v1/verdicts", json=first).status_code == 200
        assert api.client.post("/v1/verdicts", json=api.verdict()).status_code == 429


def test_the_default_rate_limit_lets_the_benchmark_burst_through_and_stops_a_flood() -> None:
    from staking.config import Settings

    s = Settings(_env_file=None)  # type: ignore[call-arg]
    clock = FakeClock()
    buckets = TokenBuckets(Limit(s.intake_rate_per_s, s.intake_burst), clock=clock)
    for _ in range(500):  # the latency benchmark: 500 verdicts from one detector at once
        buckets.take(DETECTOR.address)
    flood = 0
    with pytest.raises(security_module.RateLimited):
        for _ in range(100_000):
            buckets.take(DETECTOR.address)
            flood += 1
    assert flood < s.intake_burst


def test_the_optional_per_address_limit_refuses_before_any_signature_work(db: Path) -> None:
    options = SecurityOptions(ip_limit=Limit(rate=0.001, burst=2))
    with make_api(db, options) as api:
        assert api.client.post("/v1/verdicts", json={"not": "a verdict"}).status_code == 422
        assert api.client.post("/v1/performance", json=api.batch()).status_code == 202
        before = api.counts()
        limited = api.client.post("/v1/verdicts", json=api.verdict())
        assert problem_of(limited, 429)["type"] == "/problems/rate-limited"
        assert int(limited.headers["retry-after"]) > 0
        assert api.counts() == before
        assert api.client.get("/healthz").status_code == 200  # reads are not limited


# ------------------------------------------------------------------------------ body size and depth


async def _asgi_post(
    app: FastAPI, path: str, headers: list[tuple[bytes, bytes]], chunks: Any
) -> tuple[int, int]:
    """POST through the ASGI interface; returns (status, body chunks the app pulled)."""
    pulled = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        pulled += 1
        chunk = next(chunks, None)
        if chunk is None:
            return {"type": "http.disconnect"}
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), (b"content-type", b"application/json"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)
    return next(m["status"] for m in sent if m["type"] == "http.response.start"), pulled


def endless(chunk: bytes) -> Iterator[bytes]:
    """A body far larger than any limit (bounded, so a missing limit fails instead of hanging)."""
    return iter([chunk] * 1024)


def test_an_oversized_body_is_refused_with_413_before_it_is_read(api: Api) -> None:
    app = api.client.app
    assert isinstance(app, FastAPI)
    # A declared length over the limit: refused without pulling a byte.
    declared = [(b"content-length", str(10**9).encode())]
    status, pulled = asyncio.run(_asgi_post(app, "/v1/verdicts", declared, endless(b"[" * 4096)))
    assert (status, pulled) == (413, 0)
    # A chunked body of 4 MiB: refused once it passed the limit (16 KiB: after 5 chunks).
    status, pulled = asyncio.run(_asgi_post(app, "/v1/verdicts", [], endless(b" " * 4096)))
    assert status == 413 and pulled <= 5
    # Over HTTP: problem+json, nothing stored; a performance batch has its own, larger limit.
    before = api.counts()
    big = api.verdict(evidence_uri="ipfs://" + "a" * 20_000)
    assert problem_of(api.client.post("/v1/verdicts", json=big), 413)["type"] == "/problems/body-too-large"
    padded = json.dumps(api.batch()) + " " * 100_000
    headers = {"Content-Type": "application/json"}
    assert api.client.post("/v1/performance", content=padded, headers=headers).status_code == 202
    assert api.client.post("/v1/performance", content=" " * 300_000, headers=headers).status_code == 413
    assert api.counts()["verdicts"] == before["verdicts"]


def test_a_configured_body_limit_applies_to_its_route(db: Path) -> None:
    options = SecurityOptions(max_body_bytes=2048, body_limits={"/v1/performance": 4096})
    with make_api(db, options) as api:
        assert api.client.post("/v1/verdicts", json=api.verdict()).status_code == 202
        problem_of(api.client.post("/v1/verdicts", json=api.verdict(evidence_uri="x" * 2048)), 413)
        problem_of(api.client.post("/v1/performance", content=b" " * 5000), 413)


def test_deeply_nested_json_is_a_422_not_a_crash(api: Api) -> None:
    before = api.counts()
    for path in ("/v1/verdicts", "/v1/performance"):
        for body in ("[" * 5_000 + "]" * 5_000, '{"a":' * 2_500 + "1" + "}" * 2_500, "[" * 33 + "]" * 33):
            r = api.client.post(path, content=body, headers={"Content-Type": "application/json"})
            assert problem_of(r, 422)["type"] == "/problems/json-too-deep", (path, r.text[:200])
    assert api.counts() == before
    # Brackets inside strings are not nesting: this verdict is accepted.
    assert (
        api.client.post("/v1/verdicts", json=api.verdict(evidence_uri="ipfs://" + "[{" * 100)).status_code
        == 202
    )


def test_the_depth_scan_counts_nesting_not_brackets_in_strings() -> None:
    for depth in (1, 5, 32, 33, 100):
        doc = json.dumps(json.loads("[" * depth + "]" * depth)).encode()
        assert json_depth_exceeds(doc, 32) == (depth > 32)
    assert not json_depth_exceeds(json.dumps({"s": "[" * 100, "t": '\\"[[[' * 50}).encode(), 32)
    assert json_depth_exceeds(json.dumps([{"a": [[[1]]]}]).encode(), 4)
    assert not json_depth_exceeds(json.dumps([{"a": [[[1]]]}]).encode(), 5)


# -------------------------------------------------------------------------------------------- CORS


def test_cors_is_off_by_default(api: Api) -> None:
    origin = {"Origin": "https://evil.example"}
    answers = [
        api.client.get("/healthz", headers=origin),
        api.client.get("/metrics", headers=origin),
        api.client.post("/v1/verdicts", json=api.verdict(), headers=origin),
        api.client.post("/v1/verdicts", json={}, headers=origin),
    ]
    preflight = api.client.options(
        "/v1/verdicts",
        headers={
            **origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code not in (200, 204), "a preflight must not be granted"
    for r in [*answers, preflight]:
        assert not any(h.startswith("access-control-") for h in r.headers), dict(r.headers)


def test_cors_origins_allow_exactly_those_origins(db: Path) -> None:
    with make_api(db, SecurityOptions(cors_origins=(ORIGIN,), max_body_bytes=2048)) as api:
        r = api.client.get("/healthz", headers={"Origin": ORIGIN})
        assert r.headers["access-control-allow-origin"] == ORIGIN
        assert "x-request-id" in r.headers["access-control-expose-headers"].lower()
        assert "access-control-allow-credentials" not in r.headers
        preflight = api.client.options(
            "/v1/verdicts", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}
        )
        assert preflight.status_code == 200 and "POST" in preflight.headers["access-control-allow-methods"]
        # Refusals from the limits carry the header too, so the page can read why.
        too_big = api.client.post("/v1/verdicts", content=b" " * 4096, headers={"Origin": ORIGIN})
        assert too_big.status_code == 413 and too_big.headers["access-control-allow-origin"] == ORIGIN
        other = api.client.get("/healthz", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
        denied = api.client.options(
            "/v1/verdicts",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert denied.status_code == 400 and "access-control-allow-origin" not in denied.headers
