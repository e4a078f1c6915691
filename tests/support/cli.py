"""The `swarm-staking` command line in-process (typer's CliRunner) against the session's Anvil:
a deployment file and a migrated SQLite database of the test's own, no signer configured unless
the test says whose key to use, and the two shapes every command's answer takes (success, or one
line `error: ...` on stderr)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from staking.cli import app
from staking.db.engine import upgrade
from staking.devnet.accounts import devnet_account
from tests.support.chain import Chain

SIGNER_ENV = ("SWARM_SIGNER_KEY", "SWARM_SIGNER_KEYSTORE", "SWARM_SIGNER_PASSWORD_FILE", "SWARM_RPC_URL")


@dataclass
class CommandLine:
    chain: Chain
    workdir: Path
    database_url: str
    env: dict[str, str] = field(default_factory=dict)

    def __call__(self, *args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(app, list(args), input=input, env=self.env)

    def sign_as(self, index: int | None) -> None:
        """Sign with devnet account `index` (SWARM_SIGNER_KEY, accepted on chain 31337); None: no
        signer configured (the devnet's default-mnemonic fallbacks apply)."""
        if index is None:
            self.env.pop("SWARM_SIGNER_KEY", None)
        else:
            self.env["SWARM_SIGNER_KEY"] = devnet_account(index).key.to_0x_hex()


@contextmanager
def command_line(chain: Chain, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CommandLine]:
    deployment = workdir / "deployment.json"
    chain.deployment.save(deployment)
    db = f"sqlite:///{workdir}/swarm.db"
    upgrade(db)
    monkeypatch.chdir(workdir)  # no stray .env
    for name in SIGNER_ENV:
        monkeypatch.delenv(name, raising=False)
    yield CommandLine(chain, workdir, db, {"SWARM_DEPLOYMENT": str(deployment), "SWARM_DATABASE_URL": db})


def succeeded(result: Result) -> str:
    """stdout of a command that exited 0 without a traceback."""
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return result.stdout


def refused(result: Result, *fragments: str) -> str:
    """The one error line of a command that failed as designed: non-zero, one `error: ` line on
    stderr holding every fragment, no traceback."""
    assert result.exit_code != 0, result.stdout
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]
