"""Engines for SQLite (embedded default) and PostgreSQL, and schema upgrades through Alembic."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url

from staking.domain.errors import SwarmError

MIGRATIONS = Path(__file__).parent / "migrations"


def normalize_url(url: str) -> str:
    """`postgresql://` means psycopg 3 here (the only driver installed)."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")  # readers never block the indexer's writes
            cur.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints; WAL keeps it consistent
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def redacted(url: str) -> str:
    """The URL with any password hidden, for logs and errors."""
    return make_url(normalize_url(url)).render_as_string(hide_password=True)


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


class SchemaOutdated(SwarmError, RuntimeError):
    pass


def require_current_schema(engine: Engine) -> None:
    """Refuse to run against a database that `swarm-staking db upgrade` has not brought to head."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        where = redacted(str(engine.url))
        state = "empty" if not inspect(engine).get_table_names() else f"at revision {current}"
        raise SchemaOutdated(
            f"database {where} is {state}, code expects {head}: run `swarm-staking db upgrade`"
        )
