"""The web pages (SPEC section 10) in Debian's Chromium, driven by Playwright, against a live
`serve` on Anvil: the provider page of an active, a jailed, an in-recovery and a probation
provider (status, countdown, next step), the page updating itself when a verdict jails its
provider (through `GET /v1/stream`), the operator page listing a pending slash and an open
investigation, `/docs` rendering the operations from local assets, no console errors, no
serious accessibility violation (axe-core), and no sideways scrolling on a phone.

Screenshots of the three pages at desktop and phone widths go to `SWARM_SCREENSHOTS` (`make
screenshots` points it at docs/screenshots for the README), else to the test's temporary folder."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from staking.chain.sender import Sender
from staking.devnet.accounts import GOVERNANCE, devnet_account
from staking.devnet.harness import LocalDeployment, ServiceProcess, local_deployment
from staking.domain.vocabulary import EventType, Severity
from tests.support.browser import DESKTOP, PHONE, Console, axe_violations, chromium
from tests.support.live_service import post_breach, post_verdict

pytestmark = pytest.mark.e2e


@dataclass
class Site:
    net: LocalDeployment
    service: ServiceProcess
    browser: Browser
    console: Console
    active: str
    jailed: str
    in_recovery: str
    probation: str
    investigated: str
    live: str

    @property
    def base(self) -> str:
        return self.service.base_url

    def open(self, path: str, viewport: dict[str, int] = DESKTOP) -> Page:
        page = self.browser.new_page(viewport=viewport)  # type: ignore[arg-type]
        self.console.watch(page)
        page.goto(self.base + path, wait_until="load")
        return page


def until(base: str, provider: str, status: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    doc: dict[str, Any] = {}
    while time.monotonic() < deadline:
        doc = httpx.get(f"{base}/v1/providers/{provider}", timeout=10).json()
        if doc.get("status") == status:
            return doc
        time.sleep(0.3)
    raise AssertionError(f"{provider} is {doc.get('status')}, not {status}: {doc}")


def governance(net: LocalDeployment, call: Any) -> None:
    Sender(net.node.w3, devnet_account(GOVERNANCE)).transact(call)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    workdir = tmp_path_factory.mktemp("pages")
    with local_deployment(workdir, block_time=1) as net:
        service = ServiceProcess(net, workdir, f"sqlite:///{workdir}/pages.db")
        service.upgrade_db()
        service.start()
        base = service.base_url
        a, jailed, recovering, probation, investigated, live = net.providers[:6]
        try:
            for n in range(2):  # a warning, then the ladder's penalty: a timed jail
                post_verdict(net, base, jailed, f"perf-{n}", EventType.PERFORMANCE_VIOLATION, Severity.LOW)
                time.sleep(1.2)
            post_breach(net, base, recovering, "breach-recovering")
            post_breach(net, base, probation, "breach-probation")
            post_verdict(
                net, base, investigated, "suspicious", EventType.SUSPICIOUS_ACTIVITY, Severity.MEDIUM
            )
            until(base, recovering, "in_recovery")
            until(base, probation, "in_recovery")
            until(base, jailed, "jailed")
            for _ in range(2):
                governance(net, net.staking.advance_recovery(probation))
            governance(net, net.staking.reinstate(probation))
            until(base, probation, "probation")
            with chromium() as browser:
                yield Site(
                    net, service, browser, Console(), a, jailed, recovering, probation, investigated, live
                )
        finally:
            service.stop()


def text(page: Page, test_id: str) -> str:
    return page.locator(f"[data-test={test_id}]").inner_text()


def test_an_active_provider_reads_active_with_nothing_to_do(site: Site) -> None:
    page = site.open(f"/providers/{site.active}")
    assert text(page, "status") == "active"
    assert "Nothing to do" in text(page, "next-step")
    assert page.locator("meter#stake-bar").get_attribute("value") == "100"
    assert page.locator("[data-test=stepper]").count() == 0
    page.close()


def test_a_jailed_provider_sees_its_jail_counting_down_and_how_to_unjail(site: Site) -> None:
    page = site.open(f"/providers/{site.jailed}")
    assert text(page, "status") == "jailed"
    assert "unjail()" in text(page, "next-step")
    countdown = page.locator("[data-test=jail-countdown] time[data-countdown]")
    first = countdown.inner_text()
    assert first.endswith(("h", "min")) and first.startswith("23 h"), first  # a 24 h penalty jail
    # The script ticks it: moved to a few seconds from the page's (chain) time, it counts the
    # seconds down and then says the jail has ended.
    countdown.evaluate("(el) => { el.dataset.countdown = String(Number(document.body.dataset.now) + 6); }")
    expect(countdown).to_have_text(re.compile(r"^[1-6] s$"), timeout=3_000)
    expect(countdown).to_have_text("now: it has ended", timeout=10_000)
    assert "2 strikes" in text(page, "strikes")
    page.close()


def test_an_in_recovery_provider_sees_the_stepper_and_who_acts_next(site: Site) -> None:
    page = site.open(f"/providers/{site.in_recovery}")
    assert text(page, "status") == "in recovery"
    assert "governance" in text(page, "next-step")
    current = page.locator("[data-test=stepper] li[aria-current=step]")
    assert "response" in current.inner_text().lower() and "recovery advance" in current.inner_text()
    assert page.locator("[data-test=stepper] li.done").count() == 1  # detection
    pending = text(page, "pending-slashes")
    assert "Veto window closes in" in pending and "swarm-staking slash appeal" in pending
    assert "The jail has no end date" in text(page, "jail-countdown")
    page.close()


def test_a_provider_on_probation_sees_every_step_done(site: Site) -> None:
    page = site.open(f"/providers/{site.probation}")
    assert text(page, "status") == "probation"
    assert page.locator("[data-test=stepper] li.done").count() == 4
    assert "reduced" in text(page, "status-reason")
    page.close()


def test_the_provider_page_updates_itself_when_a_verdict_jails_the_provider(site: Site) -> None:
    page = site.open(f"/providers/{site.live}")
    assert text(page, "status") == "active"
    page.evaluate("() => { window.notReloaded = true; }")
    post_breach(site.net, site.base, site.live, "breach-live")
    expect(page.locator("[data-test=status]")).to_have_text("in recovery", timeout=45_000)
    assert page.evaluate("() => window.notReloaded === true"), "the page was reloaded, not updated"
    assert "Updated" in page.locator("#live-status").inner_text()
    page.close()


def test_the_operator_page_lists_a_pending_slash_and_an_open_investigation(site: Site) -> None:
    page = site.open("/operator")
    slashes = text(page, "pending-slashes")
    assert site.in_recovery[:8] in slashes and "swarm-staking slash veto" in slashes
    investigations = text(page, "investigations")
    assert site.investigated[:8] in investigations and "investigation resolve" in investigations
    page.close()


def test_docs_render_the_operations_from_local_assets(site: Site) -> None:
    page = site.open("/docs")
    expect(page.locator(".opblock").first).to_be_visible(timeout=20_000)
    assert page.locator(".opblock").count() >= 20
    assert "/v1/verdicts" in page.locator("#swagger-ui").inner_text()
    page.close()


def test_the_network_page_finds_a_provider_by_address(site: Site) -> None:
    page = site.open("/")
    page.get_by_label("Provider address").fill(site.in_recovery.lower())
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(f"**/providers/{site.in_recovery}")
    assert text(page, "status") == "in recovery"
    page.close()


PAGES = {"network": "/", "provider": None, "operator": "/operator"}


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_pages_are_accessible_readable_on_a_phone_and_screenshotted(
    site: Site, viewport: dict[str, int], tmp_path: Path
) -> None:
    shots = Path(os.environ.get("SWARM_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    width = "phone" if viewport is PHONE else "desktop"
    for name, path in PAGES.items():
        url = path or f"/providers/{site.in_recovery}"
        violations = axe_violations(site.browser, site.base + url, viewport)
        assert violations == [], f"{url} at {width}: {violations}"
        page = site.open(url, viewport)
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{url} scrolls sideways by {overflow} px at {viewport['width']} px"
        page.screenshot(path=str(shots / f"{name}-{width}.png"), full_page=True)
        page.close()


def test_no_page_reported_a_console_error(site: Site) -> None:
    """Last in the file: every page the tests above opened, on the same console watch."""
    assert site.console.errors == []
