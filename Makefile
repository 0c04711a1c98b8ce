# chuishao — `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# uv comes from PyPI into .tools/ when it is not already on PATH.
UV := $(or $(shell command -v uv 2>/dev/null),$(CURDIR)/.tools/bin/uv)
export UV_PYTHON_DOWNLOADS ?= never
# The interpreter's real path: a shim (pyenv) named here makes uv rebuild .venv every run.
export UV_PYTHON ?= $(shell python3.11 -c 'import sys; print(sys.executable)' 2>/dev/null || python3 -c 'import sys; print(sys.executable)')
RUN := $(UV) run --locked

.PHONY: help sync run demo timetravel test test-unit soak lint format chaos bench bench-city schemas nats-auth up down clean triage-model triage-eval

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(CURDIR)/.tools/bin/uv:
	python3 -m venv $(CURDIR)/.tools
	$(CURDIR)/.tools/bin/pip install --quiet --disable-pip-version-check "uv>=0.8,<0.14"

sync: $(UV) ## Install every package and dev tool into .venv (from uv.lock)
	$(UV) sync --locked --all-packages

run: sync ## Run the whole system locally: embedded nats-server + redis-server + the services
	$(RUN) chuishao-stack run

demo: sync ## With `make run` up in another terminal: the stories, 52 stack hours in ~1 min
	$(RUN) python -m chuishao.demo

# BY=+49h moves the shared stack clock forward, BY=show shows it, BY=0 (or reset) returns
# it to real time; `--` lets a negative offset (BY=-1h) through as an argument.
timetravel: sync ## Move the running stack's clock: BY=+49h, BY=show, BY=0 back to real time
	$(RUN) python -m chuishao.sla.timetravel -- $(if $(filter 0 reset,$(BY)),reset,$(or $(BY),show))

# Two workers (pytest-xdist), each test file on one of them, so a file's stack of services
# starts once: the suite is mostly one core of services and waiting, and this halves it.
TEST_WORKERS ?= 2
test: lint ## Lint (ruff, mypy --strict), then the test suite on real nats-server and redis-server
	$(RUN) pytest -n $(TEST_WORKERS) --dist loadfile

test-unit: sync ## The fast inner loop: tests/unit only (no servers), in seconds
	$(RUN) pytest tests/unit -q -p no:cacheprovider

soak: sync ## The whole suite 5 times in a row beside a busy core; prints N/5 passed
	RUNS=$(or $(RUNS),5) scripts/soak.sh $(RUN) pytest -n $(TEST_WORKERS) --dist loadfile -p no:cacheprovider -q

lint: sync ## ruff (lint + format check), mypy --strict (sources and tests), the import contracts
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy
	$(RUN) lint-imports
	MYPYPATH=benchmarks $(RUN) mypy benchmarks

format: sync ## Apply ruff's fixes and formatting
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

chaos: sync ## The fault suite: 600 reports under faults, 5 rounds; then the slow scenarios once
	for round in 1 2 3 4 5; do \
	  CHUISHAO_CHAOS_TICKETS=600 CHUISHAO_CHAOS_PAUSE=3 $(RUN) pytest -m "faults and not chaos" -p no:cacheprovider -q -s || exit 1; \
	done
	$(RUN) pytest -m chaos -p no:cacheprovider -q -s

bench: sync ## Benchmark the real stack: throughput, latency, bare-broker limit, RSS (≤ 5 min)
	$(RUN) python benchmarks/e2e.py

TICKETS ?= 200000
bench-city: sync ## A Beijing-sized city: every phase at TICKETS open tickets (benchmarks/results/city.json)
	$(RUN) python benchmarks/city.py --phases all --tickets $(TICKETS)

schemas: sync ## Regenerate the published JSON Schemas and AsyncAPI document
	$(RUN) python scripts/generate_schemas.py

nats-auth: sync ## Generate config/nats-auth.conf (an account and a user per unit); passwords to stderr
	$(RUN) python -m chuishao.devstack.nats_auth > config/nats-auth.conf

# scikit-learn comes only here (the `triage` dependency group); the router reads the JSON
# with numpy. EXTRA=path adds labelled rows (e.g. dispatcher examples exported as TSV).
triage-model: $(UV) ## Train the triage model from services/router/triage/corpus/*.tsv (EXTRA=file)
	$(UV) run --locked --group triage python -m chuishao.router.triage_training $(if $(EXTRA),--extra $(EXTRA))

triage-eval: sync ## The triage CLI on the blind set: accuracy, auto-routing, danger, µs
	$(RUN) python -m chuishao.router.triage_eval services/router/triage/blind/blind.tsv
	@for set in danger2 danger3 danger4 danger5 danger6 danger7 danger8 danger9 danger10 danger11; do if [ -f services/router/triage/blind/$$set.tsv ]; then echo; \
		echo "danger test set (blind/$$set.tsv):"; \
		$(RUN) python -m chuishao.router.triage_eval services/router/triage/blind/$$set.tsv --danger-only; fi; done

up: ## Run the system in containers (needs a Docker engine)
	docker compose up --build -d
	@echo "intake: http://127.0.0.1:8080/docs"
	@echo "command centre: http://127.0.0.1:8090/"

down: ## Stop the containers (data volumes are kept)
	docker compose down

clean: ## Remove local data (.data/) — tickets are lost
	rm -rf .data
