"""Verdict intake over HTTP: signed verdicts on the wire, the check that a rejection stores
nothing, and the integration tests' app over the indexed devnet (`Api`, the `api` fixture of
tests/integration/conftest.py; the in-process one of the unit tests is tests/support/offchain.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine, Table, func, select

from staking.db import schema as t
from staking.intake.service import IntakeService
from staking.verdict import Verdict, to_wire
from tests.support.chain import Chain

PROBLEM_JSON = "application/problem+json"


NEW_DETECTOR_INDEX = 12  # unlocked by anvil, holds no role until a test grants it


INTAKE_TABLES = (t.verdicts, t.actions, t.investigations)


def row_counts(engine: Engine, tables: tuple[Table, ...]) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            tbl.name: int(conn.execute(select(func.count()).select_from(tbl)).scalar_one()) for tbl in tables
        }


def rejected(
    status: int, send: Callable[[], Response], counts: Callable[[], dict[str, int]]
) -> dict[str, Any]:
    """`send()` answers `status` as problem+json and leaves the `counts()` of the tables untouched."""
    before = counts()
    response = send()
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    doc = response.json()
    assert doc["status"] == status and doc["title"] and doc["type"]
    assert counts() == before, "a rejected verdict must store nothing"
    return dict(doc)


def wire(v: Verdict, signature: bytes, /, **changes: Any) -> dict[str, Any]:
    body = to_wire(v, signature, evidence_uri="ipfs://bafy-evidence")
    body.update(changes)
    return body


@dataclass
class Api:
    chain: Chain
    engine: Engine
    intake: IntakeService
    client: TestClient
    on_chain_checks: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return row_counts(self.engine, INTAKE_TABLES)

    def submit(self, provider_index: int = 0, **kw: Any) -> tuple[Verdict, dict[str, Any], Response]:
        v, sig = self.chain.signed(self.chain.providers[provider_index], **kw)
        body = wire(v, sig)
        return v, body, self.client.post("/v1/verdicts", json=body)

    def rejects(self, status: int, send: Callable[[], Response]) -> dict[str, Any]:
        """`send()` answers `status` as problem+json and leaves the intake tables untouched."""
        return rejected(status, send, self.counts)

    def rejects_body(self, status: int, body: Any) -> dict[str, Any]:
        return self.rejects(status, lambda: self.client.post("/v1/verdicts", json=body))


def kinds(resource: dict[str, Any]) -> list[str]:
    return [a["kind"] for a in resource["actions"]]
