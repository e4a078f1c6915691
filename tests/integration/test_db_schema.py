"""The migrations produce exactly the schema the code declares, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select

from staking.db.engine import head_revision, make_engine, require_current_schema
from staking.db.schema import metadata, providers

pytestmark = pytest.mark.integration


def test_migrations_match_the_declared_schema(db_url: str) -> None:
    engine = make_engine(db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == [], f"migrations and staking/db/schema.py disagree: {diff}"
    require_current_schema(engine)  # at head: no error
    assert head_revision() is not None


def test_amounts_round_trip_exactly_and_floats_are_refused(db_url: str) -> None:
    engine = make_engine(db_url)
    huge = 2**256 - 1
    row = dict(
        address="0x" + "1" * 40,
        provider_class=0,
        gpus=1,
        metadata_uri="",
        active=huge,
        unbonding=10**30,
        unbonding_end=0,
        withdrawn=0,
        slashed=0,
        jailed=False,
        jailed_until=0,
        tombstoned=False,
        recovery_path=0,
        recovery_stage=0,
        pending_slashes=0,
        probation_epochs=0,
        registered_block=1,
        updated_block=1,
    )
    with engine.begin() as conn:
        conn.execute(providers.insert().values(**row))
    with engine.connect() as conn:
        got = conn.execute(select(providers.c.active, providers.c.unbonding)).one()
    assert got == (huge, 10**30) and isinstance(got[0], int)
    with pytest.raises(Exception, match="int base units"), engine.begin() as conn:
        conn.execute(providers.insert().values(**dict(row, address="0x" + "2" * 40, active=1.5)))


def test_an_unmigrated_database_is_refused_with_the_command_to_run(tmp_path: object) -> None:
    from staking.db.engine import SchemaOutdated

    engine = make_engine(f"sqlite:///{tmp_path}/empty.db")
    with pytest.raises(SchemaOutdated, match="swarm-staking db upgrade"):
        require_current_schema(engine)
