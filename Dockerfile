# syntax=docker/dockerfile:1
# LSTM forecasting service: one image for the API (`forecast-service serve`, the default) and the
# training worker (`forecast-service worker`).
#
#   docker build -t lstm-forecast-service .                      # CPU torch (default)
#   docker build -t lstm-forecast-service:cuda \
#       --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128 .  # CUDA torch
#
# Checked by hadolint in `make test` (tests/deploy); there is no Docker engine on the CI machines.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- builder: a self-contained virtual environment in /opt/venv ----------------------------------
FROM ${PYTHON_IMAGE} AS builder

# Where torch comes from: the CPU wheels by default, a CUDA index for the GPU image.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ARG TORCH_VERSION=2.13.0

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH

# torch first and pinned, from its own index, so the app's `torch>=2.3,<3` is already satisfied
# and pip never pulls the default (CUDA) wheel from PyPI. Its own layer: it changes least.
RUN python -m venv /opt/venv \
    && pip install --no-cache-dir --index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}"

WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
# The client, its own distribution, for the CLI's client commands (`forecast-service models`,
# ...). Without its `plot` extra: --plot says to install matplotlib; plot where you view them.
COPY clients/python ./clients/python
# Regular (not editable) installs: the runtime stage copies only /opt/venv.
RUN pip install --no-cache-dir ./clients/python . \
    && python -c "import app.cli, forecast_client.client, torch; print('torch', torch.__version__)"

# --- runtime: no compilers, no pip cache, no sources outside the venv ---------------------------
FROM ${PYTHON_IMAGE} AS runtime

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    FORECAST_HOST=0.0.0.0 \
    FORECAST_PORT=8000

# A fixed uid/gid so that volumes and bind mounts can be prepared for it on the host.
RUN groupadd --system --gid 10001 forecast \
    && useradd --system --uid 10001 --gid forecast --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin forecast

COPY --from=builder /opt/venv /opt/venv

WORKDIR /app
# The bundled default model (models/sine/1; .dockerignore leaves out every other model) and the
# SQLite directory, owned by the service user before they become volumes: a new named volume is
# filled from the image, ownership included, so the bundled model is there on first start.
COPY --chown=10001:10001 models/ ./models/
RUN install -d -o 10001 -g 10001 /app/var /app/datasets

USER 10001:10001

VOLUME ["/app/models", "/app/datasets", "/app/var"]
EXPOSE 8000

# Liveness of the API (the worker's compose service overrides this with its metrics port).
# python:slim has no curl; urlopen raises, so exits non-zero, on a refused connection or non-2xx.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('FORECAST_PORT', '8000') + '/healthz', timeout=4)"]

CMD ["forecast-service", "serve"]
