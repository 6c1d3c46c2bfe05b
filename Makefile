# The verbs people use. `make help` lists them; every target that needs the Python
# environment depends on `setup`, so on a fresh clone `make test` does all the set-up.
.DEFAULT_GOAL := help
SHELL := /bin/bash

# uv from PATH, else the module that `setup` installs with pip (no PATH assumptions).
UV := $(shell command -v uv 2>/dev/null || echo python3 -m uv)
RUN := $(UV) run --locked
ARGS ?=
ROUND ?= 1
WORKERS ?= 4

.PHONY: help setup test lint format docs docs-serve train bench bench-campaign bench-campaign-digits probe history dashboard tensorboard clean multirun stress postgres slurm

help: ## Show the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_%-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

setup: ## Install uv if missing, then the locked environment (uv sync)
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	@$(UV) sync --locked

test: setup ## Run the test suite
	$(RUN) pytest

lint: setup ## ruff (lint, format), the import contracts (import-linter), the types (mypy)
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) lint-imports
	$(RUN) mypy

format: setup ## ruff format and autofix
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

docs: setup ## Build the manual (docs/, mkdocs.yml) strictly into site/: a broken link or a page out of the nav fails
	NO_MKDOCS_2_WARNING=1 $(RUN) mkdocs build --strict

docs-serve: setup ## Serve the manual on http://127.0.0.1:8000 while you edit it
	NO_MKDOCS_2_WARNING=1 $(RUN) mkdocs serve

train: setup ## Train the composed config once: make train ARGS="model.depth=3 optimizer.lr=0.2"
	$(RUN) orchestrator stage=train $(ARGS)

bench: setup ## Benchmarks: fit vs DataLoader; per-trial overhead; the fast path; parallel workers; trainer kinds
	$(RUN) python -m tests.benchmarks.bench_fit
	$(RUN) python -m tests.benchmarks.bench_overhead
	$(RUN) python -m tests.benchmarks.bench_fast_path
	$(RUN) python -m tests.benchmarks.bench_workers
	$(RUN) python -m tests.benchmarks.bench_trainers
	$(RUN) python -m tests.benchmarks.bench_pruning

bench-campaign: setup ## Whole campaigns vs plain Optuna TPE/random/QMC at equal runs, on recorded MLP runs (~10 min)
	$(RUN) python -m tests.benchmarks.bench_campaign $(ARGS)

bench-campaign-digits: setup ## Promotion's default cap on real training (digits, 12 seeds): campaigns with it, then with five fixed seeds (~3 min)
	$(RUN) python -m tests.benchmarks.bench_campaign --tasks digits/digits --reps 10
	$(RUN) python -m tests.benchmarks.bench_campaign --tasks digits/digits --reps 10 --fixed-seeds

round-%: setup ## Run round N (orchestrator/conf/round/round_N.yaml): make round-1 ARGS="budget overrides"
	$(RUN) orchestrator round=round_$* $(ARGS)

work-%: setup ## Run round N's trials only (stage=work)
	$(RUN) orchestrator stage=work round=round_$* $(ARGS)

analyze-%: setup ## Re-run round N's checks without training: studies/round_N/findings.json
	$(RUN) orchestrator stage=analyze round=round_$* $(ARGS)

promote-%: setup ## Decide on round N's candidate: seed reruns against the incumbent
	$(RUN) orchestrator stage=promote round=round_$* $(ARGS)

example-%: setup ## An example end to end: make example-digits (examples/<name>/, README)
	cd examples/$* && $(RUN) orchestrator --config-dir conf --config-name $* round=$*_1 $(ARGS)

multirun: setup ## Round N as Hydra multirun jobs on this box, then analyze+promote: make multirun ROUND=2 WORKERS=4
	$(RUN) orchestrator -m stage=work round=round_$(ROUND) 'worker=range(0,$(WORKERS))' \
		hydra/launcher=joblib hydra.launcher.n_jobs=$(WORKERS) $(ARGS)
	$(RUN) orchestrator round=round_$(ROUND) $(ARGS)

stress: setup ## Fault and load scenarios on SQLite, journal, PostgreSQL: one table
	@bash scripts/postgres-local.sh || echo "no PostgreSQL here: its rows are skipped"
	$(RUN) python -m tests.benchmarks.stress

postgres: ## Install (Debian) and start a loopback PostgreSQL for the tests and make stress
	bash scripts/postgres-local.sh

slurm: ## Install (Debian) and start a one-node SLURM cluster (partition debug) for the SLURM tests
	bash scripts/slurm-local.sh

probe: setup ## Fix the batch size first: throughput per batch size (make probe ARGS="probe.apply=true")
	$(RUN) orchestrator stage=probe $(ARGS)

history: setup ## The lineage of incumbents, round by round
	$(RUN) orchestrator stage=history $(ARGS)

dashboard: setup ## Open the store in optuna-dashboard (http://127.0.0.1:8080): orchestrator stage=dashboard
	$(RUN) orchestrator stage=dashboard $(ARGS)

tensorboard: setup ## Every trial's curves and hyperparameters in TensorBoard (http://127.0.0.1:6006)
	$(RUN) orchestrator stage=tensorboard $(ARGS)

clean: ## Remove caches (never touches studies/)
	rm -rf .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
