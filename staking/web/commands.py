"""The `swarm-staking` command that acts on each row of the operator page: one home, so the page
and the CLI cannot drift apart unnoticed (tests/unit/test_web_commands.py runs each through the
CLI's own parser). Placeholders in capitals are for the operator to fill in."""

from __future__ import annotations

from typing import Any

CLI = "swarm-staking"


def slash(s: dict[str, Any]) -> str:
    """A pending slash: veto it inside its window, execute it after."""
    if s.get("seconds_left", 0) > 0:
        return f'{CLI} slash veto {s["id"]} --reason "WHY"'
    return f"{CLI} slash execute {s['id']}"


def appeal(a: dict[str, Any]) -> str:
    return f'{CLI} appeal resolve {a["id"]} --upheld --reason "WHY"'


def incident(i: dict[str, Any]) -> str:
    return f'{CLI} incident release {i["id"]}   # or: {CLI} incident dismiss {i["id"]} --reason "WHY"'


def investigation(i: dict[str, Any]) -> str:
    return f'{CLI} investigation resolve {i["verdict_id"]} --outcome cleared --note "WHY"'


def held(h: dict[str, Any]) -> str:
    if h.get("incident_id") is None:
        return f"{CLI} incident list"
    return f"{CLI} incident show {h['incident_id']}"
