# Every target creates the virtualenv it needs; nothing has to be installed by hand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# freqtrade gets a virtualenv of its own: its python-telegram-bot caps httpx below 0.29, which
# would downgrade the dev venv. This one holds exactly what `pip install tradeguard[freqtrade]`
# gives a user; the freqtrade tests run freqtrade from it.
FT_VENV := .venv-freqtrade
FT_STAMP := $(FT_VENV)/.installed
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: run test test-slow check bench venv venv-freqtrade clean demo dashboard-image

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[postgres,ccxt,dev]'
	touch $(STAMP)

venv: $(STAMP)

$(FT_STAMP): pyproject.toml
	$(PYTHON) -m venv $(FT_VENV)
	$(FT_VENV)/bin/pip install --quiet --upgrade pip
	$(FT_VENV)/bin/pip install --quiet -e '.[freqtrade]'
	touch $(FT_STAMP)

venv-freqtrade: $(FT_STAMP)

run: $(STAMP)
	$(BIN)/tradeguard run

check: $(STAMP)
	$(BIN)/ruff format --check src tests bench
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy src

test: check $(FT_STAMP)
	$(BIN)/pytest -n 2 -m "not slow" tests

# Soak tests; pytest exits 5 when no test is marked slow, which is not a failure here.
test-slow: $(STAMP) $(FT_STAMP)
	$(BIN)/pytest -n 2 -m slow tests || [ $$? -eq 5 ]

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) $(FT_VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis

# Refresh the README's dashboard screenshot (docs/images/dashboard.png) from the browser test.
dashboard-image: $(STAMP)
	rm -rf .dashboard-shots
	$(BIN)/pytest -n 0 -p no:cacheprovider --basetemp=.dashboard-shots tests/e2e/test_dashboard_browser.py
	mkdir -p docs/images
	cp .dashboard-shots/test_dashboard_*0/3-decision.png docs/images/dashboard.png
	rm -rf .dashboard-shots
