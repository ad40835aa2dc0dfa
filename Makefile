# The two commands a new user runs: `make demo` and `make test`. Both build the environment first.
PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: demo test lint typecheck unit services env bench clean deploy-test

env: $(VENV)/.synced

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PYTHON) --reinstall-package fixative
	touch $@

demo: env
	$(BIN)/fixative demo

services:
	bash scripts/services.sh

lint: env
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: env
	$(BIN)/mypy

unit: env services
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck unit

# deploy/compose.yaml end to end in Docker (needs root or sudo; installs Debian's docker.io)
deploy-test: env
	bash scripts/deploy-test.sh

bench: env
	$(BIN)/python bench/bulk_insert.py --rows 1000000
	$(BIN)/python bench/lookup.py --points 1000000
	$(BIN)/python bench/chunkedgraph.py
	$(BIN)/python bench/version_build.py --rows 1000000
	$(BIN)/python bench/workflows.py --synapses 1000000
	$(BIN)/python bench/query.py --synapses 1000000
	$(BIN)/python bench/versions.py --synapses 1000000
	$(BIN)/python bench/neuroglancer.py --synapses 1000000
	$(BIN)/python bench/dashboard.py
	$(BIN)/python bench/scale.py --sizes 1000000,3000000

clean:
	rm -rf $(VENV) $(TOOLS) .fixative .pytest_cache .mypy_cache .ruff_cache
