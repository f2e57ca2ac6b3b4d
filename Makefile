# Two entry points on a fresh machine: `make demo` and `make test`. Both create .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench clean conformance

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m acr_refresh.demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy acr_refresh

unit: $(STAMP)
	$(BIN)/python -m pytest

test: lint unit

# Go's own text/template tables through our engine (pass rate per source), then the real-Go differential checks.
conformance: $(STAMP)
	$(BIN)/python -m tests.gotemplate.conformance
	$(BIN)/python -m pytest -q tests/gotemplate

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .demo .pytest_cache .mypy_cache .ruff_cache
