"""The provider document is built from recorded parts, with no chain and no database: each
scenario in `tests/fixtures/provider_documents.json` holds what one snapshot read (provider row,
slashes, strikes, reward epochs, settings, the service's actions in flight) and the document the
read model answered before it was split into a package (plus `in_flight`, added since)."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from staking.api.providers import ProviderStanding
from staking.policy import load_policy
from staking.readmodel.documents import standing_from_parts
from staking.readmodel.one_statement import (
    ONE_STATEMENT_PSYCOPG,
    one_statement_values,
    parts_from_one_statement,
)
from staking.readmodel.parts import parts_from_json, parts_to_json

pytestmark = pytest.mark.unit

FIXTURE = json.loads((Path(__file__).parents[1] / "fixtures" / "provider_documents.json").read_text())
ADDRESS = FIXTURE["address"]
SCENARIOS = {s["name"]: s for s in FIXTURE["scenarios"]}


def build(s: dict[str, Any], parts: Any = None) -> dict[str, Any]:
    parts = parts_from_json(s["parts"]) if parts is None else parts
    return standing_from_parts(parts, ADDRESS, s["now"], load_policy(), s["head"])


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_each_recorded_snapshot_builds_the_recorded_document(name: str) -> None:
    s = SCENARIOS[name]
    doc = build(s)
    assert doc == s["document"]
    ProviderStanding.model_validate(doc)  # the API's schema, as sent without a second validation


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_the_postgresql_row_builds_the_same_document_whatever_order_json_agg_returns(name: str) -> None:
    # ONE_STATEMENT returns each list as json_agg without ORDER BY: any order must do.
    s = SCENARIOS[name]
    p = s["parts"]
    settings = [["m", k, v] for k, v in p["meta"].items()] + [["p", k, v] for k, v in p["params"].items()]
    epochs = [{"epoch": e, "present": w is not None, **(w or {})} for e, w in p["reward_epochs"]]
    row = SimpleNamespace(
        settings=settings[::-1] or None,
        provider=p["provider"],
        jail_guidance=p["jail_guidance"],
        slashes=p["slashes"][::-1] or None,
        strikes=[{**x, "received_ms": x.get("received_ms", 0)} for x in p["strikes"][::-1]] or None,
        reward_epochs=epochs[::-1] or None,
        in_flight=p["in_flight"][::-1] or None,
        held=p["held"][::-1] or None,
        signers=p["signers"][::-1] or None,
    )
    assert build(s, parts_from_one_statement(row)) == s["document"]


def test_parts_survive_a_round_trip_through_json() -> None:
    for s in FIXTURE["scenarios"]:
        parts = parts_from_json(s["parts"])
        again = parts_from_json(json.loads(json.dumps(parts_to_json(parts))))
        assert build(s, again) == s["document"], s["name"]


def test_the_scenarios_cover_every_status_and_every_recovery_stage() -> None:
    docs = [s["document"] for s in FIXTURE["scenarios"]]
    statuses = {d["status"] for d in docs}
    assert statuses == {
        "unregistered", "active", "jailed", "in_recovery", "probation", "unbonding", "exited", "tombstoned"
    }  # fmt: skip
    stages = {d["recovery"]["stage"] for d in docs if d["recovery"]}
    assert stages == {None, "detection", "response", "recovery", "restoration"}
    assert any(d["in_flight"] for d in docs) and any(not d["in_flight"] for d in docs)


def test_a_jail_in_flight_is_shown_while_the_status_is_still_the_indexed_one() -> None:
    doc = SCENARIOS["jail confirmed on chain after the checkpoint: in flight"]["document"]
    assert doc["status"] == "active"  # what the indexer saw at as_of.block
    assert [(a["kind"], a["block"]) for a in doc["in_flight"]] == [("jail", 121), ("propose_slash", 122)]
    assert all(a["block"] > doc["as_of"]["block"] for a in doc["in_flight"])


def imports_of(module: Any) -> set[str]:
    tree = ast.parse(Path(module.__file__).read_text())
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    return names | {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}


def test_the_document_builders_import_no_database_and_no_chain_client() -> None:
    import staking.readmodel.documents as documents
    import staking.readmodel.parts as parts

    for module in (documents, parts):
        for name in imports_of(module):
            assert not name.startswith(("sqlalchemy", "psycopg", "web3", "staking.db", "staking.chain")), name


def test_the_psycopg_statement_binds_every_value_by_name() -> None:
    names = set(re.findall(r"%\((\w+)\)s", ONE_STATEMENT_PSYCOPG))
    assert names == set(one_statement_values(ADDRESS, 0, load_policy()))


def test_provider_status_on_the_command_line_shows_an_action_in_flight() -> None:
    from staking.cli.provider import rows

    doc = SCENARIOS["jail confirmed on chain after the checkpoint: in flight"]["document"]
    table = dict(rows(doc))
    assert table["in flight"].splitlines()[0].startswith("jail of verdict 0xabab")
    assert "mined in block 121" in table["in flight"] and table["status"].startswith("active")
    assert "in flight" not in dict(rows(SCENARIOS["exited"]["document"]))
