# Two entry points on a fresh machine: `make demo` and `make test`. Both create .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench clean conformance kube-apiserver prometheus test-image

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

# The real Kubernetes API server tier: kube-apiserver v1.20.2 + etcd 3.4 from Debian packages, built once into
# $${XDG_CACHE_HOME:-~/.cache}/acr-refresh/ (about 4-7 minutes cold on 2 cores; instant when cached).
kube-apiserver:
	@bash scripts/build-kube-apiserver.sh >/dev/null || { echo "make: the real Kubernetes API server tier cannot be built here (see above); make test needs it" >&2; exit 1; }

# Debian bookworm's prometheus (with promtool) and prometheus-pushgateway, downloaded (not installed) and
# unpacked once into $${XDG_CACHE_HOME:-~/.cache}/acr-refresh/ for the metrics tests (seconds; instant when cached).
prometheus:
	@bash scripts/get-prometheus.sh >/dev/null || { echo "make: Debian's prometheus packages cannot be fetched here (see above); make test needs them" >&2; exit 1; }

test: lint kube-apiserver prometheus unit

# The CronJob image built from Dockerfile (buildah, stand-in python:3.11-slim) and run by tests/image with
# podman; needs root. About 1.5 minutes cold, under a minute with the base cached. See scripts/image-test.sh.
test-image: $(STAMP)
	bash scripts/image-test.sh

# Go's own text/template tables through our engine (pass rate per source), then the real-Go differential checks.
conformance: $(STAMP)
	$(BIN)/python -m tests.gotemplate.conformance
	$(BIN)/python -m pytest -q tests/gotemplate

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .demo .pytest_cache .mypy_cache .ruff_cache
