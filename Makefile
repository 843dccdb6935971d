# Kaohe's two entry points: `make demo` and `make test`. Everything they need is installed here.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
KAOHE := $(VENV)/bin/kaohe
PG_URL ?= postgresql://postgres@127.0.0.1:5432/test
export KAOHE_INSTANCE_PATH ?= $(CURDIR)/instance

.PHONY: install browser translations demo test lint typecheck migrations-check test-sqlite test-postgres clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

# Front-end assets from the npm registry (the chart library), served by the app from node_modules.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

install: $(VENV)/.installed node_modules/.installed

# The browser tests drive Debian's chromium (never `playwright install`), with CJK fonts so the
# Chinese pages render in screenshots. CI runs as root; apt runs only when something is missing.
CHROMIUM ?= /usr/bin/chromium
CJK_FONT ?= /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
browser:
	@if [ ! -x $(CHROMIUM) ] || [ ! -f $(CJK_FONT) ]; then \
		apt-get update && apt-get install -y chromium fonts-noto-cjk; \
	fi

# Page strings: extract, merge into the zh catalog, compile (the .mo is committed; a test checks it).
translations: install
	$(VENV)/bin/pybabel extract -F web/babel.cfg -k _l -k lazy_gettext --no-location --sort-output \
		-o web/translations/messages.pot .
	$(VENV)/bin/pybabel update -i web/translations/messages.pot -d web/translations -l zh \
		--no-fuzzy-matching
	$(VENV)/bin/pybabel compile -d web/translations
	rm -f web/translations/messages.pot

## demo: install, migrate the SQLite database under instance/, load the demo city, serve the web app
demo: install
	$(KAOHE) demo

## test: install, lint, type-check, then the whole suite on SQLite and on PostgreSQL
test: install browser lint typecheck migrations-check test-sqlite test-postgres

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

typecheck: install
	$(VENV)/bin/mypy

migrations-check: install
	@tmp=$$(mktemp -d); \
	KAOHE_DATABASE_URL=sqlite:///$$tmp/check.db $(VENV)/bin/alembic upgrade head && \
	KAOHE_DATABASE_URL=sqlite:///$$tmp/check.db $(VENV)/bin/alembic check; \
	status=$$?; rm -rf $$tmp; exit $$status

test-sqlite: install
	KAOHE_TEST_DATABASE_URL=sqlite $(PY) -m pytest

# Under CI=true an unreachable PostgreSQL fails the build; on a laptop without one it is skipped.
test-postgres: install
	@if $(PY) -c "import psycopg,sys; psycopg.connect('$(PG_URL)', connect_timeout=5).close()" 2>/dev/null; then \
		KAOHE_TEST_DATABASE_URL=$(PG_URL) $(PY) -m pytest; \
	elif [ "$$CI" = "true" ]; then \
		echo "PostgreSQL at $(PG_URL) is unreachable: CI requires it" >&2; exit 1; \
	else \
		echo "PostgreSQL at $(PG_URL) is unreachable: skipping the PostgreSQL run (CI would fail)"; \
	fi

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache *.egg-info
