"""How the pages write amounts, times and addresses: pure, exact (amounts are integers of base
units, never floats), and the same on every page."""

from __future__ import annotations

from datetime import UTC, datetime

from staking.domain.vocabulary import TOKEN

DECIMALS = len(str(TOKEN)) - 1  # 18
SYMBOL = "SWARM"


def tokens(base_units: int | str | None, places: int = 4) -> str:
    """`base_units` in whole tokens, grouped by thousands, cut (never rounded up) to `places`
    decimals with trailing zeros dropped: a page must not show more than is there."""
    if base_units is None:
        return "—"
    value = int(base_units)
    sign = "-" if value < 0 else ""
    whole, fraction = divmod(abs(value), TOKEN)
    digits = f"{fraction:0{DECIMALS}d}"[:places].rstrip("0")
    shown = f"{whole:,}" + (f".{digits}" if digits else "")
    if value and shown == "0":
        shown = f"<0.{'0' * (places - 1)}1"
    return f"{sign}{shown} {SYMBOL}"


def base_units(value: int | str | None) -> str:
    """The exact amount, for a title attribute: `1234567 base units`."""
    return "—" if value is None else f"{int(value):,} base units"


def share_percent(part: int | str | None, whole: int | str | None) -> int:
    """`part` of `whole` in whole percent, 0..100 (a bar's width), integer arithmetic."""
    if part is None or whole is None or int(whole) <= 0:
        return 100 if part is not None and int(part) > 0 else 0
    return max(0, min(100, int(part) * 100 // int(whole)))


def when(ts: int | None) -> str:
    """A unix time as `2026-12-04 18:03:27 UTC`."""
    if ts is None:
        return "—"
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def when_ms(ms: int | None) -> str:
    return "—" if ms is None else when(int(ms) // 1000)


def duration(seconds: int | None) -> str:
    """`3 d 4 h`, `5 h 2 min`, `4 min 10 s`, `12 s`: the two largest units (what a countdown shows
    before its script takes over)."""
    if seconds is None:
        return "—"
    left = max(0, int(seconds))
    parts: list[str] = []
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60), ("s", 1)):
        if left >= size or (unit == "s" and not parts):
            parts.append(f"{left // size} {unit}")
            left %= size
    return " ".join(parts[:2])


def short(value: str | None, keep: int = 6) -> str:
    """`0x90F7…b906`: an address or hash shortened for a table cell (the full one in its title)."""
    if not value:
        return "—"
    return value if len(value) <= 2 + 2 * keep else f"{value[: 2 + keep]}…{value[-keep + 2 :]}"


def words(wire: str | None) -> str:
    """A wire name in words: `in_recovery` → `in recovery`."""
    return "—" if wire is None else wire.replace("_", " ")
