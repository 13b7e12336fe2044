# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export BILLING_INBOX ?= $(CURDIR)/data/inbox
export BILLING_WAREHOUSE ?= $(CURDIR)/data/warehouse
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
MANIFEST := dbt_project/target/manifest.json

.PHONY: install manifest run test test-crash lint ui bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# dagster-dbt loads the dbt manifest at import time: build it before anything imports the defs.
$(MANIFEST): $(STAMP) $(shell find dbt_project -name '*.sql' -o -name '*.yml' -o -name '*.csv' -o -name '*.py' | grep -v target/)
	mkdir -p $(BILLING_WAREHOUSE)
	cd dbt_project && ../$(BIN)/dbt parse --quiet --profiles-dir . --project-dir .
	touch $(MANIFEST)

manifest: $(MANIFEST)

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $(DAGSTER_HOME)/dagster.yaml

run: $(MANIFEST) $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/billing-pipeline demo

test: $(MANIFEST)
	$(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder -q -m "not crash"

# The crash-safety chain: a run SIGKILLed at 20 points, rerun, compared (about 5 minutes).
test-crash: $(MANIFEST)
	$(BIN)/python -m pytest -q -m crash

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

ui: $(MANIFEST) $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster dev -w workspace.yaml

bench: $(MANIFEST)
	$(BIN)/python -m benchmarks

clean:
	rm -rf data/warehouse data/inbox data/truth .dagster_home dbt_project/target
