"""`make demo`: a narrated scenario against the service `make run` started.

Verdicts of every event type go in through the HTTP API (signed by the devnet detector), the
service decides and acts on chain, and governance reviews with the command line: a slash is
vetoed, another executed after its veto window, a breached provider walks its recovery path and
is reinstated into probation. Then a reward epoch is published: the detector files signed
performance reports for the current epoch, governance funds its pool, the epoch ends and the
service's rewards job computes every provider's eligibility and publishes the Merkle root on chain;
a provider's proof is checked against that root. Last, a second detector misfires against two dozen
providers: the service opens an incident and holds the slashes, and one command contains the
detector. Each step prints what happened and the command or request behind it.

Devnet only: the detector and governance keys are the public default-mnemonic accounts, and the
chain clock is moved forward past the veto window and the epoch's end instead of waiting for them.

Run it with `python -m staking.devnet.demo` (`__main__`). The pieces:

- `session`: the connections (API, chain, command line), the narration and the waits;
- `texts`: how the narration words amounts, times and decisions (pure);
- `slashing`: the verdicts, the veto, the executed slash, the recovery and the reinstatement;
- `epoch`: the reward epoch, from performance reports to a proof checked against the root;
- `incident`: the misfiring detector, its incident and its containment in one command.
"""
