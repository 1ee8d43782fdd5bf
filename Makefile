# Set-up is part of every target that needs it: `make run` and `make test` work on a fresh clone.
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
PIPELINE ?= iris

.DEFAULT_GOAL := help
.PHONY: help install run test test-fast lint airflow-test ui bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

install: $(INSTALLED) ## create .venv with Python 3.10 and install the pinned stack (about 4 min the first time)

# TFX 1.16's compiled companions have wheels for Python 3.10 at the newest.
$(INSTALLED): pyproject.toml requirements/constraints.txt
	@if [ ! -x $(BIN)/python ]; then \
	  py=$$(command -v python3.10 || true); \
	  if [ -z "$$py" ] && command -v pyenv >/dev/null; then \
	    v=$$(pyenv versions --bare | grep -E '^3\.10(\.|$$)' | tail -n 1); \
	    [ -n "$$v" ] && py="$$(pyenv root)/versions/$$v/bin/python"; \
	  fi; \
	  if [ -z "$$py" ] || ! "$$py" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then \
	    echo "tfpipe needs Python 3.10 (TFX 1.16 has no wheels for newer Pythons)."; \
	    echo "Install it, for example 'pyenv install 3.10' or your system's python3.10 package, then run make again."; \
	    exit 1; \
	  fi; \
	  echo "Creating $(VENV) with $$py"; \
	  "$$py" -m venv $(VENV); \
	fi
	$(BIN)/pip install --quiet --upgrade "pip==25.2" "wheel==0.45.1"
	$(BIN)/pip install --quiet -c requirements/constraints.txt -e ".[dev,kubeflow]"
	@touch $@

run: install ## install, then run the default pipeline (PIPELINE=iris) end to end on the shipped data
	$(BIN)/tfpipe run $(PIPELINE)

test: install ## install, then run every test and the Airflow DAG end to end (make airflow-test), as CI does
	$(BIN)/pytest
	$(MAKE) --no-print-directory airflow-test

# Unit tests run no pipeline, so two workers (pytest-xdist) halve the wait; `make test` stays in one
# process because its pipeline runs are session fixtures, which each worker would make again.
test-fast: install ## the unit tests only: no pipeline run, on two workers (about 2 min)
	$(BIN)/pytest -m unit -n 2

lint: install ## ruff (lint and format check) and mypy; .ci/run runs this before the tests
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

airflow-test: install ## Airflow 2.11.2 in its own .venv-airflow, then `airflow dags test` of PIPELINE's DAG end to end
	bash pipelines/airflow/dag_test.sh "$$($(BIN)/python -c 'import os, sys; print(os.path.join(sys.base_prefix, "bin", "python3"))')" $(PIPELINE)

ui: install ## start the MLflow UI on http://127.0.0.1:5000 over workdir/mlflow
	$(BIN)/tfpipe ui

bench: install ## the benchmarks in one run (on a quiet machine, about 85 min): results in benchmarks/results/, rendered into benchmarks/RESULTS.md
	$(BIN)/python benchmarks/bench.py

clean: ## remove run outputs (workdir/); keeps .venv and .venv-airflow
	rm -rf workdir
