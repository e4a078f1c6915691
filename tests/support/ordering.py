"""The longest test files first. `make test` spreads whole files over two workers (`--dist
loadfile`) in collection order; a long file collected last runs alone while the other worker
idles. Moving the known-long files to the front (each file's own order kept) lets the short ones
fill in at the end. Only the order changes: every test still runs."""

from __future__ import annotations

import pytest

# Longest first (seconds on the 2-core machine, `pytest --durations`, 2026-12-04).
LONG_FILES = (
    "tests/e2e/test_crash_recovery.py",  # ~100
    "tests/e2e/test_api_schemathesis.py",  # ~85
    "tests/e2e/test_demo.py",  # ~75
    "tests/e2e/test_worker_leader_failover.py",  # ~70
    "tests/integration/test_contract_stateful.py",  # ~55
    "tests/e2e/test_safe_governance_cli.py",  # ~55
    "tests/e2e/test_chaos_smoke.py",  # ~45
    "tests/e2e/test_governance_cli.py",  # ~45
    "tests/integration/test_indexer_faults.py",  # ~45
    "tests/e2e/test_recovery_e2e.py",  # ~35
    "tests/e2e/test_pages_browser.py",  # ~35
    "tests/e2e/test_service_e2e.py",  # ~30
    "tests/integration/test_token_conservation.py",  # ~25
)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {path: i for i, path in enumerate(LONG_FILES)}

    def key(pair: tuple[int, pytest.Item]) -> tuple[int, int]:
        index, item = pair
        return rank.get(item.nodeid.split("::", 1)[0], len(LONG_FILES)), index

    items[:] = [item for _, item in sorted(enumerate(items), key=key)]
