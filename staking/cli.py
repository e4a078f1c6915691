"""`swarm-staking`: the command line of the service (SPEC section 5).

Errors are one clear line on stderr and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from staking.types import TOKEN

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from indexer.runner import Indexer
    from staking.chain.contracts import StakingContract
    from staking.config import Settings
    from staking.deployment import Deployment

app = typer.Typer(
    name="swarm-staking",
    help="Swarm staking & slashing service: verdicts in, on-chain consequences out.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
# Addresses must never be cut: give piped output a wide line.
console = Console(width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, soft_wrap=True)  # an error stays one line, whatever the width


@app.callback()
def _root() -> None:
    """Swarm staking & slashing service. Settings come from SWARM_* variables or a .env file."""


def fail(message: str, code: int = 1) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    raise typer.Exit(code)


def _tokens(amount: int) -> str:
    whole, frac = divmod(amount, TOKEN)
    return f"{whole:,}" + (f".{frac:018d}".rstrip("0") if frac else "")


@app.command()
def devnet(
    node: Annotated[str, typer.Option(help="local chain: anvil or hardhat")] = "anvil",
    port: Annotated[int, typer.Option(help="JSON-RPC port on 127.0.0.1")] = 8545,
    block_time: Annotated[int, typer.Option(help="seconds per block after set-up; 0 = automine")] = 1,
    deployment: Annotated[Path, typer.Option(help="where to write the deployment file")] = Path(
        "deployments/localhost.json"
    ),
) -> None:
    """Start a local chain, compile, deploy, stake the demo providers; run until Ctrl-C."""
    from staking.chain.contracts import StakingContract
    from staking.devnet.build import BuildError, ensure_compiled
    from staking.devnet.node import LocalNode, NodeError
    from staking.devnet.provision import provision_devnet

    if node not in ("anvil", "hardhat"):
        fail(f"--node must be anvil or hardhat, not {node!r}")
    if block_time < 0:
        fail("--block-time must be 0 (automine) or a positive number of seconds")
    try:
        if ensure_compiled():
            console.print("compiled contracts")
        chain = LocalNode.start(node, port)  # type: ignore[arg-type]
    except (BuildError, NodeError) as exc:
        fail(str(exc))

    # Ctrl-C and SIGTERM both stop the chain cleanly. SIGINT is re-armed explicitly because a
    # process started in the background by a non-interactive shell inherits it as ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        try:
            result = provision_devnet(chain.w3, chain.rpc_url)
        except Exception as exc:
            fail(f"devnet set-up failed: {exc} (chain log: {chain.log_path})")
        result.save(deployment)
        chain.set_block_time(block_time)
        staking = StakingContract(chain.w3, result.contracts.SwarmStaking)
        _print_summary(node, chain.rpc_url, block_time, deployment, result, staking)
        while chain.alive():
            time.sleep(0.5)
        fail(f"the {node} process exited unexpectedly; see {chain.log_path}")
    except KeyboardInterrupt:
        console.print(f"\nstopping {node} …")
    finally:
        chain.stop()
    console.print("devnet stopped")


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _print_summary(
    node: str, rpc_url: str, block_time: int, path: Path, result: Deployment, staking: StakingContract
) -> None:
    console.print(
        f"[bold green]devnet ready[/]: {node} at {rpc_url} (chain id {result.chain_id}, "
        f"{'automine' if block_time == 0 else f'{block_time}s blocks'})"
    )
    console.print(f"  SwarmStaking {result.contracts.SwarmStaking}")
    console.print(f"  SwarmToken   {result.contracts.SwarmToken}")
    console.print(f"  deployment   {path}")
    a = result.accounts
    console.print(f"  governance #0 {a.governance} · service #1 {a.service} · detector #2 {a.detector}")
    table = Table(title="demo providers", show_edge=False)
    for col in ("account", "class", "gpus", "stake (SWARM)", "minimum"):
        table.add_column(col)
    for p in a.providers:
        rec = staking.provider(p)
        table.add_row(
            p, rec.provider_class.wire, str(rec.gpus), _tokens(rec.active), _tokens(staking.min_stake_of(p))
        )
    console.print(table)
    console.print(
        "keys: the public default mnemonic 'test test … junk' (devnet only). Ctrl-C stops the chain."
    )


db_app = typer.Typer(help="Database schema: upgrade, reset.", no_args_is_help=True)
app.add_typer(db_app, name="db")


def _settings() -> Settings:
    from staking.config import Settings

    try:
        return Settings()
    except Exception as exc:
        fail(f"bad configuration: {exc}")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema of SWARM_DATABASE_URL to the current version."""
    from staking.db.engine import redacted, upgrade

    settings = _settings()
    try:
        upgrade(settings.database_url)
    except Exception as exc:
        fail(f"upgrade of {redacted(settings.database_url)} failed: {type(exc).__name__}: {exc}")
    console.print(f"database {redacted(settings.database_url)} is at the current schema")


@db_app.command("reset")
def db_reset(
    yes: Annotated[bool, typer.Option("--yes", help="do not ask")] = False,
) -> None:
    """Drop every table of SWARM_DATABASE_URL and recreate them empty (after a devnet restart)."""
    from staking.db.engine import make_engine, redacted, upgrade
    from staking.db.lock import WriterBusy, single_writer
    from staking.db.schema import metadata

    settings = _settings()
    where = redacted(settings.database_url)
    if not yes and not typer.confirm(
        f"drop all data (indexed projection and the service's verdict records) in {where}?"
    ):
        fail("aborted", code=1)
    engine = make_engine(settings.database_url)
    try:
        with single_writer(engine, "indexer"):
            metadata.drop_all(engine)
            with engine.begin() as conn:
                conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
                conn.exec_driver_sql("DROP TABLE IF EXISTS scheduler_jobs")
    except WriterBusy as exc:
        fail(f"{exc}; stop it before resetting")
    upgrade(settings.database_url)
    console.print(f"database {where} reset")


investigation_app = typer.Typer(
    help="Investigations opened by suspicious activity: list, resolve.", no_args_is_help=True
)
app.add_typer(investigation_app, name="investigation")


def _service_engine() -> Engine:
    """The engine of SWARM_DATABASE_URL, refused unless the schema is current."""
    from staking.db.engine import make_engine, require_current_schema

    settings = _settings()
    try:
        engine = make_engine(settings.database_url)
        require_current_schema(engine)
    except Exception as exc:
        fail(f"{type(exc).__name__}: {str(exc).splitlines()[0]}" if str(exc) else type(exc).__name__)
    return engine


@investigation_app.command("list")
def investigation_list(
    status: Annotated[str | None, typer.Option(help="open or resolved (default: both)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="a JSON array, as GET /v1/investigations")] = False,
) -> None:
    """List investigations, newest first."""
    from staking.intake.service import INVESTIGATION_STATUSES, MAX_PAGE, list_investigations

    if status is not None and status not in INVESTIGATION_STATUSES:
        fail(f"--status must be one of {', '.join(INVESTIGATION_STATUSES)}, not {status!r}")
    engine = _service_engine()
    items: list[dict[str, object]] = []
    cursor: str | None = None
    try:
        while True:
            page = list_investigations(engine, status, MAX_PAGE, cursor)
            items += page["items"]
            if (cursor := page["next_cursor"]) is None:
                break
    except Exception as exc:
        fail(f"cannot read investigations: {type(exc).__name__}: {str(exc).splitlines()[0]}")
    if as_json:
        import json

        typer.echo(json.dumps(items, indent=2))
        return
    for i in items:
        console.print(
            f"{i['verdict_id']}  {i['status']:8}  {i['event_type']}/{i['severity']}  "
            f"provider {i['provider']}  opened {i['opened_at']}",
            soft_wrap=True,
            highlight=False,
            markup=False,
        )
        if i["status"] == "resolved":
            console.print(
                f"    resolved {i['resolved_at']} by {i['resolved_by']}: {i['resolution']}",
                soft_wrap=True,
                highlight=False,
                markup=False,
            )
    noun = "investigation" if len(items) == 1 else "investigations"
    opened = sum(1 for i in items if i["status"] == "open")
    what = f"{status} {noun}" if status else f"{noun} ({opened} open)"
    console.print(f"{len(items)} {what}", highlight=False)


@investigation_app.command("resolve")
def investigation_resolve(
    verdict_id: Annotated[str, typer.Argument(help="id of the verdict that opened the investigation")],
    outcome: Annotated[str, typer.Option(help="cleared or confirmed")],
    note: Annotated[str, typer.Option(help="why: kept with the resolution")],
    by: Annotated[str | None, typer.Option(help="who resolves it (default: $USER)")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="do not ask")] = False,
) -> None:
    """Resolve an open investigation as cleared or confirmed (governance / security team)."""
    import os

    from staking.intake.service import (
        InvestigationError,
        check_resolution,
        open_investigation,
        resolve_investigation,
    )

    resolver = by if by is not None else os.environ.get("USER") or os.environ.get("LOGNAME")
    if resolver is None:
        fail("who resolves it? $USER is not set: pass --by NAME")
    try:
        vid, resolution, resolver = check_resolution(verdict_id, outcome, note, resolver)
    except ValueError as exc:
        fail(str(exc))
    engine = _service_engine()
    try:
        item = open_investigation(engine, vid)
    except InvestigationError as exc:
        fail(str(exc))
    if not yes and not typer.confirm(
        f"resolve the investigation of verdict {vid} (provider {item['provider']}) as {resolution}?"
    ):
        fail("aborted", code=1)
    try:
        done = resolve_investigation(engine, vid, outcome, note, resolver, int(time.time() * 1000))
    except (InvestigationError, ValueError) as exc:
        fail(str(exc))
    console.print(
        f"investigation of verdict {vid} resolved by {done['resolved_by']}: {done['resolution']}",
        soft_wrap=True,
        highlight=False,
        markup=False,
    )
    if outcome == "confirmed":
        console.print(
            f"no penalty follows from this by itself: to penalize provider {done['provider']}, a "
            "detector must sign and submit a new verdict of the confirmed event type (e.g. "
            "security_breach or policy_violation); a suspicious_activity verdict never penalizes "
            "(SPEC section 1)",
            soft_wrap=True,
            highlight=False,
            markup=False,
        )


def _open_indexer(settings: Settings, progress: bool) -> tuple[Engine, Indexer]:
    from indexer.runner import Indexer, IndexerConfig, Progress
    from staking.chain.connect import connect
    from staking.db.engine import make_engine, require_current_schema
    from staking.deployment import Deployment

    try:
        deployment = Deployment.load(settings.deployment)
    except (FileNotFoundError, ValueError) as exc:
        fail(str(exc))
    engine = make_engine(settings.database_url)
    try:
        require_current_schema(engine)
    except Exception as exc:
        fail(str(exc))
    w3 = connect(settings.rpc_url or deployment.rpc_url)
    config = IndexerConfig(
        confirmations=settings.confirmations,
        initial_span=settings.indexer_initial_span,
        max_span=settings.indexer_max_span,
    )
    return engine, Indexer(engine, w3, deployment, config, progress=Progress() if progress else None)


def _run_indexer(exit_at_head: bool) -> None:
    import threading

    from indexer.projection import ProjectionError
    from indexer.store import ChainMismatch
    from staking.db.lock import WriterBusy, single_writer
    from staking.logs import configure_logging

    settings = _settings()
    configure_logging(settings.log_level, settings.log_json)
    engine, indexer = _open_indexer(settings, progress=True)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        with single_writer(engine, "indexer", wait=0 if exit_at_head else 5):
            indexer.run(stop, exit_at_head=exit_at_head)
    except (WriterBusy, ChainMismatch, ProjectionError) as exc:
        fail(str(exc))
    s = indexer.status
    console.print(
        f"indexed to block {s.indexed} (head {s.head}); {s.events} events this run, {s.reorgs} reorgs"
    )


@app.command("index")
def index_once() -> None:
    """Index SwarmStaking events up to the current head, then exit (backfills, cron, tests)."""
    _run_indexer(exit_at_head=True)


@app.command()
def serve(
    role: Annotated[str, typer.Option(help="all | api | indexer | worker")] = "all",
    host: Annotated[str, typer.Option(help="API bind address")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="API port")] = 8000,
) -> None:
    """Run the service until SIGINT/SIGTERM: API, indexer and worker (or one role for scale-out)."""
    from indexer.projection import ProjectionError
    from indexer.store import ChainMismatch
    from staking.chain.keys import SignerError
    from staking.db.engine import SchemaOutdated
    from staking.db.lock import WriterBusy
    from staking.logs import configure_logging
    from staking.service import ROLES
    from staking.service import serve as run_service

    if role not in ROLES:
        fail(f"--role must be one of {', '.join(ROLES)}, not {role!r}")
    settings = _settings()
    configure_logging(settings.log_level, settings.log_json)
    try:
        run_service(settings, role, host, port)
    except (
        WriterBusy,
        ChainMismatch,
        ProjectionError,
        SchemaOutdated,
        SignerError,
        FileNotFoundError,
    ) as exc:
        fail(str(exc))


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
