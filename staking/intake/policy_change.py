"""A policy change, said at start-up (SPEC section 11): the API process compares the hash of the
policy it decides with to the one the database last recorded (`meta.policy_hash`); on a change it
logs both and writes a `policy_changed` webhook, in the transaction that records the new hash. A
conditional update makes one replica of many say it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from staking.db import schema as t
from staking.policy import Policy
from staking.policy.identity import policy_hash

log = logging.getLogger("staking.intake")
KEY = "policy_hash"

Outbox = Callable[[Connection, str, dict[str, Any]], None]


def announce_policy(engine: Engine, policy: Policy, outbox: Outbox | None, source: str) -> str:
    """ "unchanged", "recorded" (the first hash this database sees: logged, no webhook), "changed"
    (logged and webhooked by this process) or "raced" (another replica recorded it first)."""
    new = policy_hash(policy)
    m = t.meta.c
    try:
        with engine.begin() as conn:
            old = conn.execute(select(m.value).where(m.key == KEY)).scalar()
            if old == new:
                log.info("policy unchanged", extra={"policy_hash": new, "policy_source": source})
                return "unchanged"
            if old is None:
                conn.execute(insert(t.meta).values(key=KEY, value=new))
            elif (
                conn.execute(update(t.meta).where(m.key == KEY, m.value == old).values(value=new)).rowcount
                != 1
            ):
                return "raced"  # another replica recorded it first
            if outbox is not None and old is not None:
                outbox(conn, "policy_changed", {"previous_hash": old, "policy_hash": new, "source": source})
    except IntegrityError:
        return "raced"  # another replica inserted it first
    log.warning(
        "policy changed" if old else "policy recorded",
        extra={"previous_policy_hash": old, "policy_hash": new, "policy_source": source},
    )
    return "changed" if old else "recorded"
