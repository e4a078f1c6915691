"""The domain floor's rules, each from its one definition: ids and addresses as they arrive,
the cursor codec, what counts as a strike, the epoch clock, eligibility reasons, the vocabulary."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from staking.domain.clock import EpochClock, iso_ms, iso_seconds
from staking.domain.cursor import NUMBER, SLASH_ID, InvalidCursor, decode_cursor, encode_cursor
from staking.domain.errors import NodeUnreachable, SwarmError
from staking.domain.ids import InvalidAddress, normalize_address, normalize_id
from staking.domain.reasons import INELIGIBLE_STATUSES, Ineligible, high_error_rate, low_uptime
from staking.domain.status import STATUSES
from staking.domain.strikes import in_window, strikes_in_window
from staking.domain.vocabulary import EventType, Level, ProviderStatus, SlashState

pytestmark = pytest.mark.unit

CHECKSUMMED = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"


# ------------------------------------------------------------------------------ ids and addresses


def test_an_address_in_any_single_case_or_checksummed_reads_as_its_checksum() -> None:
    for form in (CHECKSUMMED, CHECKSUMMED.lower(), "0x" + CHECKSUMMED[2:].upper()):
        assert normalize_address(form) == CHECKSUMMED


@pytest.mark.parametrize(
    "bad",
    ["", "0x", "90F79bf6EB2c4f870365E785982E1f101E93b906", CHECKSUMMED + "00", "0xZZ" + CHECKSUMMED[4:]],
)
def test_a_malformed_address_is_refused(bad: str) -> None:
    with pytest.raises(InvalidAddress, match="not an address"):
        normalize_address(bad)


def test_a_mixed_case_address_with_a_wrong_checksum_is_refused_as_a_likely_typo() -> None:
    typo = CHECKSUMMED.replace("EB", "eB")  # one letter of the checksum flipped
    with pytest.raises(InvalidAddress, match="invalid EIP-55 checksum"):
        normalize_address(typo)


def test_a_verdict_id_is_stored_in_lower_case_and_anything_else_is_none() -> None:
    vid = "0x" + "AB" * 32
    assert normalize_id(vid) == vid.lower()
    assert normalize_id(vid[:-2]) is None
    assert normalize_id("AB" * 33) is None


# ------------------------------------------------------------------------------------ cursors


@given(st.sampled_from(["provider", "slash", "event", "inv"]), st.integers(0, 10**19), st.integers(0, 10**19))
def test_a_cursor_decodes_to_the_sort_key_it_was_made_from(kind: str, a: int, b: int) -> None:
    assert decode_cursor(kind, encode_cursor(kind, a, b), NUMBER, NUMBER) == [str(a), str(b)]


def test_a_cursor_of_another_listing_or_shape_is_refused() -> None:
    slash = encode_cursor("slash", 7, "0x" + "ab" * 32)
    assert decode_cursor("slash", slash, NUMBER, SLASH_ID) == ["7", "0x" + "ab" * 32]
    for kind, cursor, parts in (
        ("event", slash, (NUMBER, SLASH_ID)),  # another listing's
        ("slash", slash, (NUMBER,)),  # another shape
        ("slash", encode_cursor("slash", "x", "0x" + "ab" * 32), (NUMBER, SLASH_ID)),  # a bad value
        ("slash", "not base64 at all!", (NUMBER, SLASH_ID)),
    ):
        with pytest.raises(InvalidCursor, match="not one this API issued"):
            decode_cursor(kind, cursor, *parts)


# ------------------------------------------------------------------------------------ strikes


@dataclass(frozen=True)
class Offence:
    detected_at: int
    level: str


def test_the_window_excludes_its_start_and_includes_its_end() -> None:
    assert not in_window(100, at=1_100, window_seconds=1_000)
    assert in_window(101, at=1_100, window_seconds=1_000)
    assert in_window(1_100, at=1_100, window_seconds=1_000)
    assert not in_window(1_101, at=1_100, window_seconds=1_000)  # detected after the verdict judged


@given(
    st.lists(st.tuples(st.integers(0, 5_000), st.sampled_from(list(Level))), max_size=30),
    st.integers(0, 5_000),
    st.integers(1, 5_000),
)
def test_strikes_in_window_keep_their_order_and_are_exactly_the_offences_that_count(
    rows: list[tuple[int, Level]], at: int, window: int
) -> None:
    offences = [Offence(t, lv) for t, lv in rows]
    got = strikes_in_window(offences, at, window)
    assert got == [o for o in offences if at - window < o.detected_at <= at and o.level != "none"]


# -------------------------------------------------------------------------------- clock, reasons


def test_the_epoch_clock_counts_like_the_contract() -> None:
    clock = EpochClock(genesis=1_000, length=600)
    assert [clock.epoch_at(t) for t in (0, 999, 1_000, 1_599, 1_600)] == [0, 0, 0, 0, 1]
    assert clock.start_of(3) == 2_800 and clock.end_of(3) == 3_400
    assert clock.epoch_at(clock.start_of(5)) == 5 and clock.epoch_at(clock.end_of(5) - 1) == 5


def test_times_are_written_in_utc_iso_8601() -> None:
    assert iso_seconds(1_795_000_000) == "2026-11-18T11:06:40Z"
    assert iso_ms(1_795_000_000_304) == "2026-11-18T11:06:40.304Z"
    assert iso_ms(None) is None


def test_every_ineligibility_reason_has_its_sentence_and_the_statuses_are_their_own_codes() -> None:
    assert all(r.sentence for r in Ineligible)
    assert Ineligible.JAILED.sentence == "jailed during the epoch"
    assert {str(r) for r in INELIGIBLE_STATUSES} <= set(STATUSES)
    assert low_uptime(9_412, 9_500) == "uptime 94.12 % below 95.00 %"
    assert high_error_rate(612, 500) == "error rate 6.12 % above 5.00 %"


# ---------------------------------------------------------------------------------- vocabulary


def test_wire_names_round_trip_and_unknown_names_list_the_allowed_ones() -> None:
    for e in EventType:
        assert EventType.from_wire(e.wire) is e
    with pytest.raises(ValueError, match="expected one of: none, pending, vetoed, executed"):
        SlashState.from_wire("canceled")


def test_the_status_vocabulary_is_spec_section_4s() -> None:
    assert STATUSES == (
        "unregistered", "active", "jailed", "in_recovery", "probation", "unbonding", "exited", "tombstoned",
    )  # fmt: skip
    assert ProviderStatus("jailed") == "jailed"  # stored and compared as its plain value


def test_levels_rank_in_ladder_order() -> None:
    assert [lv.rank for lv in (Level.NONE, Level.WARNING, Level.PENALTY, Level.SEVERE)] == [0, 1, 2, 3]


def test_a_node_that_does_not_answer_is_one_kind_of_swarm_error() -> None:
    assert issubclass(NodeUnreachable, SwarmError)


def test_every_public_exception_of_the_service_roots_in_swarm_error() -> None:
    """One base (STYLE.md): a caller catches the service's failures in one clause."""
    import importlib
    import inspect
    import pkgutil

    import indexer
    import staking

    # HTTP's own: the API turns domain errors into problem documents with it.
    allowed = {"staking.api.problems.ProblemException"}
    outside: list[str] = []
    for package in (staking, indexer):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if ".migrations" in info.name:
                continue
            module = importlib.import_module(info.name)
            for name, obj in vars(module).items():
                if (
                    inspect.isclass(obj)
                    and issubclass(obj, Exception)
                    and obj.__module__ == info.name
                    and not name.startswith("_")
                    and f"{info.name}.{name}" not in allowed
                    and not issubclass(obj, SwarmError)
                ):
                    outside.append(f"{info.name}.{name}")
    assert outside == []
