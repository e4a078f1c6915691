# Swarm staking & slashing service. `make run` and `make test` install what they need and are
# fast when nothing changed (stamp files under .venv/ and node_modules/).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
NODE_BIN := node_modules/.bin
SOL := $(shell find contracts -name '*.sol')
ARTIFACT := artifacts/contracts/SwarmStaking.sol/SwarmStaking.json
PYTEST_ARGS ?=

.PHONY: setup run demo demo-governance devnet test lint format typecheck pytest compile clean help bench-indexer bench-latency bench-api bench-epochs bench-gas bench-stream bench-policy crash chaos rogue screenshots

help:
	@echo "make run      - devnet + contracts + the service on http://127.0.0.1:8000 (Ctrl-C stops)"
	@echo "make demo     - a narrated scenario against \`make run\` (run it in another terminal)"
	@echo "make demo-governance - the Safe shape on a devnet of its own: timelocked change, council veto, appeal"
	@echo "make test     - install, lint, type check, and the whole test suite"
	@echo "make compile  - compile the contracts"
	@echo "make lint     - ruff + mypy + import-linter (the layer contracts of ARCHITECTURE.md)"
	@echo "make bench-indexer - indexer backfill vs a plain web3.py baseline (JSON on stdout)"
	@echo "make bench-latency - verdict received -> jail confirmed, pipelined vs send-and-wait (JSON)"
	@echo "make bench-api    - GET /v1/providers/{address} under load vs /healthz, SQLite + PostgreSQL (JSON)"
	@echo "make bench-epochs - one reward epoch of 10,000 providers: compute, store, publish; proofs/s (JSON)"
	@echo "make bench-gas    - gasUsed of every state-changing SwarmStaking function vs targets (JSON)"
	@echo "make bench-stream - verdict -> jailed event delivered on GET /v1/stream vs polling (JSON)"
	@echo "make bench-policy - policy simulate over 100,000 recorded verdicts vs a per-verdict SQL replay (JSON)"
	@echo "make crash    - 20 trials of SIGKILL during 200-verdict bursts, invariants checked (JSON)"
	@echo "make chaos    - 50 fault-injection trials on PostgreSQL (kills, node stop, db restart, reorgs, webhooks)"
	@echo "make rogue    - a rogue detector and a stolen service key vs the on-chain caps, SQLite + PostgreSQL (JSON)"
	@echo "make screenshots - the browser tests, saving the pages' screenshots to docs/screenshots (README)"
	@echo "make clean    - remove build outputs (keeps installs)"

setup: $(VENV)/.installed node_modules/.installed $(ARTIFACT)

$(VENV)/.installed: pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[dev]'
	@touch $@

# `npm ci` installs exactly the committed lock and never writes it, so a fresh clone stays clean.
# The lock lists every platform's optional binaries (Anvil, EDR), as `npm install` records them:
# a lock without them is rewritten by the first `npm install` (162 lines) and dirties the tree.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(ARTIFACT): node_modules/.installed $(SOL) hardhat.config.js
	PATH="$(CURDIR)/$(NODE_BIN):$$PATH" $(NODE_BIN)/hardhat build
	@touch $@

compile: node_modules/.installed $(ARTIFACT)

run: setup
	@$(BIN)/python -m staking.devnet.run

demo: setup
	@$(BIN)/python -m staking.devnet.demo

demo-governance: setup
	@$(BIN)/python -m staking.devnet.demo.governance

devnet: setup
	$(BIN)/swarm-staking devnet

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

typecheck: lint

format: $(VENV)/.installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Collected once in this process first: a misfiled or unmarked test (tests/support/markers.py) then
# fails with its reason, where pytest-xdist workers would only report an internal error.
pytest: setup
	@$(BIN)/pytest --collect-only -q $(PYTEST_ARGS) >/dev/null 2>&1 || $(BIN)/pytest --collect-only -q $(PYTEST_ARGS)
	$(BIN)/pytest -n 2 --dist loadfile $(PYTEST_ARGS)

test: setup lint pytest

bench-indexer: setup
	@$(BIN)/python -m benchmarks.indexer_backfill $(BENCH_ARGS)

bench-latency: setup
	@$(BIN)/python -m benchmarks.verdict_latency $(BENCH_ARGS)

bench-api: setup
	@$(BIN)/python -m benchmarks.api_load $(BENCH_ARGS)

bench-epochs: setup
	@$(BIN)/python -m benchmarks.epoch_reconcile $(BENCH_ARGS)

bench-gas: setup
	@$(BIN)/python -m benchmarks.gas $(BENCH_ARGS)

bench-stream: setup
	@$(BIN)/python -m benchmarks.stream_latency $(BENCH_ARGS)

bench-policy: setup
	@$(BIN)/python -m benchmarks.policy_simulate $(BENCH_ARGS)

crash: setup
	@$(BIN)/python -m faults.verdict_crash $(CRASH_ARGS)

chaos: setup
	@$(BIN)/python -m faults.chaos $(CHAOS_ARGS)

rogue: setup
	@$(BIN)/python -m faults.rogue $(ROGUE_ARGS)

# The README's pictures: the browser tests write them where SWARM_SCREENSHOTS points.
screenshots: setup
	SWARM_SCREENSHOTS=$(CURDIR)/docs/screenshots $(BIN)/pytest -q tests/e2e/test_pages_browser.py

clean:
	rm -rf artifacts cache var .pytest_cache .mypy_cache .ruff_cache
