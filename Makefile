# The two commands: `make run` and `make test`. Both install what is missing first and are idempotent.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(abspath $(VENV))/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
export PORT ?= 8000

.PHONY: install run test lint format bench frontend api-types chromium

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip

# Re-installs when pyproject.toml changes (the stamp's name carries its hash).
$(STAMP): | $(VENV)/bin/python
	rm -f $(VENV)/.installed-*
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

# A developer's machine runs in development mode (secrets generated under var/); production has no .env.
.env:
	printf '# Local development only (gitignored): generated secrets under var/.\nDEBUG=true\n' > $@

install: $(STAMP) .env

# The dashboard (frontend/): npm ci when the lock file changes, a build when any source does.
FRONTEND_SRC := $(shell find frontend/src -type f 2>/dev/null) frontend/index.html frontend/vite.config.ts \
	frontend/tsconfig.json
frontend/node_modules/.package-lock.json: frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund --loglevel=error

frontend/dist/index.html: frontend/node_modules/.package-lock.json $(FRONTEND_SRC)
	cd frontend && npm run --silent build

frontend: frontend/dist/index.html

# Regenerates the dashboard's API types from the OpenAPI schema (a test fails when they are stale).
api-types: install frontend/node_modules/.package-lock.json
	$(BIN)/python manage.py spectacular --file var/schema.yml
	cd frontend && npx openapi-typescript ../var/schema.yml -o src/api/schema.d.ts

# Browser tests drive Debian's Chromium, never a browser a test tool downloads.
# A CJK font too, or the Chinese UI shows as boxes in the screenshots.
chromium:
	@test -x /usr/bin/chromium && test -d /usr/share/fonts/truetype/wqy || { \
	  echo "Installing Debian's chromium (and a CJK font) for the browser tests..."; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
	    chromium fonts-wqy-zenhei >/dev/null; }

# Web + Celery worker + beat from the Procfile, on the embedded defaults unless DATABASE_URL /
# REDIS_URL are set. DEBUG defaults to on here only: it generates development secrets into var/.
run: export DEBUG := $(or $(DEBUG),true)
# honcho gives each Procfile process its own $$PORT (base, +100, +200...): fix the public address
# once so that every process (the sandbox posting callbacks, the worker) agrees on it.
run: export PUBLIC_URL := $(or $(PUBLIC_URL),http://127.0.0.1:$(PORT))
run: install frontend
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	PATH="$(BIN):$$PATH" exec $(BIN)/honcho start -f Procfile

# Instants the time-dependent tests (marker `clock`) run at again, China time: a weekday 10:00 (inside
# business hours), a Sunday 03:00 (weekend, night, nightly jobs) and 23:59:50 on a month's last day
# (the day, week and month turn during the test). tests/conftest.py moves every test's clock there.
TEST_CLOCKS := 2026-11-23T10:00:00+08:00 2026-11-29T03:00:00+08:00 2026-11-30T23:59:50+08:00

# The whole suite against PostgreSQL and Redis, plus lint and migration checks (CI runs exactly this).
test: install frontend chromium
	$(BIN)/python scripts/check_services.py
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python manage.py makemigrations --check --dry-run
	cd frontend && npm test --silent
	@for clock in $(TEST_CLOCKS); do \
	  echo "== time-dependent tests with the clock at $$clock"; \
	  SIYU_TEST_CLOCK=$$clock $(BIN)/pytest -n 2 --dist loadgroup -q -m clock || exit 1; \
	done
	$(BIN)/pytest -n 2 --dist loadgroup

# Benchmarks (PostgreSQL and Redis required): each prints its figures beside a floor measured in the
# same run; results are recorded in docs/benchmarks.md.
bench: install
	$(BIN)/python scripts/check_services.py
	$(BIN)/python bench/callbacks.py
	$(BIN)/python bench/sync.py
	$(BIN)/python bench/contacts_api.py
	$(BIN)/python bench/welcome.py
	$(BIN)/python bench/groups.py
	$(BIN)/python bench/campaigns.py
	$(BIN)/python bench/campaigns_kill.py
	$(BIN)/python bench/moments.py
	$(BIN)/python bench/value.py
	$(BIN)/python bench/value_ingest.py
	$(BIN)/python bench/sop.py

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format:
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
