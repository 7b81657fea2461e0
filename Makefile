# Two commands for a newcomer on a fresh machine:
#   make run    set up the virtual environment, migrate, load the demo data, run the bot
#   make test   set up the virtual environment, run ruff, mypy and the tests on SQLite and PostgreSQL
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# uv installs exactly what uv.lock names (runtime and dev, with hashes). It is bootstrapped
# here with the machine's Python, pinned, in a directory of its own, so the two commands need
# nothing but Python 3.11 and make. The Dockerfile pins the same version.
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
# Never a Python download: the venv is made from $(PYTHON), the interpreter this machine has.
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: run test lint typecheck pytest bench lock clean catalogs extract update bytecode

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet uv==$(UV_VERSION)

# --locked: a pyproject.toml changed without `make lock` fails here instead of installing
# something nobody locked.
# --compile-bytecode, and `bytecode` for the project's own code: where PYTHONDONTWRITEBYTECODE
# is set (CI, the image) nothing else writes .pyc files, and every start of the bot (the test
# suite starts it as a process dozens of times) compiled every module again: 1.9 s to the first
# getUpdates instead of 0.8 s here.
$(STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --extra dev --compile-bytecode --python $(PYTHON)
	$(MAKE) --no-print-directory catalogs
	touch $(STAMP)

# Translations (README, Translations). The .mo files are built from the .po files, never
# committed: `catalogs` compiles what changed; `extract` collects every _()/ngettext sentence of
# bot/ into the template; `update` merges the template into each language's .po.
LOCALES := de es
CATALOGS := $(foreach lang,$(LOCALES),bot/locale/$(lang)/LC_MESSAGES/patientbot.mo)
BABEL_KEYWORDS := -k _ -k N_ -k ngettext:1,2 -k counted:1,2

catalogs: $(CATALOGS)

bot/locale/%/LC_MESSAGES/patientbot.mo: bot/locale/%/LC_MESSAGES/patientbot.po
	$(BIN)/pybabel compile -l $* -i $< -o $@

extract: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg $(BABEL_KEYWORDS) --sort-output --add-location=file \
		--project=patientbot --msgid-bugs-address="" -o bot/locale/patientbot.pot .

update: extract
	$(BIN)/pybabel update -i bot/locale/patientbot.pot -d bot/locale -D patientbot

# After adding or changing a dependency in pyproject.toml: re-resolve and commit uv.lock.
lock: | $(UV)
	$(UV) lock

# Recompiles only what changed since the last time: a second or less.
bytecode: $(STAMP)
	$(BIN)/python -m compileall -q bot storage migrations fakebotapi benchmarks tests

run: $(STAMP) catalogs bytecode
	$(BIN)/patientbot db upgrade
	$(BIN)/patientbot seed seed_data/demo.toml
	$(BIN)/patientbot run

test: $(STAMP) catalogs lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/hadolint Dockerfile

typecheck: $(STAMP)
	$(BIN)/mypy

# One test process per core (pytest-xdist; each has its own databases, see tests/conftest.py):
# about 7 minutes instead of 13 on two cores. `make pytest TEST_WORKERS=0` runs them in one.
# At most four: a container limited to two cores may still count the host's, and the suite's
# real-time tests (pacing, kills) were measured at four processes on two cores, never more.
TEST_WORKERS ?= auto
pytest: $(STAMP) catalogs bytecode
	$(BIN)/pytest --numprocesses $(TEST_WORKERS) --maxprocesses 4 --dist worksteal

# Measurements, not tests: the quick sizes in under two minutes; FULL=1 for the full sizes.
bench: $(STAMP) bytecode
	$(BIN)/python -m benchmarks.run_all $(if $(FULL),--full)

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .mypy_cache .ruff_cache
