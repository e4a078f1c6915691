"""`swarm-staking verdict sign|submit`: the risk team's side of SPEC section 3.

`sign` builds the EIP-712 domain from the deployment file (its chain id and SwarmStaking address)
and asks the node only for the default detection time; the JSON body goes to stdout (notes to
stderr), so it pipes into `verdict submit -`.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from staking.cli.chainops import Keystore, PasswordFile
from staking.cli.common import RISK_TEAM, app, err_console, fail, load_settings, parse_address, say

verdict_app = typer.Typer(help="Detector verdicts: sign (EIP-712), submit to the API.", no_args_is_help=True)
app.add_typer(verdict_app, name="verdict", rich_help_panel=RISK_TEAM)


def _enum(cls: Any, value: str, option: str) -> Any:
    try:
        return cls.from_wire(value)
    except ValueError:
        fail(f"{option} must be one of {', '.join(m.wire for m in cls)}, not {value!r}")


def _bytes32(value: str, option: str) -> bytes:
    text = value[2:] if value.lower().startswith("0x") else value
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        fail(f"{option} must be 0x and 64 hex digits, not {value!r}")
    return raw


def default_detected_at(rpc_url: str) -> int:
    """Now, but never later than the chain's latest block: SwarmStaking refuses a verdict detected
    after `block.timestamp` (VerdictFromFuture), and the service simulates its transactions against
    the latest block. Without an answer from the node within 2 s, the wall clock."""
    from staking.chain.connect import connect

    now = int(time.time())
    try:
        latest = int(connect(rpc_url, timeout=2.0).eth.get_block("latest")["timestamp"])
    except Exception:
        return now
    return min(now, latest)


def _note(text: str) -> None:
    err_console.print(text, highlight=False, markup=False)


@verdict_app.command("sign")
def verdict_sign(
    provider: Annotated[str, typer.Option(help="the provider the verdict is about")],
    event_type: Annotated[
        str,
        typer.Option(
            help="security_breach, policy_violation, suspicious_activity, system_attack, "
            "performance_violation or operational_failure"
        ),
    ],
    severity: Annotated[str, typer.Option(help="low, medium, high or critical")],
    detected_at: Annotated[
        int | None,
        typer.Option(help="unix seconds (default: now, but not past the chain's latest block time)"),
    ] = None,
    evidence_hash: Annotated[str | None, typer.Option(help="0x + 64 hex: keccak256 of the evidence")] = None,
    evidence_file: Annotated[
        Path | None, typer.Option(help="the evidence itself: its keccak256 becomes the evidence hash")
    ] = None,
    evidence_uri: Annotated[str | None, typer.Option(help="where the evidence lies (not signed)")] = None,
    verdict_id: Annotated[
        str | None, typer.Option("--id", help="0x + 64 hex; also the slash id (default: random)")
    ] = None,
    keystore: Keystore = None,
    password_file: PasswordFile = None,
) -> None:
    """Sign a verdict as a detector and print the POST /v1/verdicts body (SPEC section 3)."""
    from eth_utils import keccak

    from staking.cli.chainops import load_cli_signer, load_deployment
    from staking.domain.vocabulary import EventType, Severity
    from staking.verdict import Domain, Verdict, sign_verdict, to_wire

    who = parse_address(provider)
    event = _enum(EventType, event_type, "--event-type")
    level = _enum(Severity, severity, "--severity")
    if evidence_hash is not None and evidence_file is not None:
        fail("give --evidence-hash or --evidence-file, not both")
    if evidence_file is not None:
        try:
            evidence = keccak(evidence_file.read_bytes())
        except OSError as exc:
            fail(f"cannot read --evidence-file {evidence_file}: {exc.strerror}")
    elif evidence_hash is not None:
        evidence = _bytes32(evidence_hash, "--evidence-hash")
    else:
        evidence = b"\x00" * 32
    vid = os.urandom(32) if verdict_id is None else _bytes32(verdict_id, "--id")
    deployment = load_deployment()
    when = (
        default_detected_at(load_settings().rpc_url or deployment.rpc_url)
        if detected_at is None
        else detected_at
    )
    try:
        verdict = Verdict(vid, who, event, level, when, evidence)
    except ValueError as exc:
        fail(str(exc))

    signer, source = load_cli_signer(deployment, keystore, password_file, "detector")
    if evidence == b"\x00" * 32:
        _note("note: no evidence given; the evidence hash is zero")
    domain = Domain(deployment.chain_id, parse_address(deployment.contracts.SwarmStaking))
    signature = sign_verdict(verdict, domain, signer.key)
    _note(
        f"signed by {signer.address} ({source}) for SwarmStaking {domain.verifying_contract} "
        f"on chain {domain.chain_id}"
    )
    typer.echo(json.dumps(to_wire(verdict, signature, evidence_uri), indent=2))


def _read_body(source: str) -> Any:
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text()
    except OSError as exc:
        fail(f"cannot read {source}: {exc.strerror}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"{'stdin' if source == '-' else source} is not JSON: {exc.msg} at line {exc.lineno}")


@verdict_app.command("submit")
def verdict_submit(
    source: Annotated[str, typer.Argument(metavar="FILE|-", help="a signed verdict body, - for stdin")],
    api: Annotated[
        str, typer.Option(envvar="SWARM_API_URL", help="base URL of the service's API")
    ] = "http://127.0.0.1:8000",
    as_json: Annotated[bool, typer.Option("--json", help="print only the answer's JSON")] = False,
) -> None:
    """POST a signed verdict to /v1/verdicts and print the answer."""
    import requests

    body = _read_body(source)
    url = api.rstrip("/") + "/v1/verdicts"
    try:
        response = requests.post(url, json=body, timeout=30)
    except requests.RequestException as exc:
        fail(f"cannot reach the API at {url}: {type(exc).__name__}")
    try:
        doc = response.json()
    except ValueError:
        doc = None
    if response.status_code not in (200, 202) or not isinstance(doc, dict):
        if isinstance(doc, dict) and "title" in doc:
            detail = f": {doc['detail']}" if doc.get("detail") else ""
            fail(f"{response.status_code} {doc['title']}{detail}")
        fail(f"{response.status_code} {response.reason}: {response.text.strip()[:300]}")
    if not as_json:
        what = "accepted, new verdict" if response.status_code == 202 else "already recorded (same content)"
        decision = doc.get("decision") or {}
        kinds = ", ".join(a["kind"] for a in doc.get("actions", [])) or "none"
        say(
            f"{response.status_code} {what} {doc.get('id')}: status {doc.get('status')}, "
            f"level {decision.get('level')}, actions {kinds}"
        )
    typer.echo(json.dumps(doc, indent=2))
