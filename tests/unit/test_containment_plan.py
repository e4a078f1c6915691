"""The plan of `detector revoke` from recorded rows (pure, `staking.worker.containment.build_plan`):
which unsent actions are cancelled, which pending slashes rest only on the detector's verdicts,
which jails may be lifted and which must stay because another verdict holds them too."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from staking.worker.containment import (
    BATCH,
    ActionRow,
    Facts,
    OtherJail,
    Plan,
    ProviderRow,
    SlashRow,
    batches,
    build_plan,
)

pytestmark = pytest.mark.unit

ROGUE = "0x" + "ee" * 20
NOW_S = 1_795_000_000


def vid(n: int) -> str:
    return "0x" + f"{n:064x}"


def addr(n: int) -> str:
    return "0x" + f"{n:040x}"


def action(n: int, kind: str, state: str, provider: int | None = None, aid: int | None = None) -> ActionRow:
    return ActionRow(
        aid if aid is not None else n * 10 + len(kind), vid(n), addr(provider or n), kind, state, "executing"
    )


def jailed(n: int, by: str | None, tombstoned: bool = False, reinstated_at: int | None = None) -> ProviderRow:
    return ProviderRow(addr(n), True, by, tombstoned, reinstated_at)


def plan(
    own: list[int],
    actions: Sequence[ActionRow] = (),
    slashes: Sequence[SlashRow] = (),
    providers: Sequence[ProviderRow] = (),
    others: Sequence[OtherJail] = (),
) -> Plan:
    facts = Facts(
        frozenset(vid(n) for n in own), 0, list(actions), list(slashes), list(providers), list(others)
    )
    return build_plan(ROGUE, True, None, facts, NOW_S)


def test_only_unsent_actions_are_cancelled() -> None:
    p = plan(
        [1, 2],
        [
            action(1, "jail", "confirmed", aid=1),
            action(1, "propose_slash", "pending", aid=2),
            action(1, "begin_recovery", "pending", aid=3),
            action(2, "propose_slash", "held", aid=4),
            action(2, "jail", "submitted", aid=5),
            action(2, "warn", "skipped", aid=6),
        ],
    )
    assert p.cancel == (2, 3, 4)
    assert p.cancel_kinds == {"propose_slash": 2, "begin_recovery": 1}
    assert p.touched_by_cancel == {vid(1), vid(2)}


def test_pending_slashes_are_vetoed_and_sent_ones_the_index_has_not_seen_too() -> None:
    p = plan(
        [1, 2, 3, 4],
        [action(n, "propose_slash", "confirmed") for n in (1, 2, 3)]
        + [action(4, "propose_slash", "submitted")],
        [
            SlashRow(vid(1), addr(1), 1, 500),  # pending
            SlashRow(vid(2), addr(2), 2, 700),  # vetoed already
            SlashRow(vid(3), addr(3), 3, 900),  # executed: too late
        ],
    )
    assert [(s.id, s.amount) for s in p.slashes] == [(vid(1), 500), (vid(4), None)]
    assert p.at_stake == 500 and p.unindexed_slashes == 1


def test_a_jail_resting_only_on_its_verdicts_is_lifted() -> None:
    p = plan(
        [1, 2],
        [action(1, "jail", "confirmed"), action(2, "jail", "submitted")],
        providers=[jailed(1, vid(1))],  # provider 2: jailed on chain, not indexed yet
    )
    assert p.jails == (addr(1), addr(2)) and p.kept == ()
    assert p.touched_by_jails == {vid(1), vid(2)}


def test_a_jail_the_chain_holds_for_another_verdict_stays() -> None:
    p = plan([1], [action(1, "jail", "confirmed")], providers=[jailed(1, vid(99))])
    assert p.jails == () and p.kept == (addr(1),)
    unknown = plan([1], [action(1, "jail", "confirmed")], providers=[jailed(1, None)])
    assert unknown.jails == () and unknown.kept == (addr(1),)


def test_another_verdicts_jail_in_force_keeps_the_provider_jailed() -> None:
    confirmed_ms = (NOW_S - 100) * 1000
    rows = [jailed(n, vid(n)) for n in (1, 2, 3, 4)] + [jailed(5, vid(5), reinstated_at=NOW_S - 50)]
    p = plan(
        [1, 2, 3, 4, 5],
        [action(n, "jail", "confirmed") for n in (1, 2, 3, 4, 5)],
        providers=rows,
        others=[
            OtherJail(addr(1), 0, confirmed_ms),  # until recovery
            OtherJail(addr(2), 3600, confirmed_ms),  # an hour: still running
            OtherJail(addr(3), 60, confirmed_ms),  # a minute: ran out
            OtherJail(addr(4), 3600, None),  # sent, not confirmed yet
            OtherJail(addr(5), 0, confirmed_ms),  # ended by a reinstatement since
        ],
    )
    assert p.kept == (addr(1), addr(2), addr(4))
    assert p.jails == (addr(3), addr(5))


def test_a_tombstoned_provider_is_neither_lifted_nor_kept() -> None:
    p = plan([1], [action(1, "jail", "confirmed")], providers=[jailed(1, vid(1), tombstoned=True)])
    assert p.jails == () and p.kept == ()


def test_an_unsent_jail_is_cancelled_not_lifted() -> None:
    p = plan([1], [action(1, "jail", "pending")])
    assert p.jails == () and p.cancel_kinds == {"jail": 1}


def test_the_verdicts_rejected_are_those_the_chosen_steps_undo() -> None:
    p = plan(
        [1, 2, 3],
        [
            action(1, "propose_slash", "pending"),
            action(2, "propose_slash", "confirmed"),
            action(3, "jail", "confirmed"),
        ],
        [SlashRow(vid(2), addr(2), 1, 500)],
        [jailed(3, vid(3))],
    )
    assert p.rejects(False, False) == {vid(1)}
    assert p.rejects(True, False) == {vid(1), vid(2)}
    assert p.rejects(True, True) == {vid(1), vid(2), vid(3)}


def test_batches_hold_at_most_batch_items_in_order() -> None:
    items = list(range(2 * BATCH + 1))
    chunks = batches(items)
    assert [len(c) for c in chunks] == [BATCH, BATCH, 1]
    assert [x for c in chunks for x in c] == items
    assert batches([]) == []
