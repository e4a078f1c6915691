"""Every test says what it needs: exactly one of the markers `unit` (no sockets), `integration`
(a real Anvil and/or database) or `e2e` (the CLI and the HTTP API as a user drives them), the same
as the folder under `tests/` it lives in. Anything else fails the collection."""

from __future__ import annotations

from pathlib import Path

import pytest

KINDS = ("unit", "integration", "e2e")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    tests = config.rootpath / "tests"
    wrong = [why for item in items if (why := misfiled(item, tests)) is not None]
    if wrong:
        raise pytest.UsageError("tests without their marker or folder:\n  " + "\n  ".join(wrong))


def misfiled(item: pytest.Item, tests: Path) -> str | None:
    """Why `item` breaks the rule, or None."""
    kinds = sorted({m.name for m in item.iter_markers()} & set(KINDS))
    try:
        folder = Path(str(item.path)).resolve().relative_to(tests.resolve()).parts[0]
    except ValueError:
        folder = ""
    if folder not in KINDS:
        return f"{item.nodeid}: tests live in tests/unit, tests/integration or tests/e2e"
    if kinds != [folder]:
        marked = " and ".join(kinds) or "nothing"
        return f"{item.nodeid}: marked {marked}; a test in tests/{folder} is marked {folder} (and only that)"
    return None
