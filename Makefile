# The two commands: `make run` (set up, seed the demo, serve with worker and scheduler) and
# `make test` (set up, run the whole suite, browser tests included). Both work on a fresh clone
# of Debian or Ubuntu with Python 3.11+; what is missing (npm, chromium) is installed with apt.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
VENDOR := trading_lab/static/vendor
PORT ?= 8000
PYTEST_ARGS ?=
BENCH_ARGS ?=
# make is the development door: DEBUG on unless the caller says otherwise.
export DEBUG ?= true
# Debian packages are installed as root directly, otherwise through sudo; never a prompt.
APT_GET := $(if $(filter 0,$(shell id -u)),,sudo )env DEBIAN_FRONTEND=noninteractive apt-get

.PHONY: setup run test lint browser-deps bench

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Trading Lab needs Python 3.11 or newer: make PYTHON=/path/to/python3.11 ..."; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV) || \
		{ rm -rf $(VENV); echo "python -m venv failed: install python3-venv (Debian)."; exit 1; }
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

# Front-end assets come from the npm registry at install time and are served by Django.
$(VENDOR)/.installed: package.json package-lock.json Makefile
	command -v npm >/dev/null 2>&1 || { $(APT_GET) update -qq && $(APT_GET) install -y -qq npm; }
	npm ci --no-audit --no-fund --loglevel=error
	rm -rf $(VENDOR)
	mkdir -p $(VENDOR)/bootstrap $(VENDOR)/bootstrap-icons $(VENDOR)/chartjs
	cp node_modules/bootstrap/dist/css/bootstrap.min.css node_modules/bootstrap/dist/css/bootstrap.min.css.map \
		node_modules/bootstrap/dist/js/bootstrap.bundle.min.js node_modules/bootstrap/dist/js/bootstrap.bundle.min.js.map \
		$(VENDOR)/bootstrap/
	cp -r node_modules/bootstrap-icons/font/bootstrap-icons.min.css node_modules/bootstrap-icons/font/fonts $(VENDOR)/bootstrap-icons/
	cp node_modules/chart.js/dist/chart.umd.min.js node_modules/chart.js/dist/chart.umd.min.js.map $(VENDOR)/chartjs/
	touch $@

setup: $(VENV)/.installed $(VENDOR)/.installed
	mkdir -p var
	$(PY) manage.py migrate --noinput
	$(PY) manage.py createcachetable

run: setup
	$(PY) manage.py seed_demo --url http://127.0.0.1:$(PORT)/
	$(VENV)/bin/honcho start -f Procfile.dev -p $(PORT)

# The browser tests drive Debian's chromium (/usr/bin/chromium) through Playwright.
browser-deps:
	command -v chromium >/dev/null 2>&1 || { $(APT_GET) update -qq && $(APT_GET) install -y -qq chromium; }

# pytest-django builds its own test database (SQLite, or DATABASE_URL's server), so the
# development database is not needed here.
test: $(VENV)/.installed $(VENDOR)/.installed browser-deps
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed
	mkdir -p var
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) manage.py check --fail-level WARNING

# Benchmarks (bench/README.md): ratios against baselines measured in the same run, on a
# throwaway database (SQLite, or a `<NAME>_bench` beside DATABASE_URL's). BENCH_ARGS=--quick.
# bench/load.py serves the app with gunicorn on PostgreSQL (DATABASE_URL's server, or the local
# one) and drives it with wrk, installed here like chromium for the browser tests.
# Every script runs; the target fails if any of them missed a target.
bench: $(VENV)/.installed $(VENDOR)/.installed
	command -v wrk >/dev/null 2>&1 || { $(APT_GET) update -qq && $(APT_GET) install -y -qq wrk; }
	status=0; \
	$(PY) bench/portfolio.py $(BENCH_ARGS) || status=1; \
	$(PY) bench/bot_ticks.py $(BENCH_ARGS) || status=1; \
	$(PY) bench/bots.py $(BENCH_ARGS) || status=1; \
	$(PY) bench/load.py $(BENCH_ARGS) || status=1; \
	exit $$status
