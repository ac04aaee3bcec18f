# TradePulse: `make demo` and `make test` set everything up from nothing on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Numba compiles its kernels once and caches them here, inside the project, not in site-packages.
export NUMBA_CACHE_DIR := $(CURDIR)/.cache/numba
export MPLCONFIGDIR := $(CURDIR)/.cache/mpl
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: setup browser promtool postgresql alertmanager demo test test-unit bench bench-nautilus lock clean labextension

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "TradePulse needs Python 3.11 or newer (found: $$($(PYTHON) --version 2>&1))"; exit 1; }
	@# Debian's python3 ships venv/ensurepip separately; install it only when it is missing.
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); apt-get update -qq && apt-get install -y -qq python3-venv && $(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

# DEMO_SECONDS of live trading after the research part (0: until Ctrl-C).
DEMO_SECONDS ?= 60

demo: setup
	$(VENV)/bin/tradepulse demo --output-dir reports --seconds $(DEMO_SECONDS)

# Browser tests drive Debian's Chromium through Playwright (browsers cannot be downloaded by Playwright here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-dejavu-core; }

# promtool checks the Prometheus configuration and alert rules in deploy/; it comes with Debian's
# prometheus package (on a host running systemd the package also enables a local Prometheus server).
promtool:
	@command -v promtool >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends prometheus; }

# Alertmanager, which the observability pipeline test runs beside Prometheus, comes with Debian's
# prometheus-alertmanager package (its binary has the package's name). Like prometheus, the package
# enables and starts a local server where an init system runs; in a container without one it starts nothing.
alertmanager:
	@command -v prometheus-alertmanager >/dev/null 2>&1 || command -v alertmanager >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends prometheus-alertmanager; }

# PostgreSQL (Debian's package) for the journal's PostgreSQL tests: they start their own server on
# loopback in a temporary folder (as the postgres user when run as root), so no cluster needs to run.
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends postgresql; }

# Three runs: the suite in parallel; every notebook under nbval; the browser tests on their own, since
# Playwright's sync API keeps an event loop running in its worker and Chromium wants the CPU to itself.
test: setup browser promtool alertmanager postgresql
	$(PY) -m pytest -n 2 --dist loadfile tests --ignore=tests/browser
	$(PY) -m pytest -n 2 --dist loadfile --nbval-lax --nbval-sanitize-with tests/nbval_sanitize.cfg notebooks runbooks
	$(PY) -m pytest tests/browser
	$(PY) bench/gate.py

test-unit: setup promtool postgresql
	$(PY) -m pytest -n 2 tests/unit

# The JupyterLab panel: rebuild the committed prebuilt extension (extensions/labextensions/tradepulse-lab)
# from its TypeScript source in extensions/tradepulse_lab. Only this needs Node.js 20 and npm; using the
# panel does not. Commit the result: tests/unit/test_labextension.py fails while it is older than its source.
labextension: setup
	$(PY) extensions/tradepulse_lab/build.py

# NautilusTrader, the live-engine benchmark's peer, lives in a venv of its own: it pins pandas < 3,
# and the product's pins must not move. Rebuilt whenever its pins change.
NAUTILUS_VENV := .cache/bench-nautilus
NAUTILUS_STAMP := $(NAUTILUS_VENV)/.installed

$(NAUTILUS_STAMP): bench/requirements-nautilus.txt
	rm -rf $(NAUTILUS_VENV)
	$(PYTHON) -m venv $(NAUTILUS_VENV)
	$(NAUTILUS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(NAUTILUS_VENV)/bin/python -m pip install --quiet -r bench/requirements-nautilus.txt
	touch $(NAUTILUS_STAMP)

bench-nautilus: $(NAUTILUS_STAMP)

# BENCH_ARGS picks parts, e.g. make bench BENCH_ARGS="--engine-vs-nautilus --nautilus-bars 100000 --nautilus-ticks 100000".
BENCH_ARGS ?=

bench: setup bench-nautilus
	$(PY) -m pip install --quiet -r bench/requirements.txt
	$(PY) bench/run.py $(BENCH_ARGS)
	$(PY) bench/gate.py

# Regenerate the pins from a throwaway environment (needs the registries).
lock:
	rm -rf .cache/lockenv && $(PYTHON) -m venv .cache/lockenv
	.cache/lockenv/bin/pip install --quiet -e '.[test]'
	.cache/lockenv/bin/pip freeze --exclude-editable | grep -v '^tradepulse' > requirements.lock

clean:
	rm -rf $(VENV) .cache reports artifacts
