# syntax=docker/dockerfile:1
# tollway's container image: `tollway serve` by default; the same image runs the LiteLLM
# service (`tollway litellm serve --host 0.0.0.0`) and one-shot jobs (`tollway db upgrade`).
#
#   docker build -t tollway .
#   docker run -p 4000:4000 -v tollway-data:/data tollway serve --demo
#
# BASE is any image with Python 3.11 at `python3` and Debian's apt: the official slim image
# by default; the image test passes one made locally from Debian's packages (no registry).
ARG BASE=python:3.11-slim-bookworm

FROM ${BASE} AS build
# Must match UV_VERSION in the Makefile (tests/deploy/test_dockerfile.py checks it).
ARG UV_VERSION=0.13.8
ENV UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=python3 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/opt/tollway \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# uv in its own throwaway environment, so the base's Python stays untouched.
RUN python3 -m venv /opt/uv \
    && /opt/uv/bin/pip install --no-cache-dir "uv==${UV_VERSION}"
WORKDIR /src
# Dependencies first, from the lock alone: this layer is rebuilt only when the lock changes.
# The `proxy` extra is LiteLLM's proxy, for `tollway litellm serve`.
COPY pyproject.toml uv.lock ./
RUN /opt/uv/bin/uv sync --frozen --no-dev --extra proxy --no-install-project --no-cache
# Then tollway itself, installed (not editable) so the final stage needs no source tree.
COPY README.md ./
COPY src ./src
RUN /opt/uv/bin/uv sync --frozen --no-dev --extra proxy --no-editable --no-cache

FROM ${BASE}
# VERSION must match pyproject.toml (checked by the tests); SOURCE is where the code lives.
ARG VERSION=0.1.0
ARG SOURCE=https://github.com/tollway/tollway
LABEL org.opencontainers.image.title="tollway" \
      org.opencontainers.image.description="Self-hosted control plane for LLM traffic" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.version="${VERSION}"
# tini as PID 1: Python there ignores every signal it has no handler for (SIGTERM during
# the seconds of start-up imports, or any time in `db upgrade`), and reaps no orphans
# (the LiteLLM proxy's children under `tollway litellm serve`). tini forwards the signal
# to tollway, whose own SIGTERM handler drains in-flight requests and streams.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 tollway \
    && useradd --uid 10001 --gid tollway --home-dir /data --no-create-home --shell /usr/sbin/nologin tollway \
    && install -d -o tollway -g tollway -m 0700 /data
COPY --from=build /opt/tollway /opt/tollway
ENV PATH=/opt/tollway/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    TOLLWAY_DATA_DIR=/data \
    TOLLWAY_SERVER__HOST=0.0.0.0 \
    TOLLWAY_SERVER__PORT=4000
# The database (SQLite by default), the local master key, the usage journal and the
# rendered LiteLLM config. Give each replica its own: the journal is per process.
VOLUME ["/data"]
WORKDIR /data
# Numeric, so Kubernetes can verify runAsNonRoot without reading /etc/passwd.
USER 10001:10001
EXPOSE 4000 4001
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health/live' % os.environ.get('TOLLWAY_SERVER__PORT', '4000'), timeout=4)"]
ENTRYPOINT ["tini", "--", "tollway"]
CMD ["serve"]
