"""`swarm-staking index` and `swarm-staking serve`: the indexer and the service processes."""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING, Annotated

import typer

from staking.cli.common import SERVICE, app, console, fail, load_settings, runtime

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from indexer.runner import Indexer


def _open_indexer(progress: bool) -> tuple[Engine, Indexer]:
    """The command's Runtime's engine and indexer, each checked with a one-line error."""
    from indexer.runner import Progress
    from staking.chain.artifacts import ArtifactMissing

    rt = runtime()
    try:
        rt.deployment  # noqa: B018 - the access loads and checks the file
    except (FileNotFoundError, ValueError) as exc:
        fail(str(exc))
    try:
        engine = rt.engine
    except Exception as exc:
        fail(str(exc))
    try:
        return engine, rt.indexer(progress=Progress() if progress else None)
    except ArtifactMissing as exc:
        fail(str(exc))


def _run_indexer(exit_at_head: bool) -> None:
    import threading

    from indexer.projection import ProjectionError
    from indexer.store import ChainMismatch
    from staking.db.lock import WriterBusy, single_writer
    from staking.logs import configure_logging

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_json)
    engine, indexer = _open_indexer(progress=True)
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


@app.command("index", rich_help_panel=SERVICE)
def index_once() -> None:
    """Index SwarmStaking events up to the current head, then exit (backfills, cron, tests)."""
    _run_indexer(exit_at_head=True)


@app.command(rich_help_panel=SERVICE)
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
    from staking.logs import configure_logging
    from staking.service import ROLES
    from staking.service import serve as run_service

    if role not in ROLES:
        fail(f"--role must be one of {', '.join(ROLES)}, not {role!r}")
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_json)
    try:
        run_service(settings, role, host, port)
    except (  # a second indexer or worker stands by instead of failing: no WriterBusy here
        ChainMismatch,
        ProjectionError,
        SchemaOutdated,
        SignerError,
        FileNotFoundError,
    ) as exc:
        fail(str(exc))
