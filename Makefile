# Two commands for a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q

.PHONY: run worker test test-fast services lint format bench bench-quality bench-serving bench-soak bench-streams bench-panel bench-m3 bench-m1 bench-scale default-model clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# torch first, pinned: it resolves to the local CPU wheel instead of pulling CUDA packages.
$(VENV)/.torch: | $(PY)
	$(PIP) install torch==2.13.0
	touch $@

# The client is its own distribution (clients/python), installed beside the server: the CLI's
# client commands (`forecast-service models`, ...) and the Python client come from it.
CLIENT := ./clients/python[plot]

$(VENV)/.app: pyproject.toml clients/python/pyproject.toml $(VENV)/.torch
	$(PIP) install -e '$(CLIENT)' -e .
	touch $@

$(VENV)/.dev: pyproject.toml clients/python/pyproject.toml $(VENV)/.torch
	$(PIP) install -e '$(CLIENT)' -e '.[dev]'
	touch $@ $(VENV)/.app

run: $(VENV)/.app  ## install and serve on FORECAST_HOST:FORECAST_PORT (127.0.0.1:8000)
	$(VENV)/bin/forecast-service serve

worker: $(VENV)/.app  ## a queue worker (needs FORECAST_BROKER_URL; see "Scale out")
	$(VENV)/bin/forecast-service worker

test: $(VENV)/.dev lint services  ## install with dev extras, lint, run the whole suite
	$(PY) -m pytest -q

test-fast: $(VENV)/.dev  ## the inner loop: the suite without the browser and the real database servers
	$(PY) -m pytest -q -m "not browser and not services"

services:  ## start Redis and PostgreSQL if they are down; install docker-compose if missing
	bash .ci/services

lint: $(VENV)/.dev
	$(VENV)/bin/ruff format --check . && $(VENV)/bin/ruff check . && $(VENV)/bin/mypy

format: $(VENV)/.dev
	$(VENV)/bin/ruff format . && $(VENV)/bin/ruff check --fix .

bench: $(VENV)/.app  ## the sin task: training, accuracy and rollout times in both modes
	$(PY) -m bench.sin_task

bench-serving: $(VENV)/.dev  ## rollouts in process and the HTTP path of a real server (results/serving.md)
	$(PY) -m bench.serving

bench-soak: $(VENV)/.dev  ## the hostile probe: kill -9, delete race, hostile uploads and panels, slow clients, a large upload
	$(PY) -m bench.soak

bench-streams: $(VENV)/.dev  ## open event streams beside other requests: their cost, and the size of events
	$(PY) -m bench.streams

# torch pinned by a constraint: the peers in the extra must not replace the local CPU wheel.
$(VENV)/.bench: pyproject.toml $(VENV)/.dev
	echo torch==2.13.0 > $(VENV)/torch-pin.txt
	$(PIP) install -c $(VENV)/torch-pin.txt -e '.[dev,bench]'
	touch $@

bench-panel: $(VENV)/.bench  ## the 1,428 M3 monthly series: one upload, one global job, one forecast
	$(PY) -m bench.panel

M3_ARGS ?=
bench-m3: $(VENV)/.bench  ## M3 (4 groups) vs AutoETS, AutoTheta, Naive2, published rows; M3_ARGS=--fallback
	$(PY) -m bench.m3 $(M3_ARGS)

M1_ARGS ?=
bench-scale: $(VENV)/.bench  ## 10,000- and 100,000-series panels: uploads, views, listing, a panel's forecast, training
	$(PY) -m bench.scale $(SCALE_ARGS); served=$$?; $(PY) -m bench.training_scale && exit $$served

bench-m1: $(VENV)/.bench  ## M1 (3 groups, 1,001 series) vs seasonal naive, Naive2, AutoETS, AutoTheta; M1_ARGS=--series 50
	$(PY) -m bench.m1 $(M1_ARGS)

bench-quality: $(VENV)/.app  ## every tutorial task against its target (bench/results/quality.md)
	$(PY) -m bench.quality

default-model: $(VENV)/.app  ## retrain the bundled models/sine/1
	$(PY) -m app bundle-default-model

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
