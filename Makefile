# Two commands for a new user: `make demo` and `make test`.
# Each creates .venv and installs what it needs; only python3 with venv and pip is assumed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test browser postgis bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(VENV)/.installed $@

demo: $(VENV)/.installed
	$(BIN)/renogis demo --out demo-output

# Headless Chromium for the map tests, from Debian's packages, where this user may install them.
browser:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then \
	  echo "chromium: $$(command -v chromium)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver fonts-wqy-microhei >/dev/null) \
	    || echo "could not install chromium; the browser tests will be skipped"; \
	else \
	  echo "chromium not found and cannot install it here (needs root + apt-get); the browser tests will be skipped"; \
	fi

# PostgreSQL + PostGIS for the database tests (the tests start their own throwaway server), from
# Debian's packages, where this user may install them.
postgis:
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1; then \
	  echo "postgis: $$(ls -d /usr/lib/postgresql/*/bin | tail -1)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  (apt-get update -qq && v=$$(apt-cache depends postgresql | sed -n 's/.*Depends: postgresql-\([0-9][0-9]*\)$$/\1/p' | head -1) \
	   && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql "postgresql-$$v-postgis-3" >/dev/null) \
	    || echo "could not install postgresql and postgis; the PostGIS tests will be skipped"; \
	else \
	  echo "PostgreSQL/PostGIS not found and cannot install them here (needs root + apt-get); the PostGIS tests will be skipped"; \
	fi

test: $(VENV)/.installed-test browser postgis
	$(BIN)/python -m pytest -q

bench: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python scripts/bench_districting.py
	$(BIN)/python scripts/bench_access.py
	$(BIN)/python scripts/bench_siting.py
	$(BIN)/python scripts/bench_gaps.py
	$(BIN)/python scripts/bench_map.py
	$(BIN)/python scripts/bench_batch.py

clean:
	rm -rf $(VENV) demo-output .pytest_cache
