# Closeline — `make run` starts the demo stack, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HTMX_VERSION := 2.0.9
HTMX := webapp/static/vendor/htmx.min.js
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: close-check demo-traffic lint run test test-sqlite test-postgres bench bench-search install install-dev vendor migrate clean screenshots translations

$(VENV)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt $(VENV)/.runtime
	$(PIP) install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

# htmx comes from its registry package at install time; nothing third-party is committed.
$(HTMX):
	@command -v npm >/dev/null || { echo "npm is needed to fetch htmx (install Node.js/npm)"; exit 1; }
	rm -rf .vendor-build && mkdir -p .vendor-build webapp/static/vendor
	npm install --silent --no-audit --no-fund --no-save --no-package-lock --prefix .vendor-build htmx.org@$(HTMX_VERSION)
	cp .vendor-build/node_modules/htmx.org/dist/htmx.min.js $(HTMX)
	rm -rf .vendor-build

# The catalogs' compiled form (.mo) is built here from the .po files, never committed.
TRANSLATIONS := webapp/translations
CATALOGS := $(wildcard $(TRANSLATIONS)/*/LC_MESSAGES/messages.po)
COMPILED := $(CATALOGS:.po=.mo)
PYBABEL_KEYWORDS := -k _l -k lazy_gettext -k lazy_ngettext:1,2

$(TRANSLATIONS)/%/LC_MESSAGES/messages.mo: $(TRANSLATIONS)/%/LC_MESSAGES/messages.po $(VENV)/.runtime
	$(VENV)/bin/pybabel -q compile -i $< -o $@

install: $(VENV)/.runtime $(HTMX) $(COMPILED)
install-dev: $(VENV)/.dev $(HTMX) $(COMPILED)

# After marking strings: collect them (babel.cfg), merge them into every catalog, compile.
# Translate the new empty msgstr entries, then run it again (tests/core/test_translations.py checks).
translations: install-dev
	$(VENV)/bin/pybabel -q extract -F babel.cfg $(PYBABEL_KEYWORDS) --add-location=file --no-wrap \
		--project=Closeline -o $(TRANSLATIONS)/messages.pot .
	$(VENV)/bin/pybabel -q update -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) --no-wrap --ignore-obsolete
	$(VENV)/bin/pybabel -q compile -d $(TRANSLATIONS)
vendor: $(HTMX)

run: install
	$(PY) -m scripts.devstack

# The linter and the import contracts (.importlinter) first: a broken layer fails in seconds.
lint: install-dev
	$(VENV)/bin/ruff check --no-cache --quiet .
	$(VENV)/bin/lint-imports --no-cache --no-logo

test: lint
	$(PY) scripts/run_tests.py

# Refresh the README's pictures in docs/screenshots/: the browser tests that take them, saving there
# (any other test run saves its screenshots in a temporary folder).
SCREENSHOT_TESTS := test_screens or test_card_browser or test_member_links_whatsapp_by_qr
screenshots: install-dev
	SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots $(PY) -m pytest -q -m browser -k "$(SCREENSHOT_TESTS)"

bench: install-dev
	$(PY) -m bench.sync_bench
	$(PY) -m bench.webhook_bench
	$(PY) -m bench.import_bench

# Log text search alone at 1,000,000 messages (BENCH_DATABASE_URL for PostgreSQL).
bench-search: install-dev
	$(PY) -m bench.search_bench

# Post realistic WhatsApp conversations into the running demo (`make run` in another terminal);
# it reaches Closeline at PUBLIC_URL, which follows WEB_PORT (config.py).
demo-traffic: install
	$(PY) -m flask --app wsgi demo traffic

# Before going live: check a real Close organization call by call (CLOSE_API_KEY=… make close-check).
close-check: install
	$(PY) -m scripts.close_check

migrate: install-dev
	$(PY) -m flask --app wsgi db migrate

clean:
	rm -rf $(VENV) $(HTMX) .pytest_cache $(COMPILED)
