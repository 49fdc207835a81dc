# The two commands: `make run` (set up, seed the demo, serve with worker and scheduler) and
# `make test` (set up, run the whole suite). Both work on a fresh clone.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
VENDOR := trading_lab/static/vendor
# make is the development door: DEBUG on unless the caller says otherwise.
export DEBUG ?= true

.PHONY: setup run test lint browser-deps

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

$(VENDOR)/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	rm -rf $(VENDOR)
	mkdir -p $(VENDOR)/bootstrap $(VENDOR)/bootstrap-icons $(VENDOR)/chartjs
	cp node_modules/bootstrap/dist/css/bootstrap.min.css node_modules/bootstrap/dist/js/bootstrap.bundle.min.js $(VENDOR)/bootstrap/
	cp -r node_modules/bootstrap-icons/font/bootstrap-icons.min.css node_modules/bootstrap-icons/font/fonts $(VENDOR)/bootstrap-icons/
	cp node_modules/chart.js/dist/chart.umd.min.js $(VENDOR)/chartjs/
	touch $@

setup: $(VENV)/.installed $(VENDOR)/.installed
	mkdir -p var
	$(PY) manage.py migrate --noinput
	$(PY) manage.py createcachetable

run: setup
	$(PY) manage.py seed_demo
	$(VENV)/bin/honcho start -f Procfile.dev

browser-deps:
	command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium)

test: setup browser-deps
	$(PY) -m pytest

lint: $(VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) manage.py makemigrations --check --dry-run
