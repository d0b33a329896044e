# syntax=docker/dockerfile:1
# One image for every vidmp3 service; the command names the service:
#   docker run vidmp3 gateway | auth | converter | notifier | projections
#   docker run vidmp3 auth generate-key /secrets/auth-signing-key.pem
# Set VIDMP3_PORT to the service's port: the health check below asks that port.

ARG PYTHON_IMAGE=python:3.11-slim
ARG NODE_IMAGE=node:20-slim

# The web page's browser libraries, as package-lock.json pins them (served by the gateway).
FROM ${NODE_IMAGE} AS web
WORKDIR /web
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --omit=dev

FROM ${PYTHON_IMAGE} AS build

ARG UV_VERSION=0.13.8
RUN pip install --no-cache-dir "uv==${UV_VERSION}"

ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/app/.venv

WORKDIR /src

# Dependencies first, from the lock alone, so a code change does not reinstall them.
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --no-install-project

# Then the project itself, as a regular (not editable) install: the runtime stage
# carries the virtualenv only, not the source tree.
COPY README.md ./
COPY contracts ./contracts
COPY common ./common
COPY gateway ./gateway
COPY auth ./auth
COPY converter ./converter
COPY notifier ./notifier
COPY projections ./projections
COPY client ./client
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --no-editable


FROM ${PYTHON_IMAGE} AS runtime

# PyAV's wheels bundle FFmpeg: no system ffmpeg needed. The converter encodes with Debian's
# libmp3lame0 (what ffmpeg links: its CPU cost), falling back to the lameenc wheel without it.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libmp3lame0 \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 vidmp3 \
    && useradd --system --uid 10001 --gid vidmp3 --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin vidmp3 \
    && install -d -o vidmp3 -g vidmp3 -m 0700 /secrets

# /secrets belongs to the service user so that a fresh named volume mounted there
# inherits that ownership and `auth generate-key` can write into it.

COPY --from=build --chown=root:root /app/.venv /app/.venv
COPY --from=web --chown=root:root /web/node_modules /app/node_modules

ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    VIDMP3_HOST=0.0.0.0 \
    VIDMP3_WEB_MODULES_DIR=/app/node_modules

WORKDIR /app
USER vidmp3:vidmp3

EXPOSE 8000 8001 8002 8003 8004

# Liveness only (/health); compose gates start-up order on /ready instead.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('VIDMP3_PORT') or sys.exit('VIDMP3_PORT is not set: the health check needs the service port'); urllib.request.urlopen(f'http://127.0.0.1:{port}/health', timeout=4)"]

ENTRYPOINT ["python", "-m"]
CMD ["gateway"]
