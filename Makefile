# `make demo` and `make test` bootstrap .venv themselves; nothing else needs installing by hand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
PG_URL ?= postgres://postgres@127.0.0.1:5432/csops
PYTEST := $(BIN)/pytest -q -n 2 --dist loadfile

.PHONY: demo test test-sqlite test-postgres bench lint clean

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

demo: $(INSTALLED)
	$(BIN)/csops demo

# SQLite always; PostgreSQL too in CI, or whenever a server answers on PG_URL.
test: $(INSTALLED)
	$(MAKE) test-sqlite
	@if [ "$$CI" = "true" ] || $(BIN)/python -c "import psycopg,sys; psycopg.connect('$(PG_URL)'.rsplit('/',1)[0]+'/postgres', connect_timeout=2)" 2>/dev/null; then \
		$(MAKE) test-postgres; \
	else echo "PostgreSQL not reachable at $(PG_URL): skipped the PostgreSQL run"; fi

test-sqlite: $(INSTALLED)
	CSOPS_DATA_DIR=$$(mktemp -d) $(PYTEST)

test-postgres: $(INSTALLED)
	CSOPS_DATA_DIR=$$(mktemp -d) DATABASE_URL=$(PG_URL) $(PYTEST)

bench: $(INSTALLED)
	@for script in bench/*.py; do echo "== $$script"; CSOPS_DATA_DIR=$$(mktemp -d) $(BIN)/python $$script || exit 1; done

lint: $(INSTALLED)
	$(BIN)/ruff check src bench scripts

clean:
	rm -rf $(VENV) var
