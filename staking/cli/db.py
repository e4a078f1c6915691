"""`swarm-staking db upgrade|reset`: the schema of SWARM_DATABASE_URL."""

from __future__ import annotations

from typing import Annotated

import typer

from staking.cli.common import SERVICE, app, confirm_or_abort, console, fail, load_settings

db_app = typer.Typer(help="Database schema: upgrade, reset.", no_args_is_help=True)
app.add_typer(db_app, name="db", rich_help_panel=SERVICE)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema of SWARM_DATABASE_URL to the current version."""
    from staking.db.engine import redacted, upgrade

    settings = load_settings()
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

    settings = load_settings()
    where = redacted(settings.database_url)
    confirm_or_abort(f"drop all data (indexed projection and the service's verdict records) in {where}?", yes)
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
