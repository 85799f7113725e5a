# Two commands on a fresh machine: `make demo` and `make test`. Both build .venv as needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PREFECT_SERVER_ANALYTICS_ENABLED := false
# Python may cache compiled modules (__pycache__, git-ignored): with PYTHONDONTWRITEBYTECODE set,
# as some shells and containers set it, every process the tests and the demo start (the CLI,
# workers, the local API) compiles wardprog again; `wardprog status` took 1.1-1.5 s, 0.9 cached.
unexport PYTHONDONTWRITEBYTECODE
export PREFECT_HOME ?= $(CURDIR)/var/prefect
# Quiet console, full run logs to the API (the UI): `wardprog` itself sets the console level;
# PREFECT_LOGGING_LEVEL=WARNING would also drop the INFO logs the Prefect UI shows.

# pytest-xdist workers for `make test`: each has its own databases, Prefect home and harness.
# Work stealing: the end-to-end modules are collected first (tests/conftest.py), and a worker
# that runs out takes queued tests from the other instead of idling while it finishes them.
TEST_WORKERS ?= 2

.PHONY: demo test lint typecheck check ui clean bench browser

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The demo keeps everything (database, extracts, inbox, outputs, Prefect runs) under var/demo/.
demo: $(STAMP)
	$(BIN)/wardprog demo

# The dashboard, icon and board report tests render in headless Chromium and check the board
# report's PDF with pdftoppm (Debian's chromium and poppler-utils); install them when we can.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null \
	      || echo "could not install chromium: the browser test will skip (or fail under CI)"; \
	  else echo "chromium not installed: the browser test will skip (or fail under CI)"; fi; }
	@command -v pdftoppm >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils) >/dev/null \
	      || echo "could not install poppler-utils: the board PDF test will skip (or fail under CI)"; \
	  else echo "pdftoppm not installed: the board PDF test will skip (or fail under CI)"; fi; }

test: $(STAMP) browser
	@mkdir -p $(PREFECT_HOME)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy wardprog flows schedules benchmarks tools tests
	$(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal --durations=15

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

# The Prefect UI over the demo's flow runs.
ui: $(STAMP)
	@mkdir -p var/demo/prefect
	PREFECT_HOME=$(CURDIR)/var/demo/prefect $(BIN)/prefect server start

bench: $(STAMP)
	for b in benchmarks/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf var out
