"""The pages' pure parts without a server: amounts written exactly, the provider page of every
recorded provider document (tests/fixtures/provider_documents.json) rendered with its status, next
step, countdown and stepper, and every command the operator page offers accepted by the CLI's
own parser."""

from __future__ import annotations

import json
import re
import shlex
from html import unescape
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import typer

from staking.cli import app
from staking.policy import load_policy
from staking.readmodel.documents import standing_from_parts
from staking.readmodel.parts import parts_from_json
from staking.web import commands
from staking.web.format import duration, share_percent, short, tokens
from staking.web.pages import environment, render
from staking.web.provider_view import provider_view

pytestmark = pytest.mark.unit

FIXTURE = json.loads((Path(__file__).parents[1] / "fixtures" / "provider_documents.json").read_text())
SCENARIOS = {s["name"]: s for s in FIXTURE["scenarios"]}
NAMED = {name.split(":")[0].split(",")[0]: name for name in SCENARIOS}  # a short key of each scenario
ENV = environment()


@pytest.mark.parametrize(
    ("base", "shown"),
    [
        (0, "0 SWARM"),
        (1, "<0.0001 SWARM"),
        (10**18, "1 SWARM"),
        (1_234_567 * 10**18 + 5 * 10**17, "1,234,567.5 SWARM"),
        (10**18 - 1, "0.9999 SWARM"),  # cut, never rounded up to 1
        (
            2**256 - 1,
            "115,792,089,237,316,195,423,570,985,008,687,907,853,269,984,665,640,564,039,457.5840 SWARM",
        ),
        ("-25000000000000000000", "-25 SWARM"),
    ],
)
def test_amounts_are_written_exactly_and_never_rounded_up(base: int | str, shown: str) -> None:
    assert tokens(base) == shown.replace(".5840", ".584")


def test_durations_bars_and_short_ids() -> None:
    assert [duration(s) for s in (0, 59, 61, 3_600, 90_061)] == ["0 s", "59 s", "1 min 1 s", "1 h", "1 d 1 h"]
    assert share_percent(3, 2) == 100 and share_percent(1, 3) == 33 and share_percent(0, 0) == 0
    assert share_percent(5, None) == 100 and share_percent(None, 10) == 0
    assert short("0x90F79bf6EB2c4f870365E785982E1f101E93b906") == "0x90F79b…b906"


def provider_page(name: str, evidence: dict[str, str] | None = None) -> tuple[dict[str, Any], str]:
    s = SCENARIOS[name]
    parts = parts_from_json(s["parts"])
    policy = load_policy()
    doc = standing_from_parts(parts, FIXTURE["address"], s["now"], policy, s["head"])
    at = max(s["now"], doc["as_of"]["timestamp"] or 0)
    html = render(
        ENV, "provider.html", request=SimpleNamespace(query_params={}),
        v=provider_view(doc, policy, parts.strikes, at), d=doc, events=[], rewards=[], now_at=at,
        evidence=evidence or {}, staking=None, claim_selector="0x00000000", stream="/v1/stream",
        stream_after=0,
    )  # fmt: skip
    return doc, html


def visible(html: str) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_every_recorded_provider_document_renders_its_status_and_next_step(name: str) -> None:
    doc, html = provider_page(name)
    text = visible(html)
    assert f'data-test="status">{doc["status"].replace("_", " ")}<' in html
    assert doc["status_reason"] in text
    if doc["recovery"]:
        assert doc["recovery"]["next_step"] in text
    for s in doc["pending_slashes"]:
        assert f'data-countdown="{s["executable_at"]}"' in html
        assert f'title="{int(s["amount"]):,} base units"' in html


def test_a_timed_jail_counts_down_and_a_recovery_shows_its_stage() -> None:
    doc, html = provider_page(NAMED["timed jail running"])
    assert f'data-countdown="{doc["jail"]["until"]}"' in html and "below the minimum" in visible(html)
    slash = doc["pending_slashes"][0]["id"]
    _, with_uri = provider_page(NAMED["timed jail running"], {slash: "ipfs://bafy-evidence"})
    assert 'at <code class="uri">ipfs://bafy-evidence</code>' in with_uri
    _, html = provider_page("recovery path 2 at stage 2")
    current = re.search(r'<li class="step current" aria-current="step">(.*?)</li>', html, re.S)
    assert current and "response" in current.group(1) and "recovery advance" in current.group(1)
    _, html = provider_page("probation after reinstatement")
    assert html.count('class="step done"') == 4


def test_a_value_from_the_chain_is_escaped() -> None:
    s = json.loads(json.dumps(SCENARIOS[NAMED["active with history"]]))
    s["parts"]["provider"]["metadata_uri"] = '<script>alert("x")</script>'
    SCENARIOS["escaped"] = s
    try:
        _, html = provider_page("escaped")
    finally:
        del SCENARIOS["escaped"]
    assert "<script>alert" not in html and "&lt;script&gt;alert" in html


SLASH = "0x" + "ab" * 32


@pytest.mark.parametrize(
    "line",
    [
        commands.slash({"id": SLASH, "seconds_left": 30}),
        commands.slash({"id": SLASH, "seconds_left": 0}),
        commands.appeal({"id": SLASH}),
        commands.incident({"id": 3}).split("   # or: ")[0],
        commands.incident({"id": 3}).split("   # or: ")[1],
        commands.investigation({"verdict_id": SLASH}),
        commands.held({"incident_id": 3}),
        commands.held({"incident_id": None}),
        f"swarm-staking slash appeal {SLASH} --evidence FILE",
        "swarm-staking recovery advance 0x90F79bf6EB2c4f870365E785982E1f101E93b906",
        "swarm-staking recovery reinstate 0x90F79bf6EB2c4f870365E785982E1f101E93b906",
        "swarm-staking rewards claim 3",
    ],
)
def test_every_command_the_pages_offer_parses_with_the_cli(line: str) -> None:
    """The templates' and `staking.web.commands`' commands, through click's own parser (no run)."""
    words = shlex.split(line)
    assert words[0] == "swarm-staking"
    command: Any = typer.main.get_command(app)  # typer's own click: duck-typed, not click.Group
    ctx = command.context_class(command, info_name="swarm-staking")
    args = words[1:]
    while hasattr(command, "resolve_command"):
        name, sub, args = command.resolve_command(ctx, args)
        assert sub is not None, f"no command {name} in {line}"
        command, ctx = sub, sub.context_class(sub, info_name=name, parent=ctx)
    command.make_context(ctx.info_name, args, parent=ctx.parent)  # raises on a bad or missing option
