"""An accepted verdict's JSON log line keeps the record's own `level` (info): log collectors file
lines by it, so the decision's level (warning, penalty, severe) travels as `decision_level`."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_utils import keccak, to_checksum_address

from staking.db.engine import make_engine, upgrade
from staking.devnet.accounts import devnet_account
from staking.domain.vocabulary import Address, EventType, Severity
from staking.intake.results import Accepted
from staking.intake.service import IntakeService
from staking.logs import JsonFormatter
from staking.policy import load_policy
from staking.verdict import Domain, Verdict, sign_verdict, to_wire

pytestmark = pytest.mark.unit

DETECTOR = devnet_account(2)
DOMAIN = Domain(31337, Address(to_checksum_address("0x" + "5a" * 20)))


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """What the intake logs, as the JSON lines a collector reads."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("staking.intake")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield out
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def test_an_accepted_verdicts_log_line_is_info_and_names_the_decision_level_apart(
    tmp_path: Path, json_lines: io.StringIO
) -> None:
    url = f"sqlite:///{tmp_path / 'swarm.db'}"
    upgrade(url)
    engine = make_engine(url)
    intake = IntakeService(
        engine, DOMAIN, lambda account: account == DETECTOR.address, load_policy(), max_age=86_400
    )
    v = Verdict(
        keccak(text="log-line"),
        Address(devnet_account(3).address),
        EventType.SECURITY_BREACH,
        Severity.CRITICAL,
        int(time.time()) - 5,
        keccak(text="evidence"),
    )
    outcome = intake.submit(to_wire(v, sign_verdict(v, DOMAIN, DETECTOR.key)))
    engine.dispose()

    assert isinstance(outcome, Accepted)
    lines = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    accepted = [line for line in lines if line["msg"] == "verdict accepted"]
    assert len(accepted) == 1
    line = accepted[0]
    assert line["level"] == "info"
    assert line["decision_level"] == outcome.resource["decision"]["level"] == "severe"
    assert line["verdict_id"] == "0x" + v.id.hex()


def test_no_extra_field_can_replace_a_json_lines_own_fields() -> None:
    from staking.logs import JsonFormatter

    record = logging.makeLogRecord(
        {"name": "intake", "levelname": "INFO", "msg": "accepted", "level": "severe", "logger": "x", "ts": 1}
    )
    line = json.loads(JsonFormatter().format(record))
    assert (line["level"], line["logger"], line["msg"]) == ("info", "intake", "accepted")
    assert line["ts"].endswith("Z")
    assert (line["extra_level"], line["extra_logger"], line["extra_ts"]) == ("severe", "x", 1)
