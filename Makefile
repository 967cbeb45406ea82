# milestones: two commands for a fresh machine.
#   make run   set everything up, then run the pipeline on the bundled sample (embedded defaults)
#   make test  set everything up (test tools too), then run ruff and the three test layers
# Everything is installed by these files into .venv (Python) and node_modules (Prism);
# system packages (PostgreSQL, Chromium) come from apt when missing.

PYTHON ?= python3.11
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
DATA_DIR ?= data
AS_OF ?= 2026-11-22
# `make run` replays the bundled day at this moment (--at), so that its emails are not
# expired by the time you run it (docs/design/decisions.md, "Late is sometimes too late").
AT ?= $(AS_OF)T06:00:00Z
SAMPLES := plugins/milestones/samples
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
export NO_MKDOCS_2_WARNING := 1
# Extras the environment is built with (e.g. `make setup EXTRAS=deploy`), remembered in
# .venv.extras so that a later `make` (after pyproject.toml or uv.lock changed) syncs with them
# again instead of uninstalling them. The file is rewritten only when EXTRAS changes, which
# makes the environment out of date: `make setup EXTRAS=deploy` after `make run` installs them.
EXTRAS_FILE := .venv.extras
EXTRAS ?= $(shell cat $(EXTRAS_FILE) 2>/dev/null)
$(shell [ "$$(cat $(EXTRAS_FILE) 2>/dev/null)" = "$(strip $(EXTRAS))" ] || echo "$(strip $(EXTRAS))" > $(EXTRAS_FILE))
$(EXTRAS_FILE): ; @echo "$(strip $(EXTRAS))" > $@

.PHONY: run test setup test-deps lint docs unit dag e2e bench mutation airflow clean

# The unit layer runs on both cores (pytest-xdist), never more than 2 workers (the machines have
# 2 cores); `make unit UNIT_WORKERS=` runs it in one process.
UNIT_WORKERS ?= -n auto --maxprocesses 2 --dist worksteal
# Each layer collects its own folder only (`-m unit` would import every e2e module to deselect it),
# and pytest may cache its assertion-rewritten test modules even where PYTHONDONTWRITEBYTECODE=1
# is set: otherwise every worker of every run parses and rewrites all ~120 test modules again.
PYTEST := PYTHONDONTWRITEBYTECODE= $(BIN)/pytest

# The bundled run carries the fictional example bank (templates/brands/example-bank.yaml) and
# its made-up public address, unless MILESTONES_BRAND_FILE names another brand.
EXAMPLE_BRAND := MILESTONES_BRAND_FILE=templates/brands/example-bank.yaml \
    MILESTONES_PUBLIC_URL=$${MILESTONES_PUBLIC_URL:-https://email.northstar-bank.example}
run: setup
	$(if $(MILESTONES_BRAND_FILE),,$(EXAMPLE_BRAND)) $(BIN)/milestones run --extract $(SAMPLES)/customers_$(AS_OF).csv \
	    --previous $(SAMPLES)/customers_2026-11-21.csv --as-of $(AS_OF) --at $(AT) --data-dir $(DATA_DIR)
	@echo ""
	@echo "Done: the emails are in $(DATA_DIR)/outbox/ (one .eml each), the run summary in $(DATA_DIR)/runs/$(AS_OF).json."
	@echo "Next:"
	@echo "  .venv/bin/milestones why C000001 --data-dir $(DATA_DIR)   every decision for one customer, with its reason"
	@echo "  make airflow                  the Airflow UI with the DAGs, the runs, the template gallery and the results page"
	@echo "  .venv/bin/milestones serve --data-dir $(DATA_DIR)          the customers' side: unsubscribe and preference pages (port 8765)"
	@echo "  README.md and docs/ (.venv/bin/mkdocs serve)   walkthroughs for data engineers, marketing and customers"

# Every layer runs even when one before it failed (the exit code says whether all passed); a test
# tool that could not be installed fails only the tests that need it, naming the command (tests/tools.py).
test: setup
	bash scripts/test-deps.sh || echo "make test: test tools not installed; the tests that need them will fail" >&2
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mkdocs build --strict --quiet --site-dir $(TOOLS)/site
	@rc=0; \
	$(PYTEST) tests/unit $(UNIT_WORKERS) || rc=1; \
	$(PYTEST) tests/dag || rc=1; \
	$(PYTEST) tests/e2e || rc=1; \
	exit $$rc

setup: $(BIN)/milestones

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# Bytecode is compiled at build time (site-packages by uv, the project's own code by
# compileall): with PYTHONDONTWRITEBYTECODE=1 every process would recompile Airflow and GX.
$(BIN)/milestones: $(UV) pyproject.toml uv.lock $(EXTRAS_FILE)
	$(UV) sync --frozen --compile-bytecode --python $(PYTHON) $(foreach e,$(EXTRAS),--extra $(e))
	$(BIN)/python -m compileall -q plugins dags benchmarks
	@touch $@

test-deps: setup
	bash scripts/test-deps.sh

lint: setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports

docs: setup
	$(BIN)/mkdocs build --strict --site-dir site

unit: setup ; $(PYTEST) tests/unit $(UNIT_WORKERS)
dag: setup ; $(PYTEST) tests/dag
e2e: setup test-deps ; $(PYTEST) tests/e2e

# Mutation testing of the decision modules, whole, one module a run (not part of `make test`):
# scores per module (scripts/mutation.py; `--only MODULE` for one, `--report` for the scores so far).
mutation: setup
	$(BIN)/python scripts/mutation.py

bench: setup
	for b in benchmarks/*.py; do $(BIN)/python $$b || exit 1; done

# Airflow UI with the project's DAGs and plugin, SQLite + LocalExecutor.
airflow: setup
	bash scripts/airflow-standalone.sh

clean:
	rm -rf $(VENV) $(TOOLS) $(EXTRAS_FILE) site $(DATA_DIR) airflow_home node_modules mutants
