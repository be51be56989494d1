# Two commands for a new user: `make demo` and `make test`.
# Each creates .venv and installs what it needs; only python3 with venv and pip is assumed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test browser bench clean

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

test: $(VENV)/.installed-test browser
	$(BIN)/python -m pytest -q

bench: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python scripts/bench_districting.py
	$(BIN)/python scripts/bench_access.py
	$(BIN)/python scripts/bench_siting.py
	$(BIN)/python scripts/bench_gaps.py
	$(BIN)/python scripts/bench_map.py

clean:
	rm -rf $(VENV) demo-output .pytest_cache
