// The pages' only script (no framework): countdowns tick, the page follows GET /v1/stream and
// re-renders its <main> from the server when something changed, and a Claim button appears when
// the browser has an injected wallet (EIP-1193 window.ethereum). Without it every fact still reads.
"use strict";
(function () {
  const body = document.body;
  const status = document.getElementById("live-status");
  let offset = 0; // chain time (the page's evaluation time) minus the browser's clock

  function setClock(now) {
    if (now) offset = Number(now) - Date.now() / 1000;
  }

  function duration(left) {
    const units = [["d", 86400], ["h", 3600], ["min", 60], ["s", 1]];
    const parts = [];
    for (const [unit, size] of units) {
      if (left >= size || (unit === "s" && parts.length === 0)) {
        parts.push(Math.floor(left / size) + " " + unit);
        left %= size;
      }
    }
    return parts.slice(0, 2).join(" ");
  }

  function tick() {
    const now = Date.now() / 1000 + offset;
    for (const el of document.querySelectorAll("[data-countdown]")) {
      const left = Math.floor(Number(el.dataset.countdown) - now);
      el.textContent = left > 0 ? duration(left) : el.dataset.done || "now";
    }
  }

  function say(text) {
    status.textContent = text;
  }

  async function refresh(why) {
    const r = await fetch(location.href, { headers: { Accept: "text/html" }, cache: "no-store", credentials: "same-origin" });
    if (!r.ok) return;
    const fresh = new DOMParser().parseFromString(await r.text(), "text/html");
    const main = fresh.getElementById("live");
    if (!main) return;
    document.getElementById("live").innerHTML = main.innerHTML;
    setClock(fresh.body.dataset.now);
    tick();
    wireClaims();
    say("Updated" + (why ? " (" + why.replace(/_/g, " ") + ")" : "") + " at " + new Date().toLocaleTimeString());
  }

  function follow() {
    const url = body.dataset.stream;
    if (!url || !window.EventSource) return;
    const after = body.dataset.streamAfter;
    const sep = url.includes("?") ? "&" : "?";
    const source = new EventSource(after ? url + sep + "after=" + after : url);
    const kinds = ["jailed", "unjailed", "slash_proposed", "slash_vetoed", "slash_executed", "appeal", "incident", "epoch_published", "reorg"];
    let timer = null;
    const changed = (event) => {
      clearTimeout(timer); // a burst of events, one re-render
      timer = setTimeout(() => refresh(event.type), 250);
    };
    for (const kind of kinds) source.addEventListener(kind, changed);
    source.onerror = () => say("Live updates interrupted: reconnecting…");
    source.onopen = () => { if (status.textContent.startsWith("Live updates interrupted")) say("Live updates resumed"); };
  }

  const word = (n) => BigInt(n).toString(16).padStart(64, "0");

  // claim(uint64 epoch, uint256 weight, bytes32[] proof): head (epoch, weight, offset 0x60), then the array.
  function claimData(selector, epoch, weight, proof) {
    return selector + word(epoch) + word(weight) + word(96) + word(proof.length) + proof.map((p) => p.slice(2).padStart(64, "0")).join("");
  }

  async function claim(button) {
    const { claimEpoch, provider, staking, selector } = button.dataset;
    button.disabled = true;
    try {
      const r = await fetch("/v1/epochs/" + claimEpoch + "/proofs/" + provider);
      const body = await r.json();
      if (!r.ok) throw new Error(body.detail || r.statusText);
      const [from] = await window.ethereum.request({ method: "eth_requestAccounts" });
      if (from.toLowerCase() !== provider.toLowerCase()) throw new Error("the wallet's account is not this provider");
      const data = claimData(selector, claimEpoch, body.weight, body.proof);
      const hash = await window.ethereum.request({ method: "eth_sendTransaction", params: [{ from, to: staking, data }] });
      say("Claim sent: " + hash);
    } catch (err) {
      say("Claim not sent: " + (err && err.message ? err.message : err));
      button.disabled = false;
    }
  }

  function wireClaims() {
    if (!window.ethereum) return;
    for (const button of document.querySelectorAll("button[data-claim-epoch]")) {
      if (!button.dataset.staking) continue;
      button.hidden = false;
      button.addEventListener("click", () => claim(button));
    }
  }

  setClock(body.dataset.now);
  tick();
  setInterval(tick, 1000);
  wireClaims();
  follow();
  const every = Number(body.dataset.refresh || 0);
  if (every > 0) setInterval(() => refresh(""), every * 1000); // what the stream does not carry (jobs, intents)
})();
