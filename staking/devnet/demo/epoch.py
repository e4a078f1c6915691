"""The rewards half of the demo: the detector files signed performance reports for the current
epoch, governance funds its pool, the chain clock moves past the epoch's end, the service's rewards
job computes every provider's eligibility and publishes the Merkle root, and one provider's proof
is checked against the root on chain and its claim simulated."""

from __future__ import annotations

import time
from typing import Any

from eth_utils import keccak, to_checksum_address
from web3.exceptions import ContractLogicError

from staking.devnet.accounts import DETECTOR, devnet_account
from staking.devnet.demo.session import DemoError, Session
from staking.devnet.demo.texts import swarm, utc
from staking.domain.clock import EpochClock
from staking.domain.vocabulary import Address
from staking.performance import PerformanceBatch, ProviderReport, sign_batch
from staking.performance import to_wire as batch_to_wire
from staking.rewards.eligibility import PerformanceReport
from staking.rewards.merkle import verify
from staking.worker.jobs import REPORT_GRACE_DIVISOR

# What the detector measured of each demo provider over the epoch: (uptime bps, p50 ms, error
# rate bps, rating bps), by the provider's role in the scenario. All but the last meet the
# default SLA (uptime >= 95 %, errors <= 5 %); what they earn also depends on their standing.
REPORTS = {
    "breached": (9_990, 110, 10, 9_200),
    "attacked": (9_870, 180, 40, 8_800),
    "warned": (9_960, 140, 20, 9_000),
    "slow": (9_620, 950, 300, 7_000),
    "failing": (9_700, 260, 150, 8_200),
    "suspicious": (9_980, 120, 10, 9_400),
    "flaky": (9_120, 400, 620, 8_000),
}
EPOCH_STATES = {
    "computed": "weights computed and stored; the publishEligibility transaction is next",
    "empty": "nobody eligible: a zero root closes the epoch",
    "publishing": "publishEligibility sent by the service signer, waiting for its receipt",
    "published": "the root is on chain",
}
POOL_SWARM = 1_000  # the demo's reward pool for the epoch


def run_reward_epoch(s: Session, roles: dict[str, str]) -> None:
    """The last three steps; `roles`: each provider's role in the verdict steps (its report)."""
    fns = s.staking.contract.functions
    clock = EpochClock(int(fns.epochGenesis().call()), int(fns.epochLength().call()))
    length = clock.length
    grace = length // REPORT_GRACE_DIVISOR  # the worker's default (reconcile_epochs)

    s.step("This reward epoch: the detector files signed performance reports, governance funds the pool")
    s.wait_caught_up()  # the intake judges "has the epoch begun" by the indexed chain time
    epoch = s.staking.current_epoch()
    start, end = clock.start_of(epoch), clock.end_of(epoch)
    s.say(
        f"reward epoch {epoch} runs {utc(start)} to {utc(end)} chain time ({length} s epochs on the "
        f"devnet; {end - s.chain_time()} s left); the detector reports what it measured of each provider"
    )
    file_and_fund(s, epoch, roles, grace)

    s.step("The epoch ends: the rewards job computes eligibility and publishes the Merkle root")
    s.say(
        f"the service's rewards job (reconcile_epochs, every few seconds) computes an epoch once the "
        f"indexed chain is {grace} s past its end, then sends publishEligibility; the devnet clock is "
        "moved there instead of waiting"
    )
    s.advance_chain_time(max(1, end + grace + 1 - s.chain_time()))
    doc = wait_published(s, epoch)
    narrate_publication(s, epoch, doc)
    proofs = shares(s, epoch, doc, roles)
    s.cli("rewards", "show", str(epoch))
    late = file_reports(s, epoch, roles, "late-performance")
    s.say(
        f"a late report for epoch {epoch} now: POST /v1/performance → {late['status']} "
        f"{late['body'].get('title')}: {late['body'].get('detail')}"
    )

    s.step("A provider's reward: its Merkle proof, checked against the root on chain")
    check_a_proof(s, epoch, proofs)


def file_reports(s: Session, epoch: int, roles: dict[str, str], batch_label: str) -> dict[str, Any]:
    """POST one detector-signed PerformanceBatch of every provider's report; status and body."""
    reports = tuple(
        ProviderReport(Address(to_checksum_address(a)), PerformanceReport(*REPORTS[role]))
        for a, role in roles.items()
    )
    batch = PerformanceBatch(keccak(text=f"demo-{s.run_id}-{batch_label}-{epoch}"), epoch, reports)
    body = batch_to_wire(batch, sign_batch(batch, s.staking.domain(), devnet_account(DETECTOR).key))
    r = s.http.post("/v1/performance", json=body)
    return {"status": r.status_code, "body": r.json()}


def file_and_fund(s: Session, epoch: int, roles: dict[str, str], grace: int) -> None:
    sent = file_reports(s, epoch, roles, "performance")
    if sent["status"] not in (200, 202):
        raise DemoError(f"POST /v1/performance answered {sent['status']}: {sent['body']}")
    s.say(
        f"POST /v1/performance: {len(roles)} reports for epoch {epoch}, an EIP-712 PerformanceBatch "
        f"signed by the detector {sent['body']['signer'][:10]}… → {sent['status']}"
    )
    for address, role in roles.items():
        up, ms, err, rating = REPORTS[role]
        s.say(
            f"  {address[:10]}… {role:<10} uptime {up / 100:6.2f} %  p50 {ms:4d} ms  "
            f"errors {err / 100:5.2f} %  rating {rating / 100:5.2f} %"
        )
    s.say(
        f"reports count until the rewards job computes the epoch, {grace} s after its end; "
        "later ones are refused (409), so the published weights are final"
    )
    s.say(
        "a reward pool funded before the epoch is published is what claims pay out: "
        "pool x weight / total weight"
    )
    s.cli("rewards", "fund", str(epoch), str(POOL_SWARM), "--yes")


def epoch_doc(s: Session, epoch: int) -> dict[str, Any] | None:
    r = s.http.get(f"/v1/epochs/{epoch}")
    if r.status_code == 404:
        return None
    if r.status_code != 200:
        raise DemoError(f"GET /v1/epochs/{epoch} answered {r.status_code}: {r.text[:300]}")
    return dict(r.json())


def wait_published(s: Session, epoch: int, timeout: float = 90) -> dict[str, Any]:
    """Poll GET /v1/epochs/{n}, narrating each state the rewards job moves the epoch through."""
    deadline, seen, doc = time.monotonic() + timeout, "", None
    while time.monotonic() < deadline:
        doc = epoch_doc(s, epoch)
        state = doc["state"] if doc else "not computed yet"
        if state != seen:
            s.say(
                f"GET /v1/epochs/{epoch}: {state}"
                + (f" ({EPOCH_STATES[state]})" if state in EPOCH_STATES else "")
            )
            seen = state
        if doc and doc["state"] == "mismatch":
            raise DemoError(f"epoch {epoch} is on chain with another root than the service computed")
        if doc and doc["state"] == "published" and doc["published"]:
            return doc
        time.sleep(0.5)
    raise DemoError(
        f"epoch {epoch} was not published within {timeout:.0f}s (last state: {seen}); the worker's "
        "reconcile_epochs job publishes it: see its runs at GET /metrics and the service's log"
    )


def publication_tx(s: Session, epoch: int) -> dict[str, Any] | None:
    """The EligibilityPublished log of `epoch` on chain (its transaction and block)."""
    logs = s.staking.contract.events.EligibilityPublished.get_logs(
        from_block=s.deployment.deployed_block, argument_filters={"epoch": epoch}
    )
    return dict(logs[-1]) if logs else None


def narrate_publication(s: Session, epoch: int, doc: dict[str, Any]) -> None:
    s.say(
        f"epoch {epoch} published on chain: root {doc['merkle_root']}, total weight "
        f"{swarm(doc['total_weight'])} (SWARM of time-weighted stake x performance score), "
        f"{doc['eligible']} of {doc['providers']} providers eligible"
    )
    tx = publication_tx(s, epoch)
    if tx is not None:
        sender = s.w3.eth.get_transaction(tx["transactionHash"])["from"]
        s.say(
            f"publishEligibility({epoch}, root, totalWeight, {doc['uri']!r}): tx "
            f"{tx['transactionHash'].to_0x_hex()[:12]}… in block {tx['blockNumber']}, sent by the "
            f"service signer {sender[:10]}… (REWARDS_ORACLE_ROLE) at {doc['published_at']}"
        )


def shares(s: Session, epoch: int, doc: dict[str, Any], roles: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Each provider's proof or why it has none, from the API; the proofs by address."""
    s.say("each provider's share, as GET /v1/epochs/{n}/proofs/{address} answers it:")
    proofs: dict[str, dict[str, Any]] = {}
    for address, role in roles.items():
        r = s.http.get(f"/v1/epochs/{epoch}/proofs/{address}")
        if r.status_code == 200:
            proofs[address] = dict(r.json())
            weight = int(proofs[address]["weight"])
            share = 100 * weight / int(doc["total_weight"])  # display only
            s.say(f"  {address[:10]}… {role:<10} eligible, weight {swarm(weight)} ({share:.2f} %)")
        elif r.status_code == 404 and r.json().get("type", "").endswith("not-eligible"):
            s.say(f"  {address[:10]}… {role:<10} not eligible: {'; '.join(r.json()['reasons'])}")
        else:
            raise DemoError(
                f"GET /v1/epochs/{epoch}/proofs/{address} answered {r.status_code}: {r.text[:300]}"
            )
    s.say(
        "why: the job folds the epoch's indexed events, so a jail at any moment of the epoch, an open "
        "recovery, a pending slash or a stake under the class minimum costs the epoch's reward, as does "
        "a report under the SLA; a warning or an open investigation does not. Weight = time-weighted "
        "stake x performance score"
    )
    return proofs


def check_a_proof(s: Session, epoch: int, proofs: dict[str, dict[str, Any]]) -> None:
    """The first eligible provider's proof, verified against the root on chain, and its claim
    simulated from the provider's address (the contract checks the proof too)."""
    if not proofs:
        s.say(f"nobody is eligible in epoch {epoch}: the zero root closes it and nobody can claim")
        return
    address, proof = next(iter(proofs.items()))
    s.say(
        f"GET /v1/epochs/{epoch}/proofs/{address[:10]}…: weight {proof['weight']} (base units), "
        f"proof of {len(proof['proof'])} node{'s' if len(proof['proof']) != 1 else ''}:"
    )
    for node in proof["proof"]:
        s.say(f"  {node}")
    on_chain = s.staking.epoch(epoch)
    nodes = [bytes.fromhex(n[2:]) for n in proof["proof"]]
    if not verify(nodes, on_chain.merkle_root, address, int(proof["weight"])):
        raise DemoError(f"the proof of {address} does not verify against epoch {epoch}'s root on chain")
    try:
        s.staking.claim(epoch, int(proof["weight"]), nodes).call({"from": address})
    except ContractLogicError as exc:
        raise DemoError(f"claim({epoch}) simulated from {address} reverts: {exc}") from exc
    amount = on_chain.pool * int(proof["weight"]) // on_chain.total_weight
    s.say(
        f"proof verified against the root on chain (getEpoch({epoch})); claim({epoch}, weight, proof) "
        f"simulated from the provider passes and would pay {swarm(amount)} of the {swarm(on_chain.pool)} "
        f"SWARM pool (the same from the command line: swarm-staking rewards proof {epoch} ADDRESS)"
    )
