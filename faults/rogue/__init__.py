"""`make rogue`: the rogue-detector trial (issue 14, SPEC section 8). Loopback only, bounded in
time (`--time-limit`, 900 s), every process it starts stopped however it ends; progress on
stderr, one JSON object on stdout, exit status 1 when any bound or goal is missed (each named).

Each variant runs on its own Anvil devnet (`faults.rogue.network`): 500 staked providers (7 demo
ones + 493 provisioned in bulk), three detectors (the devnet's #2 and #11 honest, #12 the rogue)
and production-like caps set by governance — window 24 h, jailCap 50 (10 % of the providers),
slashCapBps 500, maxSlashBps 5000, severity bounds (500, 1000, 2500, 5000), quorum 2 above 1000
bps — with the devnet's 120 s veto window, so "stake lost after the veto window" is checked.

1. Stolen SERVICE key (`faults.rogue.service_key`): the SLASHER key and replayed detector-signed
   verdicts call the contract directly (jail every provider, propose at 100 % and at every bound,
   quorum with one signature and with two replayed ones). Reported: jails (<= jailCap), stake at
   stake (<= slashCapBps of totalBonded, from capUsage(), atStakeOf and the SlashProposed events),
   the largest bps accepted per severity, the reverts by error name; then the council's batched
   vetoSlashes + liftJails and executeSlash on every id after the veto window (stake lost 0).
2. Rogue DETECTOR (`faults.rogue.detector`), on SQLite and on PostgreSQL (a fresh database on
   127.0.0.1:5432, dropped afterwards): `swarm-staking serve` with a webhook receiver; the rogue
   posts 1,000 critical security_breach / system_attack verdicts against every provider at
   once while the honest detectors keep a normal stream with six isolations; then
   `swarm-staking detector revoke ROGUE --veto-pending --release-jails --yes`. Reported: the
   rogue's jails (<= jailCap) and stake at stake (<= slashCapBps), seconds to the `incident`
   webhook (goal < 30 s), the command's seconds and the seconds until every provider jailed only
   on its verdicts is active on chain (goal < 60 s), rogue verdicts refused after the revocation,
   the rogue's stake taken after the veto window (0), each honest isolation against its deadline.

    .venv/bin/python -m faults.rogue [--variant both|service-key|detector] [--db both|sqlite|postgresql]
        [--quick] [--providers 500] [--rogue-verdicts 1000] [--seed 1] [--time-limit 900] [--keep]

`--quick`: 100 providers, 200 rogue verdicts (jailCap 20 then: at least twice the policy's jail
reserve of 10). Work files (chain and service logs) are kept under `--workdir` when a run fails.
"""
