"""Appeals of slashes (SPEC section 9) as the indexer folds them, on hand-made events: the pure
fold, then the indexer's own `Store` over a migrated SQLite file (the council's webhook written in
the batch's transaction, the appeal events filed under the provider, a reorg rolled back), then
`GET /v1/appeals` and the provider document over the same rows (no chain, no socket)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from indexer.appeals import appeal_notice
from indexer.projection import Projection, ProjectionError, event_keys
from indexer.store import Store
from staking.db import schema as t
from staking.domain.events import DecodedEvent
from tests.support.offchain import DEPLOYED_BLOCK, NOW, OffChainApi

pytestmark = pytest.mark.unit

P = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
SID = "0x" + "11" * 32
EVIDENCE = "0x" + "e1" * 32
REASON = "0x" + "33" * 32
BOND = 100 * 10**18
WINDOW_END = NOW + 3_600
DEADLINE = 4_000_000_000  # after the app's clock (the wall clock) and every indexed block


class Chain:
    """Blocks of hand-made events: block n has hash 0x..n and time NOW + 12 n."""

    def __init__(self, first: int = DEPLOYED_BLOCK + 1) -> None:
        self.block = first - 1
        self.log = 0

    def ev(self, name: str, new_block: bool = True, **args: Any) -> DecodedEvent:
        if new_block:
            self.block, self.log = self.block + 1, 0
        else:
            self.log += 1
        h = f"0x{self.block:064x}"
        tx = f"0x{self.block:062x}{self.log:02x}"
        return DecodedEvent(name, self.block, h, self.log, tx, self.time(self.block), args)

    @staticmethod
    def time(block: int) -> int:
        return NOW + 12 * block


def fold(*events: DecodedEvent) -> Projection:
    proj = Projection()
    for e in events:
        proj.apply(e, e.block_time or 0)
    return proj


def history(c: Chain) -> list[DecodedEvent]:
    """A provider with stake and a proposed slash, as the contract emits them."""
    return [
        c.ev("ProviderRegistered", provider=P, **{"class": 0}, gpus=2, metadataURI="ipfs://n"),
        c.ev("Staked", provider=P, amount=3_000 * 10**18, active=3_000 * 10**18),
        c.ev(
            "SlashProposed",
            id=SID,
            provider=P,
            bps=500,
            amount=150 * 10**18,
            executableAt=WINDOW_END,
            eventType=1,
            severity=2,
            evidenceHash="0x" + "22" * 32,
        ),
    ]


def appealed(c: Chain) -> DecodedEvent:
    return c.ev("SlashAppealed", id=SID, provider=P, evidenceHash=EVIDENCE, bond=BOND, deadline=DEADLINE)


# ------------------------------------------------------------------------------------ the fold


def test_an_appeal_opens_with_its_bond_and_deadline_and_leaves_the_slash_pending() -> None:
    c = Chain()
    appeal = appealed(c)
    proj = fold(*history(c), appeal)
    a = proj.appeals[SID]
    assert (a.state, a.provider, a.evidence_hash, a.bond, a.deadline) == ("open", P, EVIDENCE, BOND, DEADLINE)
    assert (a.appealed_block, a.appealed_tx, a.appealed_at) == (
        appeal.block_number,
        appeal.tx_hash,
        appeal.block_time,
    )
    assert proj.slashes[SID].state == 1 and proj.providers[P].pending_slashes == 1
    assert a.resolved_at is None and a.reason_hash is None


def test_an_upheld_appeal_is_upheld_and_the_slash_vetoed_by_its_own_event() -> None:
    c = Chain()
    events = [*history(c), appealed(c)]
    resolved = c.ev("AppealResolved", id=SID, upheld=True, reasonHash=REASON, executableAt=0)
    vetoed = c.ev("SlashVetoed", new_block=False, id=SID, provider=P, vetoer=P, reasonHash=REASON)
    proj = fold(*events, resolved, vetoed)
    a = proj.appeals[SID]
    assert (a.state, a.reason_hash, a.resolved_at, a.executable_at) == (
        "upheld",
        REASON,
        resolved.block_time,
        None,
    )
    assert proj.slashes[SID].state == 2 and proj.slashes[SID].executable_at == WINDOW_END
    assert proj.providers[P].pending_slashes == 0


def test_a_rejected_appeal_moves_the_slash_executable_time_to_the_grace_the_event_carries() -> None:
    c = Chain()
    proj = fold(*history(c), appealed(c))
    later = WINDOW_END + 86_400
    proj.dirty_slashes.clear()
    proj.apply(c.ev("AppealResolved", id=SID, upheld=False, reasonHash=REASON, executableAt=later), 5)
    a = proj.appeals[SID]
    assert (a.state, a.executable_at, a.resolved_at) == ("rejected", later, 5)
    assert proj.slashes[SID].executable_at == later and proj.slashes[SID].state == 1
    assert SID in proj.dirty_slashes, "the slash row is written back with its new executableAt"


def test_an_unresolved_appeal_expires_when_the_slash_executes() -> None:
    c = Chain()
    events = [*history(c), appealed(c)]
    expired = c.ev("AppealExpired", id=SID, bondRefunded=BOND)
    executed = c.ev(
        "SlashExecuted", new_block=False, id=SID, provider=P, amount=150 * 10**18,
        fromActive=150 * 10**18, fromUnbonding=0,
    )  # fmt: skip
    proj = fold(*events, expired, executed)
    assert proj.appeals[SID].state == "expired" and proj.appeals[SID].resolved_at == expired.block_time
    assert proj.slashes[SID].state == 3 and proj.providers[P].slashed == 150 * 10**18


def test_a_resolution_of_an_appeal_never_indexed_signals_a_gap() -> None:
    c = Chain()
    with pytest.raises(ProjectionError, match="unknown appeal"):
        fold(*history(c), c.ev("AppealResolved", id=SID, upheld=True, reasonHash=REASON, executableAt=0))
    with pytest.raises(ProjectionError, match="unknown appeal"):
        fold(c.ev("AppealExpired", id=SID, bondRefunded=BOND))


def test_appeal_parameters_become_parameters_and_appeal_events_file_under_the_slash() -> None:
    c = Chain()
    proj = fold(c.ev("AppealParamsSet", bond=BOND, grace=86_400, timeout=604_800))
    values = {k: v for k, (v, _) in proj.params.items()}
    assert values == {"appeal_bond": str(BOND), "appeal_grace": "86400", "appeal_timeout": "604800"}
    assert event_keys(appealed(c)) == (P, SID, None)
    assert event_keys(c.ev("AppealExpired", id=SID, bondRefunded=BOND)) == (None, SID, None)


def test_the_councils_notice_names_the_slash_the_evidence_the_bond_and_the_deadline() -> None:
    c = Chain()
    proj = fold(*history(c), appealed(c))
    notice = appeal_notice(proj.appeals[SID])
    assert notice["slash_id"] == SID and notice["provider"] == P and notice["evidence_hash"] == EVIDENCE
    assert notice["bond"] == str(BOND) and notice["deadline"] == DEADLINE
    assert notice["deadline_at"].endswith("Z") and f"appeal resolve {SID}" in notice["resolve"]


# ------------------------------------------------------------------------------------ the store


@pytest.fixture
def store(api: OffChainApi) -> Iterator[tuple[Store, list[tuple[str, dict[str, Any]]]]]:
    sent: list[tuple[str, dict[str, Any]]] = []
    yield Store(api.engine, outbox=lambda conn, kind, data: sent.append((kind, data))), sent


def apply(store: Store, events: list[DecodedEvent]) -> None:
    last = events[-1].block_number
    times = {e.block_number: Chain.time(e.block_number) for e in events}
    store.apply_batch(events, times, (last, f"0x{last:064x}", Chain.time(last)))


def rows(store: Store, table: Any) -> list[dict[str, Any]]:
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(table)).mappings()]


def test_the_store_keeps_the_appeal_announces_it_once_and_files_its_resolution_under_the_provider(
    store: tuple[Store, list[tuple[str, dict[str, Any]]]],
) -> None:
    s, sent = store
    c = Chain()
    apply(s, [*history(c), appealed(c)])
    assert [k for k, _ in sent] == ["appeal"] and sent[0][1]["slash_id"] == SID
    later = WINDOW_END + 86_400
    apply(s, [c.ev("AppealResolved", id=SID, upheld=False, reasonHash=REASON, executableAt=later)])
    assert len(sent) == 1, "only a new appeal is announced"
    (appeal,) = rows(s, t.appeals)
    assert (appeal["state"], appeal["executable_at"], appeal["bond"]) == ("rejected", later, BOND)
    (slash,) = rows(s, t.slashes)
    assert slash["executable_at"] == later
    filed = {r["name"]: r["provider"] for r in rows(s, t.events) if r["slash_id"] == SID}
    assert filed == {"SlashProposed": P, "SlashAppealed": P, "AppealResolved": P}


def test_a_reorg_that_orphans_the_resolution_reopens_the_appeal_and_restores_the_window(
    store: tuple[Store, list[tuple[str, dict[str, Any]]]],
) -> None:
    s, _ = store
    c = Chain()
    apply(s, [*history(c), appealed(c)])
    ancestor = c.block
    apply(s, [c.ev("AppealResolved", id=SID, upheld=False, reasonHash=REASON, executableAt=WINDOW_END + 9)])
    assert s.rollback_to(ancestor, f"0x{ancestor:064x}", Chain.time(ancestor)) == 1
    (appeal,) = rows(s, t.appeals)
    assert (appeal["state"], appeal["executable_at"], appeal["resolved_at"]) == ("open", None, None)
    assert rows(s, t.slashes)[0]["executable_at"] == WINDOW_END
    assert s.rollback_to(ancestor - 1, f"0x{ancestor - 1:064x}", Chain.time(ancestor - 1)) == 1
    assert rows(s, t.appeals) == [] and rows(s, t.slashes)[0]["state"] == 1


# ------------------------------------------------------------------------------------ the read side


def test_the_listing_and_the_document_show_the_appeal(api: OffChainApi) -> None:
    s = Store(api.engine)
    c = Chain()
    apply(s, [*history(c), appealed(c)])
    page = api.client.get("/v1/appeals").json()
    (item,) = page["items"]
    assert (item["id"], item["state"], item["bond"], item["deadline"]) == (SID, "open", str(BOND), DEADLINE)
    assert item["slash"] == {
        "state": "pending",
        "bps": 500,
        "amount": str(150 * 10**18),
        "executable_at": WINDOW_END,
    }
    assert api.client.get("/v1/appeals", params={"state": "upheld"}).json()["items"] == []
    assert api.client.get("/v1/appeals", params={"provider": P.lower()}).json()["items"] == [item]
    doc = api.client.get(f"/v1/providers/{P}").json()
    (pending,) = doc["pending_slashes"]
    assert pending["appeal"]["state"] == "open" and pending["appeal"]["evidence_hash"] == EVIDENCE
    assert pending["appeal_until"] is None, "one appeal per slash"
    assert doc["recovery"] is None, "nothing left to appeal"
    events = api.client.get(f"/v1/providers/{P}/events").json()["items"]
    assert events[0]["name"] == "SlashAppealed" and events[0]["args"]["bond"] == str(BOND)


def test_an_open_appeal_past_its_deadline_reads_expired_as_appeal_of_answers(api: OffChainApi) -> None:
    s = Store(api.engine)
    c = Chain()
    events = history(c)
    deadline = Chain.time(c.block + 1)  # the block of the appeal itself: expired from then on
    apply(
        s,
        [
            *events,
            c.ev("SlashAppealed", id=SID, provider=P, evidenceHash=EVIDENCE, bond=BOND, deadline=deadline),
        ],
    )
    (item,) = api.client.get("/v1/appeals", params={"state": "expired"}).json()["items"]
    assert item["state"] == "expired" and item["resolved_at"] is None, "not settled until executeSlash"
    assert api.client.get("/v1/appeals", params={"state": "open"}).json()["items"] == []
    (pending,) = api.client.get(f"/v1/providers/{P}").json()["pending_slashes"]
    assert pending["appeal"]["state"] == "expired"
    (listed,) = api.client.get("/v1/slashes").json()["items"]
    assert listed["appeal"] == pending["appeal"]


def test_appeals_page_newest_first_and_refuse_bad_input_as_problems(api: OffChainApi) -> None:
    s = Store(api.engine)
    c = Chain()
    base = history(c)
    ids = [f"0x{i:064x}" for i in range(1, 4)]
    more = []
    for sid in ids:
        more.append(
            c.ev(
                "SlashProposed", id=sid, provider=P, bps=100, amount=1, executableAt=WINDOW_END,
                eventType=1, severity=1, evidenceHash=EVIDENCE,
            )
        )  # fmt: skip
        more.append(
            c.ev("SlashAppealed", id=sid, provider=P, evidenceHash=EVIDENCE, bond=BOND, deadline=DEADLINE)
        )
    apply(s, [*base, *more])
    first = api.client.get("/v1/appeals", params={"limit": 2}).json()
    second = api.client.get("/v1/appeals", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [i["id"] for i in first["items"] + second["items"]] == ids[::-1]
    assert second["next_cursor"] is None
    for params in ({"state": "pending"}, {"provider": "0x123"}, {"cursor": "bm9wZQ"}, {"limit": 0},
                   {"provider": "0x90f79bf6eb2c4f870365e785982e1f101e93B906"}):  # fmt: skip
        r = api.client.get("/v1/appeals", params=params)
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json"), (
            params
        )


def test_metrics_count_appeals_by_state_and_the_overdue_ones(api: OffChainApi) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    s = Store(api.engine)
    c = Chain()
    events = history(c)
    overdue = Chain.time(c.block + 1)  # expired from its own block on, not settled
    apply(
        s,
        [
            *events,
            c.ev("SlashAppealed", id=SID, provider=P, evidenceHash=EVIDENCE, bond=BOND, deadline=overdue),
        ],
    )

    def samples() -> dict[tuple[str, str], float]:
        text = api.client.get("/metrics").text
        return {
            (m.name, m.labels.get("state", "")): m.value
            for family in text_string_to_metric_families(text)
            for m in family.samples
            if m.name.startswith("swarm_appeals")
        }

    got = samples()
    assert got[("swarm_appeals", "open")] == 1 and got[("swarm_appeals", "upheld")] == 0
    assert got[("swarm_appeals_overdue", "")] == 1
    apply(s, [c.ev("AppealExpired", id=SID, bondRefunded=BOND)])
    got = samples()
    assert got[("swarm_appeals", "expired")] == 1 and got[("swarm_appeals_overdue", "")] == 0
