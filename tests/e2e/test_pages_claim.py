"""The provider page's Claim button (SPEC section 10) end to end: a reward epoch reported, funded
and published by the live service's rewards job on Anvil; in Debian's Chromium with an injected
EIP-1193 wallet (the one edge a test cannot run: it forwards to Anvil, whose unlocked devnet
accounts sign), the button fetches the proof from the API, sends `claim(epoch, weight, proof)`
from the provider, and the tokens arrive; without a wallet the page shows the CLI command."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from eth_utils import keccak
from playwright.sync_api import expect
from web3.logs import DISCARD

from staking.chain.contracts import TokenContract
from staking.chain.sender import Sender
from staking.devnet.accounts import DETECTOR, GOVERNANCE, devnet_account
from staking.devnet.harness import LocalDeployment, ServiceProcess, local_deployment
from staking.domain.clock import EpochClock
from staking.performance import PerformanceBatch, ProviderReport, sign_batch
from staking.performance import to_wire as batch_to_wire
from staking.rewards.eligibility import PerformanceReport
from staking.worker.jobs import REPORT_GRACE_DIVISOR
from tests.support.browser import Console, chromium

pytestmark = pytest.mark.e2e

POOL = 1_000 * 10**18
WALLET = """
window.ethereum = {
  request: ({ method, params }) =>
    method === "eth_requestAccounts" ? Promise.resolve([%r]) : window.anvilRequest(method, params || []),
};
"""


def wait_for(check: Any, what: str, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.5)
    raise AssertionError(f"{what} within {timeout:.0f} s")


@pytest.fixture(scope="module")
def published(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LocalDeployment, ServiceProcess, int]]:
    workdir = tmp_path_factory.mktemp("claim")
    with local_deployment(workdir, block_time=1) as net:
        service = ServiceProcess(net, workdir, f"sqlite:///{workdir}/claim.db")
        service.upgrade_db()
        service.start()
        base = service.base_url
        try:
            head = net.node.w3.eth.block_number
            wait_for(
                lambda: (httpx.get(f"{base}/v1/network").json()["as_of"]["block"] or 0) >= head, "indexed"
            )
            epoch = net.staking.current_epoch()
            reports = tuple(
                ProviderReport(p, PerformanceReport(9_990, 120, 10, 9_000)) for p in net.providers
            )
            batch = PerformanceBatch(keccak(text=f"claim-{epoch}"), epoch, reports)
            body = batch_to_wire(batch, sign_batch(batch, net.staking.domain(), devnet_account(DETECTOR).key))
            r = httpx.post(f"{base}/v1/performance", json=body, timeout=10)
            assert r.status_code in (200, 202), r.text
            governance = Sender(net.node.w3, devnet_account(GOVERNANCE))
            governance.transact(
                TokenContract(net.node.w3, net.deployment.contracts.SwarmToken).approve(
                    net.staking.address, POOL
                )
            )
            governance.transact(net.staking.fund_rewards(epoch, POOL))
            fns = net.staking.contract.functions
            clock = EpochClock(int(fns.epochGenesis().call()), int(fns.epochLength().call()))
            past = clock.end_of(epoch) + clock.length // REPORT_GRACE_DIVISOR + 2 - net.now()
            net.node.w3.provider.make_request("evm_increaseTime", [max(1, past)])  # type: ignore[arg-type]
            net.node.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]

            def is_published() -> bool:
                r = httpx.get(f"{base}/v1/epochs/{epoch}", timeout=10)
                return r.status_code == 200 and r.json()["published"] and r.json()["state"] == "published"

            wait_for(is_published, f"epoch {epoch} published by the rewards job")
            yield net, service, epoch
        finally:
            service.stop()


def test_the_claim_button_sends_the_claim_from_the_wallet(
    published: tuple[LocalDeployment, ServiceProcess, int],
) -> None:
    net, service, epoch = published
    provider = net.providers[0]
    token = TokenContract(net.node.w3, net.deployment.contracts.SwarmToken)
    before = token.balance_of(provider)
    console = Console()

    def anvil(method: str, params: list[Any]) -> Any:
        answer = net.node.w3.provider.make_request(method, params)  # type: ignore[arg-type]
        if "error" in answer:
            raise RuntimeError(answer["error"].get("message", "rpc error"))
        return answer["result"]

    with chromium() as browser:
        plain = console.watch(browser.new_page())
        plain.goto(f"{service.base_url}/providers/{provider}")
        row = plain.locator(f"button[data-claim-epoch='{epoch}']")
        assert row.is_hidden() and f"swarm-staking rewards claim {epoch}" in plain.content()
        plain.close()

        context = browser.new_context()
        context.expose_function("anvilRequest", anvil)
        context.add_init_script(WALLET % provider)
        page = console.watch(context.new_page())
        page.goto(f"{service.base_url}/providers/{provider}")
        button = page.locator(f"button[data-claim-epoch='{epoch}']")
        expect(button).to_be_visible()
        button.click()
        expect(page.locator("#live-status")).to_contain_text("Claim sent: 0x", timeout=20_000)
        tx = page.locator("#live-status").inner_text().split("Claim sent: ")[1].strip()
        receipt = net.node.w3.eth.wait_for_transaction_receipt(tx, timeout=30)
        assert receipt["status"] == 1 and receipt["from"] == provider
        claimed = net.staking.contract.events.RewardClaimed().process_receipt(receipt, errors=DISCARD)
        assert [(e["args"]["epoch"], e["args"]["account"]) for e in claimed] == [(epoch, provider)]
        assert token.balance_of(provider) == before + claimed[0]["args"]["amount"] > before

        def shows_claimed() -> bool:
            page.reload()
            return "claimed" in page.locator("section[aria-labelledby=rewards-h]").inner_text()

        wait_for(shows_claimed, "the page shows the claim once indexed", 30)
        context.close()
    assert console.errors == []
