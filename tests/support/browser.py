"""Debian's Chromium driven by Playwright (the PyPI package, with `executable_path`: nothing is
downloaded), a page's console errors collected, and the axe-core accessibility check (npm
`axe-core`, from the project's node_modules) run on a page."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
# As the machine's probe starts it: no sandbox (root), and none of the background connections a
# closed network refuses.
FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]  # fmt: skip
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def chromium_path() -> str:
    path = shutil.which("chromium")
    assert path, "Debian's chromium is not installed (.ci/run installs it: apt-get install chromium)"
    return path


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Console:
    """Errors a page reported: console.error lines, uncaught exceptions, failed requests."""

    errors: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> Page:
        page.on("console", lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        page.on("requestfailed", self._failed)
        return page

    def _failed(self, request: Any) -> None:
        # A stream the page closes by navigating away is aborted by the browser, not failed.
        if "/v1/stream" not in request.url:
            self.errors.append(f"request failed: {request.url} {request.failure}")


def axe_violations(browser: Browser, url: str, viewport: dict[str, int]) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations of the page at `url` (WCAG 2.x A and AA rules).
    In a context that lets the test inject axe past the pages' Content-Security-Policy."""
    context = browser.new_context(bypass_csp=True, viewport=viewport)  # type: ignore[arg-type]
    try:
        page = context.new_page()
        page.goto(url, wait_until="load")
        page.add_script_tag(path=str(AXE))
        result = page.evaluate(
            "() => axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa']}})"
        )
    finally:
        context.close()
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
