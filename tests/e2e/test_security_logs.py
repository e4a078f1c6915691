"""Secrets never reach logs or error bodies (SECURITY.md, "Keys and secrets").

The whole service as an operator runs it (`swarm-staking serve --role all`, DEBUG logging) twice
against one Anvil: with the signer as a raw SWARM_SIGNER_KEY on the devnet, then from a keystore
and password file (with an admin token, and a webhook secret read from a file whose deliveries
fail). Each run gets good verdicts (the worker sends the jail transactions) and bad ones (every
error the intake answers), then CLI commands that fail: a signer without the role, a malformed
key, a wrong password, a keystore others can read, a service that cannot load its keystore.

Every byte captured — the service logs, the CLI's stdout and stderr, every HTTP answer's headers
and body — is then searched for every private key of the default mnemonic (accounts #0-#9, with
or without 0x, any case), the mnemonic itself, the keystore password, the admin token (and a
wrong one a client sent) and the webhook secret.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account

from staking.db.engine import upgrade
from staking.devnet.accounts import ACCOUNT_COUNT, DEFAULT_MNEMONIC, devnet_account
from staking.devnet.harness import CLI, LocalDeployment, ServiceProcess, VerdictSigner, local_deployment
from staking.devnet.node import free_port
from staking.domain.vocabulary import EventType, Severity
from staking.verdict import Verdict, sign_verdict, to_wire

pytestmark = pytest.mark.e2e

PASSWORD = "Keystore-Pa55word-9f2c"
ADMIN_TOKEN = "admin-Token-5d1e0c7b9a8f"
WRONG_TOKEN = "not-the-Admin-token-77"
WEBHOOK_SECRET = "webhook-Secret-3a6b8e"
KEYS = [bytes(devnet_account(i).key).hex() for i in range(ACCOUNT_COUNT)]


class Capture:
    """Everything the runs showed anyone: named chunks of text."""

    def __init__(self) -> None:
        self.parts: list[tuple[str, str]] = []

    def add(self, name: str, text: str) -> None:
        self.parts.append((name, text))

    def http(self, name: str, response: httpx.Response) -> httpx.Response:
        self.add(f"HTTP {name}", f"{response.status_code} {dict(response.headers)}\n{response.text}")
        return response


@dataclass
class Command:
    """A CLI command that must fail, started in the background (they overlap each other and the
    service's work: each spends most of its time importing web3)."""

    name: str
    args: list[str]
    env: dict[str, str]
    stdin: str = ""
    expect: str = ""  # in its output
    process: subprocess.Popen[str] | None = None

    def start(self, cwd: Path) -> Command:
        self.process = subprocess.Popen(
            [CLI, *self.args],
            env=self.env,
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        return self

    def finish(self, seen: Capture) -> None:
        assert self.process is not None
        output, _ = self.process.communicate(self.stdin, timeout=120)
        seen.add(f"CLI {self.name}", output)
        assert self.process.returncode != 0, f"{self.name} should fail:\n{output}"
        assert self.expect in output, f"{self.name}: {self.expect!r} not in\n{output}"


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalDeployment]:
    with local_deployment(tmp_path_factory.mktemp("chain"), block_time=1) as deployment:
        yield deployment


def shows_part_of(key_hex: str, lowered: str, window: int = 16) -> bool:
    """Whether `lowered` holds any `window` hex digits in a row of `key_hex`: a shortened key (as
    pydantic prints long values) is a leak too. 64 bits: no tx hash or signature matches by chance."""
    return any(key_hex[i : i + window] in lowered for i in range(len(key_hex) - window + 1))


def secret_file(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def exercise(svc: ServiceProcess, net: LocalDeployment, provider: str, label: str, seen: Capture) -> str:
    """Good and bad requests against a running service. Returns the good verdict's id."""
    http = httpx.Client(base_url=svc.base_url, timeout=10)
    signer = VerdictSigner(net, label)
    good = signer.body(provider, EventType.SECURITY_BREACH, Severity.HIGH, net.now())
    assert seen.http("accepted", http.post("/v1/verdicts", json=good)).status_code == 202
    assert seen.http("replay", http.post("/v1/verdicts", json=good)).status_code == 200
    tampered = dict(good, severity="low")
    assert seen.http("tampered", http.post("/v1/verdicts", json=tampered)).status_code == 401
    v = Verdict(
        bytes.fromhex(good["id"][2:]),
        provider,
        EventType.SECURITY_BREACH,
        Severity.LOW,
        net.now(),
        b"\x01" * 32,
    )
    assert seen.http("not a detector", http.post("/v1/verdicts", json=signed(net, v, 5))).status_code == 401
    assert seen.http("conflict", http.post("/v1/verdicts", json=signed(net, v, 2))).status_code == 409
    assert (
        seen.http("malformed", http.post("/v1/verdicts", json=dict(good, event_type="x"))).status_code == 422
    )
    assert seen.http("not json", http.post("/v1/verdicts", content=b"{not json")).status_code == 422
    deep = b"[" * 2000 + b"]" * 2000
    assert seen.http("deep", http.post("/v1/verdicts", content=deep)).status_code == 422
    huge = json.dumps(dict(good, evidence_uri="x" * 20_000))
    assert seen.http("huge", http.post("/v1/verdicts", content=huge)).status_code == 413
    assert seen.http("bad batch", http.post("/v1/performance", json={"id": 1})).status_code == 422
    seen.http("metrics, no token", http.get("/metrics"))
    seen.http(
        "metrics, wrong token", http.get("/metrics", headers={"Authorization": f"Bearer {WRONG_TOKEN}"})
    )
    seen.http("metrics", http.get("/metrics", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}))
    seen.http(
        "investigations", http.get("/v1/investigations", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    )
    seen.http("unknown", http.get("/v1/verdicts/0x" + "ee" * 32))
    http.close()
    return str(good["id"])


def signed(net: LocalDeployment, v: Verdict, account: int) -> dict[str, Any]:
    return to_wire(v, sign_verdict(v, net.staking.domain(), devnet_account(account).key))


def wait_jailed(svc: ServiceProcess, verdict_id: str, seen: Capture) -> None:
    """Until the verdict's jail is confirmed on chain: the worker signed and sent it."""
    deadline = time.monotonic() + 60
    with httpx.Client(base_url=svc.base_url, timeout=10) as http:
        while True:
            doc = seen.http("poll", http.get(f"/v1/verdicts/{verdict_id}")).json()
            if any(a["kind"] == "jail" and a["state"] == "confirmed" for a in doc["actions"]):
                return
            assert time.monotonic() < deadline, f"the jail was not confirmed: {doc}\n{svc.log_tail()}"
            time.sleep(0.3)


def without_keystore(env: dict[str, str], **changes: str) -> dict[str, str]:
    drop = ("SWARM_SIGNER_KEYSTORE", "SWARM_SIGNER_PASSWORD_FILE")
    return {**{k: v for k, v in env.items() if k not in drop}, **changes}


def test_no_secret_reaches_a_log_line_a_cli_message_or_an_http_answer(
    net: LocalDeployment, tmp_path: Path
) -> None:
    seen = Capture()
    providers = net.providers

    # ---- run 1: the devnet signer as a raw SWARM_SIGNER_KEY
    raw = ServiceProcess(
        net,
        tmp_path,
        f"sqlite:///{tmp_path}/raw.db",
        extra_env={"SWARM_SIGNER_KEY": "0x" + KEYS[1], "SWARM_LOG_LEVEL": "DEBUG"},
    )
    upgrade(raw.database_url)  # in-process: one CLI start-up less
    raw.start()
    try:
        verdict_id = exercise(raw, net, providers[0], "raw-key", seen)
        now = net.now()
        stranger_verdict = Verdict(
            b"\x07" * 32, providers[1], EventType.SYSTEM_ATTACK, Severity.HIGH, now, b"\x02" * 32
        )
        commands = [
            Command(
                "verdict submit (signed by a provider, not a detector)",
                ["verdict", "submit", "-", "--api", raw.base_url],
                raw.env(),
                stdin=json.dumps(signed(net, stranger_verdict, 5)),
                expect="401",
            ),
            Command(
                "pause (a provider's key: no GOVERNANCE_ROLE)",
                ["pause", "--yes"],
                dict(raw.env(), SWARM_SIGNER_KEY="0x" + KEYS[6]),
                expect="GOVERNANCE_ROLE",
            ),
            Command(
                "a malformed key (a devnet key with a typo)",
                ["pause", "--dry-run"],
                dict(raw.env(), SWARM_SIGNER_KEY="0X" + KEYS[0].upper() + "zz"),
                expect="not a valid private key",
            ),
        ]
        for command in commands:
            command.start(tmp_path)
        wait_jailed(raw, verdict_id, seen)
        for command in commands:
            command.finish(seen)
    finally:
        raw.stop()
    seen.add("service log (raw key)", raw.log_path.read_text(errors="replace"))

    # ---- run 2: a keystore + password file, an admin token, a webhook secret from a file
    keys = tmp_path / "keys"
    keys.mkdir()
    keystore_json = json.dumps(Account.encrypt(devnet_account(1).key, PASSWORD, kdf="pbkdf2", iterations=2))
    keystore = secret_file(keys / "service.json", keystore_json)
    password = secret_file(keys / "password", PASSWORD + "\n")
    env = {
        "SWARM_SIGNER_KEYSTORE": str(keystore),
        "SWARM_SIGNER_PASSWORD_FILE": str(password),
        "SWARM_ADMIN_TOKEN": ADMIN_TOKEN,
        "SWARM_WEBHOOK_URLS": f"http://127.0.0.1:{free_port()}/hook",  # nobody listens: failures
        "SWARM_WEBHOOK_SECRET_FILE": str(secret_file(keys / "webhook", WEBHOOK_SECRET)),
        "SWARM_LOG_LEVEL": "DEBUG",
    }
    workdir = tmp_path / "keystore"
    workdir.mkdir()
    ks = ServiceProcess(net, workdir, f"sqlite:///{workdir}/ks.db", extra_env=env)
    upgrade(ks.database_url)
    ks.start()
    try:
        verdict_id = exercise(ks, net, providers[2], "keystore", seen)
        wrong = secret_file(keys / "wrong", "wrong-" + PASSWORD)
        readable = secret_file(keys / "readable", PASSWORD + "\n", 0o644)
        commands = [
            Command(
                "veto (the service's keystore: no VETOER_ROLE)",
                ["slash", "veto", verdict_id, "--reason", "test", "--yes"],
                ks.env(),
                expect="VETOER_ROLE",
            ),
            Command(
                "a wrong keystore password",
                ["pause", "--dry-run"],
                dict(ks.env(), SWARM_SIGNER_PASSWORD_FILE=str(wrong)),
                expect="wrong password",
            ),
            Command(  # the worker alone: it loads the signer first
                "serve with a password file others can read",
                ["serve", "--role", "worker"],
                dict(ks.env(), SWARM_SIGNER_PASSWORD_FILE=str(readable)),
                expect="chmod 600",
            ),
        ]
        for command in commands:
            command.start(workdir)
        wait_jailed(ks, verdict_id, seen)
        for command in commands:
            command.finish(seen)
    finally:
        ks.stop()
    seen.add("service log (keystore)", ks.log_path.read_text(errors="replace"))

    # ---- the search
    everything = "\n".join(f"==== {name}\n{text}" for name, text in seen.parts)
    lowered = everything.lower()
    # The capture is real: the services logged their work and the worker signed as account #1.
    assert "verdict accepted" in everything and devnet_account(1).address in everything
    assert "webhook" in lowered
    leaks = [
        f"private key of devnet account #{i}" for i, key in enumerate(KEYS) if shows_part_of(key, lowered)
    ]
    named = {
        "the default mnemonic": DEFAULT_MNEMONIC,
        "the keystore password": PASSWORD,
        "the admin token": ADMIN_TOKEN,
        "a token a client sent": WRONG_TOKEN,
        "the webhook secret": WEBHOOK_SECRET,
    }
    leaks += [name for name, secret in named.items() if secret.lower() in lowered]
    if leaks:
        where = {
            part: [name for name, text in seen.parts if secret.lower() in text.lower()]
            for part, secret in [*named.items(), *((f"key #{i}", k[:16]) for i, k in enumerate(KEYS))]
        }
        pytest.fail(f"secrets leaked: {leaks}; found in: { {k: v for k, v in where.items() if v} }")
    assert len(seen.parts) > 30, [name for name, _ in seen.parts]
