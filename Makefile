# Two commands for a newcomer on a fresh machine:
#   make run    set up the virtual environment, migrate, load the demo data, run the bot
#   make test   set up the virtual environment, run ruff, mypy and the tests on SQLite and PostgreSQL
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck pytest bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/patientbot db upgrade
	$(BIN)/patientbot seed seed_data/demo.toml
	$(BIN)/patientbot run

test: $(STAMP) lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/hadolint Dockerfile

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest

# Measurements, not tests: the quick sizes in under two minutes; FULL=1 for the full sizes.
bench: $(STAMP)
	$(BIN)/python -m benchmarks.run_all $(if $(FULL),--full)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
