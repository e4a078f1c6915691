"""What every command group of `swarm-staking` shares: the app, the consoles, one-line errors,
the command's Runtime (settings, the service database, the deployment, the chain), and the
formatting of amounts and times.

Errors are one clear line on stderr and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import sys
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from staking.domain.vocabulary import TOKEN, Address

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from staking.config import Settings
    from staking.runtime import Runtime

app = typer.Typer(
    name="swarm-staking",
    help="Swarm staking & slashing service: verdicts in, on-chain consequences out.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
# Sections of `swarm-staking --help`.
SERVICE = "Run the service"
GOVERNANCE = "Governance"
RISK_TEAM = "Risk team"
PROVIDERS = "Providers"

# Addresses must never be cut: give piped output a wide line.
console = Console(width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, soft_wrap=True)  # an error stays one line, whatever the width


@app.callback()
def _root(ctx: typer.Context) -> None:
    """Swarm staking & slashing service. Settings come from SWARM_* variables or a .env file."""
    open_command_scope(ctx)


def fail(message: str, code: int = 1) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    raise typer.Exit(code)


def say(text: str) -> None:
    """One plain line on stdout: no markup, no highlighting, never wrapped."""
    console.print(text, soft_wrap=True, highlight=False, markup=False)


def confirm_or_abort(question: str, yes: bool) -> None:
    """Ask `question` unless `yes`; a "no" is the one-line error `aborted`."""
    if not yes and not typer.confirm(question):
        fail("aborted")


def parse_address(value: str) -> Address:
    from eth_utils import is_address, to_checksum_address

    if not is_address(value):
        fail(f"{value!r} is not an address (0x and 40 hex digits, checksummed if mixed case)")
    return to_checksum_address(value)


def tokens(amount: int) -> str:
    """Base units as whole SWARM with thousands separators (`10,000`, `12.5`)."""
    whole, frac = divmod(amount, TOKEN)
    return f"{whole:,}" + (f".{frac:018d}".rstrip("0") if frac else "")


def utc(ts: int) -> str:
    """Unix seconds as `2026-11-22 03:32:35Z`."""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def relative(ts: int, now: int) -> str:
    """`in 1m 58s` / `3m 5s ago` / `now`, relative to the chain's `now`."""
    delta = ts - now
    if delta == 0:
        return "now"
    rest = abs(delta)
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size or (unit == "s" and not parts):
            parts.append(f"{rest // size}{unit}")
            rest %= size
    text = " ".join(parts[:2])
    return f"in {text}" if delta > 0 else f"{text} ago"


@dataclass
class _CommandScope:
    runtime: Runtime | None = None


# The running command's scope, set by the root callback for the length of one invocation (as
# click keeps its current context), so helpers reach the command's Runtime without arguments.
_SCOPE: ContextVar[_CommandScope | None] = ContextVar("swarm_staking_command", default=None)


def open_command_scope(ctx: typer.Context) -> None:
    """Give the command of `ctx` its own Runtime scope, closed (engine disposed of) when it ends."""
    token = _SCOPE.set(_CommandScope())

    def close() -> None:
        scope = _SCOPE.get()
        _SCOPE.reset(token)
        if scope is not None and scope.runtime is not None:
            scope.runtime.close()

    ctx.call_on_close(close)


def runtime() -> Runtime:
    """The command's Runtime (`staking.runtime`): settings read once, parts built on first use,
    one per command invocation; outside a command (a script), a new one per call."""
    from staking.runtime import build_runtime

    scope = _SCOPE.get()
    if scope is None:
        return build_runtime(_read_settings())
    if scope.runtime is None:
        scope.runtime = build_runtime(_read_settings())
    return scope.runtime


def _read_settings() -> Settings:
    from staking.config import Settings

    try:
        return Settings()
    except Exception as exc:
        fail(f"bad configuration: {exc}")


def load_settings() -> Settings:
    """SWARM_* settings (one-line error when unusable), read once per command."""
    return runtime().settings


def service_engine() -> Engine:
    """The engine of SWARM_DATABASE_URL, refused unless the schema is current."""
    rt = runtime()  # a bad configuration fails with its own message
    try:
        return rt.engine
    except Exception as exc:
        fail(f"{type(exc).__name__}: {str(exc).splitlines()[0]}" if str(exc) else type(exc).__name__)


def reason_hash(reason: str) -> bytes:
    """keccak256 of the reason's UTF-8 text: what goes on chain as `reasonHash`."""
    from web3 import Web3

    if not reason.strip():
        fail("--reason must say why (its keccak256 goes on chain, the text stays with you)")
    return bytes(Web3.keccak(text=reason))
