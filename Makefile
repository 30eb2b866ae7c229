# Partner Center: `make run` serves the console and API; `make test` runs every check.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip install -q --disable-pip-version-check
PORT ?= 8000
PARTNERCENTER_TEST_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/test
export PARTNERCENTER_TEST_DATABASE_URL
# Every dependency is pinned: requirements.lock for running, requirements-test.lock for testing
# (`make lock` updates both from pyproject.toml).
LOCK := requirements.lock
TEST_LOCK := requirements-test.lock
LINTED := src tests bench

.PHONY: install install-test runtime-packages system-packages browser run lint check-migrations test test-sqlite test-postgres lock bench clean messages

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.deps: $(LOCK) pyproject.toml | $(BIN)/python
	$(PIP) -r $(LOCK)
	$(PIP) --no-deps -e .
	touch $@

install: $(VENV)/.deps

$(VENV)/.test-deps: $(TEST_LOCK) $(VENV)/.deps
	$(PIP) -r $(TEST_LOCK)
	touch $@

install-test: $(VENV)/.test-deps system-packages

# Debian packages, installed only when one is missing. The product draws PDF bills and invoices with
# WeasyPrint, which needs pango and the Noto CJK fonts; the tests add Chromium for the browser tests
# (never a downloaded browser) and poppler's pdftotext to read the PDFs.
RUNTIME_PACKAGES := fonts-noto-cjk fontconfig libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0
SYSTEM_PACKAGES := $(RUNTIME_PACKAGES) chromium poppler-utils
define apt_install_missing
	@missing=$$(for p in $(1); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed$$' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages:" $$missing; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
endef

runtime-packages:
	$(call apt_install_missing,$(RUNTIME_PACKAGES))

system-packages:
	$(call apt_install_missing,$(SYSTEM_PACKAGES))

browser: system-packages

run: install runtime-packages
	PORT=$(PORT) $(BIN)/partnercenter up

lint: $(VENV)/.test-deps
	$(BIN)/ruff check $(LINTED)
	$(BIN)/mypy src bench
	$(BIN)/ruff format --check $(LINTED)

check-migrations: install
	mkdir -p var && $(BIN)/partnercenter check-migrations

test-sqlite: install-test
	@echo "== Test suite on SQLite =="
	env -u DATABASE_URL $(BIN)/pytest -q

test-postgres: install-test
	@if ! $(BIN)/python -c "import os,psycopg; psycopg.connect(os.environ['PARTNERCENTER_TEST_DATABASE_URL'], connect_timeout=3).close()"; then \
		echo "PostgreSQL is not reachable at $(PARTNERCENTER_TEST_DATABASE_URL) (set PARTNERCENTER_TEST_DATABASE_URL)"; \
		exit 1; \
	fi
	@echo "== Test suite on PostgreSQL ($(PARTNERCENTER_TEST_DATABASE_URL)) =="
	DATABASE_URL=$(PARTNERCENTER_TEST_DATABASE_URL) $(BIN)/pytest -q

test: lint check-migrations test-sqlite test-postgres

# Re-pin every dependency to the newest release that pyproject.toml allows.
lock: | $(BIN)/python
	$(PIP) uv
	$(BIN)/uv pip compile pyproject.toml --upgrade --python-version 3.11 --python-platform x86_64-unknown-linux-gnu \
		--custom-compile-command "make lock" -q -o $(LOCK)
	$(BIN)/uv pip compile pyproject.toml --extra test --upgrade --python-version 3.11 \
		--python-platform x86_64-unknown-linux-gnu --custom-compile-command "make lock" -q -c $(LOCK) -o $(TEST_LOCK)

bench: install-test
	$(BIN)/python -m bench
	$(BIN)/python -m bench.expenditure
	$(BIN)/python -m bench.billing
	$(BIN)/python -m bench.customer_bills
	$(BIN)/python -m bench.customer_bills_csv

messages: install
	cd src/partnercenter && ../../$(BIN)/django-admin makemessages -l zh_Hans --settings=partnercenter.settings
	cd src/partnercenter && ../../$(BIN)/django-admin compilemessages --settings=partnercenter.settings

clean:
	rm -rf $(VENV) var
