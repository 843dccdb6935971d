# Kaohe's two entry points: `make demo` and `make test`. Everything they need is installed here.
# PYTHON picks the interpreter (3.11, 3.12 or 3.13): `make test PYTHON=python3.13`. The default
# python3 gets .venv; a PYTHON given on the command line or in the environment gets its own venv
# per version (.venv-3.13), so interpreters never share one, and a venv whose Python is not
# PYTHON's version is made again at install.
PYTHON ?= python3
PYTHON_FOUND := $(shell sh tools/python-path '$(PYTHON)')
PYTHON_EXE := $(word 1,$(PYTHON_FOUND))
PYTHON_VERSION := $(word 2,$(PYTHON_FOUND))
ifeq ($(PYTHON_VERSION),)
ifneq ($(filter-out clean,$(or $(MAKECMDGOALS),install)),)
$(error PYTHON=$(PYTHON) does not run here (see tools/python-path))
endif
endif
ifeq ($(origin PYTHON),file)
VENV ?= .venv
else
VENV ?= .venv-$(basename $(PYTHON_VERSION))
endif
PY := $(VENV)/bin/python
KAOHE := $(VENV)/bin/kaohe
PG_URL ?= postgresql://postgres@127.0.0.1:5432/test
# The suite over two worker processes (each with its own databases); PYTEST_WORKERS= runs it in one.
PYTEST_WORKERS ?= -n 2
export KAOHE_INSTANCE_PATH ?= $(CURDIR)/instance

.PHONY: python-info install browser translations demo test lint typecheck migrations-check test-sqlite test-postgres clean

# durable-rules 2.0.28 (its last release, an sdist with a C extension) calls PyEval_CallObject,
# which Python 3.13 removed: it is built here from source with that name mapped to
# PyObject_CallObject (the same call; on 3.11 and 3.12 Python's own header macro takes over),
# never from pip's wheel cache (a wheel built there without the flag would not load).
DURABLE_CPPFLAGS := -DPyEval_CallObject=PyObject_CallObject
DURABLE_PIN := $(shell sed -n 's/^ *"\(durable-rules==[^"]*\)".*/\1/p' pyproject.toml)
INSTALLED := $(VENV)/.installed-$(PYTHON_VERSION)

$(INSTALLED): pyproject.toml
	@if [ "$$($(PY) -c 'import platform; print(platform.python_version())' 2>/dev/null)" != "$(PYTHON_VERSION)" ]; then \
		echo "making $(VENV) with $(PYTHON_EXE)"; rm -rf $(VENV) && $(PYTHON_EXE) -m venv $(VENV); \
	fi
	rm -f $(VENV)/.installed*
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -c 'import durable_rules_engine' 2>/dev/null || CPPFLAGS='$(DURABLE_CPPFLAGS)' $(PY) -m pip install \
		--quiet --no-cache-dir --no-binary durable-rules --force-reinstall --no-deps '$(DURABLE_PIN)'
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -c 'import engine'  # fails here, saying what to do, if durable-rules' extension does not load
	touch $@

python-info:
	@echo "Python: $(PYTHON) = $(PYTHON_EXE) ($(PYTHON_VERSION)), venv $(VENV)"

# Front-end assets from the npm registry (the chart library), served by the app from node_modules.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

install: python-info $(INSTALLED) node_modules/.installed

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
	KAOHE_TEST_DATABASE_URL=sqlite $(PY) -m pytest $(PYTEST_WORKERS)

# Under CI=true an unreachable PostgreSQL fails the build; on a laptop without one it is skipped.
test-postgres: install
	@if $(PY) -c "import psycopg,sys; psycopg.connect('$(PG_URL)', connect_timeout=5).close()" 2>/dev/null; then \
		KAOHE_TEST_DATABASE_URL=$(PG_URL) $(PY) -m pytest $(PYTEST_WORKERS); \
	elif [ "$$CI" = "true" ]; then \
		echo "PostgreSQL at $(PG_URL) is unreachable: CI requires it" >&2; exit 1; \
	else \
		echo "PostgreSQL at $(PG_URL) is unreachable: skipping the PostgreSQL run (CI would fail)"; \
	fi

clean:
	rm -rf .venv .venv-3.* $(VENV) instance .pytest_cache .mypy_cache .ruff_cache *.egg-info
