# Partner Center: `make run` serves the console and API; `make test` runs every check.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
PARTNERCENTER_TEST_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/test
export PARTNERCENTER_TEST_DATABASE_URL

.PHONY: install install-test browser run test test-sqlite test-postgres lint bench clean messages

$(BIN)/partnercenter: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -e .
	touch $@

install: $(BIN)/partnercenter

$(VENV)/.test-deps: pyproject.toml $(BIN)/partnercenter
	$(BIN)/pip install -q --disable-pip-version-check -e '.[test]'
	touch $@

install-test: $(VENV)/.test-deps browser

# Browser tests drive Debian's Chromium; never a downloaded browser.
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "Installing Debian's Chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	fi

run: install
	PORT=$(PORT) $(BIN)/partnercenter up

test: install-test
	$(BIN)/ruff check src tests
	$(BIN)/mypy src
	mkdir -p var && $(BIN)/partnercenter check-migrations
	@echo "== Test suite on SQLite =="
	$(BIN)/pytest -q
	@if $(BIN)/python -c "import os,psycopg; psycopg.connect(os.environ['PARTNERCENTER_TEST_DATABASE_URL'], connect_timeout=3).close()" 2>/dev/null; then \
		echo "== Test suite on PostgreSQL ($(PARTNERCENTER_TEST_DATABASE_URL)) =="; \
		DATABASE_URL=$(PARTNERCENTER_TEST_DATABASE_URL) $(BIN)/pytest -q; \
	else \
		echo "== PostgreSQL not reachable at $(PARTNERCENTER_TEST_DATABASE_URL): ran on SQLite only =="; \
	fi

bench: install-test
	$(BIN)/python -m bench
	$(BIN)/python -m bench.expenditure

messages: install
	cd src/partnercenter && ../../$(BIN)/django-admin makemessages -l zh_Hans --settings=partnercenter.settings
	cd src/partnercenter && ../../$(BIN)/django-admin compilemessages --settings=partnercenter.settings

clean:
	rm -rf $(VENV) var
