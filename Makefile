# Salesplane developer commands. `make run` and `make test` work on a fresh machine: they install
# what they need (uv, the Python workspace) and start what they use.
SHELL := /bin/bash
UV_VERSION := 0.13.9
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := $(HOME)/.local/bin/uv
endif
PY := .venv/bin/python
PYTEST_ARGS ?=

.PHONY: help run demo test test-unit lint proto proto-check token bench bench-all sync helm promtool toxiproxy clean

help:
	@echo "make run         every service and the gateway on SQLite and the local event log"
	@echo "make demo        load a demo organisation into the running gateway (GATEWAY=http://127.0.0.1:8080)"
	@echo "make test        lint, contract check, unit, integration (real Kafka + PostgreSQL) and e2e tests"
	@echo "make test-unit   unit tests only (no servers)"
	@echo "make proto       regenerate the contracts package from protos/"
	@echo "make token       print a development bearer token (SUB=alice ROLES=rep)"
	@echo "make bench       opportunity write benchmark (PostgreSQL + Kafka); see bench/"
	@echo "make bench-console   every console page with the demo data, and the JavaScript shipped"
	@echo "make bench-inspection  pipeline inspection benchmark (PostgreSQL + Kafka; BENCH_ARGS=...)"
	@echo "make bench-gateway   the gateway's hot reads under wrk (PostgreSQL + Kafka; BENCH_ARGS=...)"
	@echo "make bench-all   every benchmark with its defaults, one after another, then one table of figures"
	@echo "make test-faults broker, database, network, process and poison faults under load, long form"
	@echo "make chaos       the long form of every fault, the ten-minute soak and the full fuzz run"
	@echo "make fuzz        10,000 generated malformed requests to each gRPC API and to the gateway"
	@echo "make soak        ten minutes of mixed load: throughput, latency, RSS and lag over time, memory bound"

$(UV):
	python3 -m pip install --quiet --user "uv==$(UV_VERSION)" || python3 -m pip install --quiet "uv==$(UV_VERSION)"

sync: $(UV)
	$(UV) sync --frozen --quiet

run: sync
	$(PY) scripts/run_local.py

# A demo organisation (users, quotas, deals, leads, campaigns, commits) through the running
# gateway's HTTP API, with development tokens; a second run changes nothing.
GATEWAY ?= http://127.0.0.1:8080
demo: sync
	SALESPLANE_ENV=development $(PY) scripts/load_demo.py --gateway "$(GATEWAY)"

test: sync proto-check lint helm promtool toxiproxy
	$(PY) -m pytest $(PYTEST_ARGS)

# helm (built from source through the Go module proxy) for the chart's lint and render tests.
helm:
	@tools/install-helm.sh >/dev/null

# promtool (built the same way) for the alert rules' tests and the dashboard's queries.
promtool:
	@tools/install-promtool.sh >/dev/null

# toxiproxy-server (built the same way) for the network fault tests: a real TCP proxy between each
# service and the broker and its database.
toxiproxy:
	@tools/install-toxiproxy.sh >/dev/null

test-unit: sync
	$(PY) -m pytest -m "not integration and not e2e" $(PYTEST_ARGS)

TYPED_PACKAGES := salesplane_platform salesplane_testing salesplane_leads salesplane_opportunities \
	salesplane_forecasting salesplane_reporting salesplane_gateway

# Style, types (mypy; strict on every domain/ and service_layer/) and the import contracts
# (pyproject.toml [tool.importlinter]: layers and service boundaries).
lint: sync
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy $(addprefix -p ,$(TYPED_PACKAGES))
	.venv/bin/lint-imports

proto: sync
	$(PY) scripts/gen_protos.py

# The console's Polish catalogue: new strings added, unused ones dropped (then translate the empty ones).
.PHONY: console-messages
console-messages: sync
	$(PY) scripts/console_messages.py

proto-check: sync
	$(PY) scripts/gen_protos.py --check

SUB ?= admin
ROLES ?= admin
token: sync
	@SALESPLANE_ENV=$${SALESPLANE_ENV:-development} .venv/bin/salesplane-token --sub "$(SUB)" --roles "$(ROLES)"

bench: sync
	$(PY) bench/opportunity_writes.py

# Opportunity events through Kafka into PostgreSQL rollups, and rollup reads against a recompute.
.PHONY: bench-rollups
bench-rollups: sync
	$(PY) bench/forecast_rollups.py $(BENCH_ARGS)

# Every console page timed with the demo organisation loaded (embedded mode), beside /healthz and a
# JSON read in the same run, and the JavaScript the pages ship, compressed.
.PHONY: bench-console
bench-console: sync
	$(PY) bench/console_pages.py $(BENCH_ARGS)

# Report queries through the report engine against naive SQL, and read-model ingestion against the
# decode-only ceiling, on a throw-away PostgreSQL with durable settings.
.PHONY: bench-reporting
bench-reporting: sync
	$(PY) bench/reporting_queries.py $(BENCH_ARGS)

# Attribution under every model and the campaign ROI report through the report engine against a
# naive per-deal computation with Fractions, on a throw-away PostgreSQL with durable settings
# (small run: BENCH_ARGS="--touches 50000 --deals 5000 --runs 2").
.PHONY: bench-attribution
bench-attribution: sync
	$(PY) bench/attribution.py $(BENCH_ARGS)

# The pipeline inspection (inspect_team / inspect_rep_deals, in process and through gRPC) of a
# first-line manager, a level-2 manager, the VP and a rep on the rollup benchmark's data, with SQL
# statement counts and the rollup read and one-pass deal reads as ceilings
# (small run: BENCH_ARGS="--users 1000 --events 40000 --deals 10000").
.PHONY: bench-inspection
bench-inspection: sync
	$(PY) bench/inspection.py $(BENCH_ARGS)

# The gateway's hot reads through HTTP, driven by wrk, on PostgreSQL + Kafka.
.PHONY: bench-gateway
bench-gateway: sync
	$(PY) bench/gateway_reads.py $(BENCH_ARGS)

# Every benchmark with its default arguments (the rollups' with its scale-out curve), one after
# another (they would skew each other run together), then bench/summary.py: one table of every recorded figure beside its ceiling and
# target, also written to build/bench-results/summary.md. A benchmark that fails does not stop the
# others; the summary still runs, and the exit code is non-zero if any failed. The old records
# are cleared first, so the table holds this run's figures only.
BENCH_RESULTS := build/bench-results
BENCHES := bench bench-rollups bench-console bench-reporting bench-attribution bench-inspection \
	bench-probabilistic bench-gateway
bench-all: sync
	rm -rf $(BENCH_RESULTS)
	@failed=""; \
	for target in $(BENCHES); do \
		echo "=== make $$target"; \
		args=""; if [ "$$target" = bench-rollups ]; then args="--scale-out"; fi; \
		SALESPLANE_BENCH_RESULTS=$(CURDIR)/$(BENCH_RESULTS) $(MAKE) --no-print-directory $$target BENCH_ARGS="$$args" \
			|| failed="$$failed $$target"; \
	done; \
	SALESPLANE_BENCH_RESULTS=$(CURDIR)/$(BENCH_RESULTS) $(PY) bench/summary.py; \
	if [ -n "$$failed" ]; then echo "failed:$$failed"; exit 1; fi

# The probabilistic forecast of 10,000 deals (one core, in this process).
.PHONY: bench-probabilistic
bench-probabilistic: sync
	$(PY) bench/probabilistic_forecast.py $(BENCH_ARGS)

# Broker, database, network, process and poison faults at production timings (30 s delivery
# timeout, a minute without the broker, 30 s blackholes, a five-minute kill loop); `make test` runs
# the same tests at short timings. docs/faults.md says what each shows.
.PHONY: test-faults
test-faults: sync toxiproxy
	SALESPLANE_FAULT_LONG=1 $(PY) -m pytest tests/faults $(PYTEST_ARGS)

# Ten minutes of mixed load on the whole system with no fault: throughput, latency percentiles,
# RSS of every process and consumer lag every 10 s, a memory bound, no error; the figures go to
# build/test-artefacts/soak. `make test` runs a short form of it.
.PHONY: soak
soak: sync
	SALESPLANE_SOAK_SECONDS=600 $(PY) -m pytest tests/soak $(PYTEST_ARGS)

# Generated malformed requests to each service's gRPC API and to the gateway's HTTP API (real
# services on PostgreSQL): no crash status or 5xx, nothing written by a refused request. `make test`
# runs the same tests with fewer requests (tests/fuzz/fuzz_run.py); FUZZ_SEED repeats a run.
FUZZ_REQUESTS ?= 10000
FUZZ_SEED ?= 17
.PHONY: fuzz
fuzz: sync
	SALESPLANE_FUZZ_REQUESTS=$(FUZZ_REQUESTS) SALESPLANE_FUZZ_SEED=$(FUZZ_SEED) $(PY) -m pytest tests/fuzz $(PYTEST_ARGS)

# The long form of everything issue-sized that `make test` runs short: every fault at production
# timings, the ten-minute soak and 10,000 malformed requests per API. The fault table lands in
# build/test-artefacts/faults/fault-table-long.md.
.PHONY: chaos
chaos: test-faults soak fuzz

clean:
	rm -rf var .pytest_cache
