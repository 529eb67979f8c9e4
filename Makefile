# One entry point for every routine task. `make test` works from a fresh clone.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: install services lint typecheck test bench demo clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml shopify-simulator/pyproject.toml erpsync/_speedups.c
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ./shopify-simulator -e '.[dev]'
	touch $@

services:
	bash .ci/services

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

# Two workers, a test file each at a time: most tests wait on real servers, so two halve the wall time.
test: install services lint typecheck
	$(BIN)/pytest -n 2 --dist loadfile

bench: install services
	$(BIN)/python bench/feeds.py

DEMO_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/erpsync_demo

demo: install
	bash .ci/services --if-installed
	DATABASE_URL=$(DEMO_DATABASE_URL) ERPSYNC_LOG__LEVEL=warning $(BIN)/erpsync demo

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build dist
