# Two commands: `make run` and `make test`. Everything else is set up on demand.
PYTHON ?= python3
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
PROMTOOL := $(TOOLS)/bin/promtool
PROMETHEUS := $(TOOLS)/bin/prometheus
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
# Byte-compile every installed package at install time. Where PYTHONDONTWRITEBYTECODE
# is set, no process writes .pyc files, so without this each test worker and each
# `tollway serve` the tests start compiled litellm anew: importing it took 11 s
# instead of 4 s (measured on the 2-core machine), past the tests' start-up deadlines.
export UV_COMPILE_BYTECODE := 1

.PHONY: setup run test check fmt lock clean promtool chromium

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet "uv==$(UV_VERSION)"

$(VENV)/.synced: pyproject.toml uv.lock Makefile | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

setup: $(VENV)/.synced

# promtool checks /metrics and deploy/prometheus in the tests; the prometheus server
# runs every dashboard and rule query against live replicas
# (tests/observability/test_prometheus_live.py). Both come from Debian's prometheus
# package, unpacked without root; if apt's own lists are missing or stale, with
# private ones. Best effort: without them those tests skip (fail under CI=true) and
# `make test` still runs. One download makes both (a grouped target).
APT_PRIVATE = -o Dir::State::Lists="$$tmp/lists" -o Dir::Cache="$$tmp/cache" -o Debug::NoLocking=true
$(PROMTOOL) $(PROMETHEUS) &:
	@mkdir -p $(@D)
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && cd "$$tmp" && \
	{ apt-get -qq download prometheus 2>/dev/null || { \
	    mkdir -p lists/partial cache/archives/partial && \
	    apt-get -qq $(APT_PRIVATE) update >/dev/null 2>&1 && \
	    apt-get -qq $(APT_PRIVATE) download prometheus 2>/dev/null; }; } && \
	dpkg-deb -x prometheus_*.deb root && cd - >/dev/null && \
	cp "$$tmp/root/usr/bin/promtool" $(PROMTOOL) && cp "$$tmp/root/usr/bin/prometheus" $(PROMETHEUS) && \
	echo "promtool, prometheus: $$($(PROMTOOL) --version 2>&1 | head -1)" \
	|| echo "promtool, prometheus: could not fetch Debian's prometheus package; their tests skip (fail under CI=true)"

promtool: $(PROMTOOL) $(PROMETHEUS)

# The console's browser tests drive Debian's chromium through Playwright
# (tests/console/browser.py): Playwright's own browser download cannot work here.
# Installing it needs root, as CI has; elsewhere without it those tests skip (fail
# under CI=true). Best effort, like promtool: `make test` still runs.
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 || \
	  { apt-get update -qq >/dev/null 2>&1 && \
	    apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1; }; \
	fi; \
	if [ -x $(CHROMIUM) ]; then echo "chromium: $$($(CHROMIUM) --version 2>/dev/null)"; \
	else echo "chromium: not installed (needs root: apt-get install chromium); the console's browser tests skip (fail under CI=true)"; fi

chromium: $(CHROMIUM)

run: setup
	$(BIN)/tollway serve --demo

# Three workers on the two-core CI machine: most tests wait on sockets and processes.
# tests/inference + tests/cli, back to back on a quiet machine: -n 2 took 106.9 s and
# 105.5 s, -n 3 98.1 s and 99.2 s, -n 4 98.1 s. Each worker has its own databases, port
# block and Redis prefixes (tests/conftest.py, tests/fakes/ports.py). Kept at 3 when the
# scheduler changed (tests/scheduling.py: the process-starting modules now go first,
# not last): a fourth worker would start a fourth tollway or LiteLLM process at once
# in that first stretch, where the CPU is already the limit and start-ups have 60 s.
TEST_WORKERS ?= 3

test: setup $(PROMTOOL) $(PROMETHEUS) $(CHROMIUM)
	$(BIN)/pytest -n $(TEST_WORKERS)

check: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

fmt: setup
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

lock: $(UV)
	$(UV) lock

clean:
	rm -rf $(VENV) $(TOOLS) .mypy_cache .pytest_cache .ruff_cache
