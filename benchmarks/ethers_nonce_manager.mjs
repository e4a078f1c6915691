// The peer of the sender benchmark (benchmarks/ethers_peer.py): an ethers v6 client firing the same
// calls as fast as it can through a NonceManager, nothing persisted, then waiting for every receipt.
// Input on stdin: {"modules", "rpc", "key", "to", "calls": [hex calldata...]}; one JSON line out.
import { createRequire } from "node:module";

let raw = "";
for await (const chunk of process.stdin) raw += chunk;
const input = JSON.parse(raw);
const { ethers } = createRequire(input.modules + "/")("ethers"); // installed in the benchmark's cache

const provider = new ethers.JsonRpcProvider(input.rpc, undefined, { staticNetwork: true });
provider.pollingInterval = 50; // as often as the service's tracker looks (ethers' default: 4 s)
const signer = new ethers.NonceManager(new ethers.Wallet(input.key, provider));

const started = performance.now();
const sent = await Promise.all(input.calls.map((data) => signer.sendTransaction({ to: input.to, data })));
const receipts = await Promise.all(sent.map((tx) => tx.wait()));
const seconds = (performance.now() - started) / 1000;
const confirmed = receipts.filter((r) => r && r.status === 1).length;
console.log(JSON.stringify({ ethers: ethers.version, sent: sent.length, confirmed, seconds, tx_per_s: confirmed / seconds }));
