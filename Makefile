# Every target creates the virtualenv it needs; nothing has to be installed by hand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: run test test-slow check bench venv clean demo dashboard-image

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[postgres,ccxt,dev]'
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(BIN)/tradeguard run

check: $(STAMP)
	$(BIN)/ruff format --check src tests bench
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy src

test: check
	$(BIN)/pytest -n 2 -m "not slow" tests

# Soak tests; pytest exits 5 when no test is marked slow, which is not a failure here.
test-slow: $(STAMP)
	$(BIN)/pytest -n 2 -m slow tests || [ $$? -eq 5 ]

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis

# Refresh the README's dashboard screenshot (docs/images/dashboard.png) from the browser test.
dashboard-image: $(STAMP)
	rm -rf .dashboard-shots
	$(BIN)/pytest -n 0 -p no:cacheprovider --basetemp=.dashboard-shots tests/e2e/test_dashboard_browser.py
	mkdir -p docs/images
	cp .dashboard-shots/test_dashboard_*0/3-decision.png docs/images/dashboard.png
	rm -rf .dashboard-shots
