"""`GET /metrics` of a real app over a real database, parsed into samples."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from eth_utils import to_checksum_address
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine

from staking.api.app import create_app
from staking.db.engine import make_engine
from staking.intake.service import IntakeService
from staking.policy import load_policy
from staking.verdict import Domain

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@dataclass
class Scrape:
    engine: Engine
    client: TestClient

    def text(self) -> str:
        r = self.client.get("/metrics")
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
        return r.text

    def __call__(self) -> Samples:
        return {
            (s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(self.text())
            for s in family.samples
        }


@contextmanager
def scraping(db_url: str) -> Iterator[Scrape]:
    engine = make_engine(db_url)
    domain = Domain(chain_id=31337, verifying_contract=to_checksum_address("0x" + "5f" * 20))
    intake = IntakeService(engine, domain, None, load_policy(), max_age=3600)
    with TestClient(create_app(engine, intake)) as client:
        yield Scrape(engine, client)
    engine.dispose()


def labels(**kw: str) -> frozenset[tuple[str, str]]:
    return frozenset(kw.items())
