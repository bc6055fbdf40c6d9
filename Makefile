# Prophex-sim. Every target creates .venv and installs what it needs; nothing by hand.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP_RUNTIME := $(VENV)/.installed-runtime
STAMP_DEV     := $(VENV)/.installed-dev
PIP_FLAGS := --disable-pip-version-check -q

.PHONY: demo test lint bench serve clean dashboard chromium screenshots nightly mutate compiled \
	test-compiled bench-compiled bench-radcad

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP_RUNTIME): pyproject.toml | $(BIN)/python
	$(BIN)/pip install $(PIP_FLAGS) -e '.[postgres,sweep]'
	touch $@

# The opt-in compiled build (mypyc; setup.py, docs/performance.md "Compiled build") lives in its
# own build dir, a copy of the checkout compiled in place, and runs on the dev venv's interpreter
# with PYTHONPATH=build/compiled. It is never installed editable: an editable compiled install
# would silently ignore later .py edits. The stamp tracks every source, so edits rebuild it.
COMPILED_DIR := build/compiled
STAMP_COMPILED := $(COMPILED_DIR)/.built
COMPILED_SOURCES := setup.py pyproject.toml alembic.ini $(shell find prophex \
	-name '*.py' 2>/dev/null)
RUN_COMPILED := PYTHONPATH=$(CURDIR)/$(COMPILED_DIR) $(BIN)/python -P -c \
	'import sys; from prophex.cli import main; sys.argv[0] = "prophex"; main()'

$(STAMP_DEV): pyproject.toml | $(BIN)/python
	$(BIN)/pip install $(PIP_FLAGS) -e '.[dev]'
	touch $@ $(STAMP_RUNTIME)

## demo: the worked examples, a liquidation cascade and a skewed resolution on embedded SQLite
demo: $(STAMP_RUNTIME)
	$(BIN)/prophex demo

## serve: the REST API on http://127.0.0.1:8000 (embedded SQLite unless PROPHEX_DATABASE_URL)
serve: $(STAMP_RUNTIME)
	$(BIN)/prophex serve

## dashboard: the API and its web dashboard on a SQLite database pre-filled by the demo
dashboard: $(STAMP_RUNTIME)
	$(BIN)/prophex dashboard

## screenshots: refresh docs/screenshots/ from the browser tests (an ordinary run writes to /tmp)
screenshots: $(STAMP_DEV) chromium
	PROPHEX_SCREENSHOT_DIR=$(CURDIR)/docs/screenshots $(BIN)/pytest -n 0 tests/e2e/browser

## chromium: Debian's Chromium for the browser tests (installed only when missing)
chromium:
	@test -x /usr/bin/chromium || (apt-get update && apt-get install -y chromium)

## lint: ruff (lint + format check) and mypy --strict on prophex/
lint: $(STAMP_DEV)
	$(BIN)/ruff check prophex tests examples
	$(BIN)/ruff format --check prophex tests examples
	$(BIN)/mypy --strict prophex

## test: lint, then the whole suite on SQLite and on PostgreSQL (when reachable), browser tests
## included (Playwright driving /usr/bin/chromium)
test: lint chromium
	@$(BIN)/python -c "import sys; sys.path.insert(0, 'tests'); import conftest; print(conftest.pytest_report_header(None))"
	$(BIN)/pytest -n 2 --dist loadfile --ignore=tests/integration/api/test_api_schemathesis.py
	# schemathesis expands one test per API operation only without xdist: run it on its own
	$(BIN)/pytest tests/integration/api/test_api_schemathesis.py

## nightly: the engine's property and stateful tests at the nightly Hypothesis budget
## (2,000 examples x 200 steps for the stateful machines; tests/conftest.py)
nightly: $(STAMP_DEV)
	HYPOTHESIS_PROFILE=nightly $(BIN)/pytest -p no:randomly -n 0 \
		tests/unit/engine/test_exchange_machine.py tests/unit/engine/test_amm_properties.py \
		tests/unit/engine/test_rounding.py

## mutate: mutation testing of prophex/engine and prophex/money.py (mutmut; docs/mutation.md).
## MUTANTS="prophex.engine.amm* prophex.money*" limits the run to some modules.
mutate: $(STAMP_DEV)
	rm -rf mutants
	HYPOTHESIS_PROFILE=mutation PROPHEX_PM_MACHINE_EXAMPLES=10 $(BIN)/mutmut run --max-children 2 $(MUTANTS)
	$(BIN)/mutmut results

## bench: measured figures (docs/performance.md explains them); ends with the write path's table.
## The compiled build's core and SQLite figures are added when `make compiled` has been run.
bench: $(STAMP_DEV)
	@rm -f .bench.jsonl
	$(BIN)/prophex bench core --json | tee -a .bench.jsonl
	$(BIN)/prophex bench ledger --json | tee -a .bench.jsonl
	@if $(BIN)/python -c "import sys; sys.path.insert(0, 'tests'); import conftest; sys.exit(conftest._PG_PROBLEM is not None)"; then \
		url=$$($(BIN)/python -c "import sys; sys.path.insert(0, 'tests'); import conftest; print(conftest.create_pg_database())"); \
		$(BIN)/prophex bench ledger --json --db "$$url" | tee -a .bench.jsonl; \
		$(BIN)/python -c "import sys; sys.path.insert(0, 'tests'); import conftest; conftest.drop_pg_database('$$url')"; \
	else echo "PostgreSQL unreachable: skipping the PostgreSQL ledger benchmark"; fi
	@if [ -f $(STAMP_COMPILED) ]; then \
		$(RUN_COMPILED) bench core --json | tee -a .bench.jsonl; \
		$(RUN_COMPILED) bench ledger --json | tee -a .bench.jsonl; \
	fi
	$(BIN)/prophex bench margin --json
	@$(BIN)/python -m prophex.bench.table < .bench.jsonl
	@rm -f .bench.jsonl

## compiled: the mypyc-compiled engine in build/compiled (`prophex --version` names the build)
compiled: $(STAMP_COMPILED)
	$(RUN_COMPILED) --version

$(STAMP_COMPILED): $(COMPILED_SOURCES) | $(STAMP_DEV)
	rm -rf $(COMPILED_DIR)
	mkdir -p $(COMPILED_DIR)
	cp -r prophex scenarios alembic.ini setup.py pyproject.toml README.md $(COMPILED_DIR)/
	find $(COMPILED_DIR) -name __pycache__ -prune -exec rm -rf {} +
	cd $(COMPILED_DIR) && PROPHEX_COMPILE=1 $(CURDIR)/$(BIN)/python setup.py -q build_ext --inplace
	touch $@

## test-compiled: the engine unit tests and the pinned scenario digests on the compiled build
test-compiled: $(STAMP_COMPILED)
	PROPHEX_EXPECT_BUILD=compiled PYTHONPATH=$(CURDIR)/$(COMPILED_DIR) $(BIN)/pytest -q \
		-p no:randomly -n 2 tests/unit/engine tests/scenarios/test_library.py

## bench-compiled: the core and SQLite ledger benchmarks on the compiled build
bench-compiled: $(STAMP_COMPILED)
	$(RUN_COMPILED) bench core --json
	$(RUN_COMPILED) bench ledger --json

# radCAD for the same-run comparison (docs/performance.md, "radCAD"): a benchmark-only
# dependency in a venv of its own, because radCAD 0.14 pins numpy<1.26.4 and the project needs
# numpy>=2. typing_extensions is imported by radCAD but missing from its requirements.
RADCAD_VENV := .venv-radcad
STAMP_RADCAD := $(RADCAD_VENV)/.installed

$(STAMP_RADCAD):
	$(PYTHON) -m venv $(RADCAD_VENV)
	$(RADCAD_VENV)/bin/pip install $(PIP_FLAGS) 'radcad==0.14.0' typing_extensions
	touch $@

## bench-radcad: CPU per trade of the engine against radCAD's minimal vAMM, in one run
bench-radcad: $(STAMP_DEV) $(STAMP_RADCAD)
	$(BIN)/python -m prophex.bench.radcad --radcad-python $(RADCAD_VENV)/bin/python
	@if [ -f $(STAMP_COMPILED) ]; then \
		PYTHONPATH=$(CURDIR)/$(COMPILED_DIR) $(BIN)/python -P -m prophex.bench.radcad \
			--radcad-python $(CURDIR)/$(RADCAD_VENV)/bin/python --model $(CURDIR)/bench/radcad_model.py; \
	fi

clean:
	rm -rf $(VENV) $(RADCAD_VENV) build .mypy_cache .ruff_cache .pytest_cache .hypothesis prophex-demo.db* prophex.db*
