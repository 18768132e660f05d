# syntax=docker/dockerfile:1
#
# One image for every Sabiscore service: the Airflow components (api-server,
# scheduler, dag-processor, triggerer, Celery worker), the MLflow tracking
# server and the FastAPI prediction service.  docker-compose.airflow.yml picks
# the process with `command:`.
#
#   docker build -t sabiscore:latest .
#
# Dependencies come from requirements.lock (exact pins), the project itself is
# installed on top of them with --no-deps so the lock is the single source of
# truth for what runs in production.

FROM python:3.11-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    AIRFLOW_HOME=/opt/airflow \
    SABISCORE_HOME=/opt/sabiscore/state \
    SABISCORE_RAW_DIR=/opt/sabiscore/raw \
    SABISCORE_SAMPLE_DIR=/opt/sabiscore/samples

# curl: container healthchecks.  dumb-init: PID 1 that forwards signals, so
# Celery workers get a warm shutdown (see DUMB_INIT_SETSID in the compose file).
# libgomp1: OpenMP runtime needed by the LightGBM wheel.
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl dumb-init libgomp1 \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/*

# Non-root runtime user, following the Airflow image convention: uid 50000,
# primary group 0 (root group) so arbitrary-uid platforms can still write the
# group-writable directories below.
RUN useradd --uid 50000 --gid 0 --home-dir /home/sabiscore --create-home \
        --shell /bin/bash sabiscore \
    && mkdir -p /opt/sabiscore/state /opt/sabiscore/raw \
        /opt/airflow/logs /mlflow/artifacts \
    && chown -R 50000:0 /opt/sabiscore /opt/airflow /mlflow \
    && chmod -R g+rwX /opt/sabiscore /opt/airflow /mlflow

WORKDIR /opt/sabiscore

# Dependency layer: only invalidated when the lock or the package metadata change.
COPY requirements.lock setup.cfg pyproject.toml README.md ./
RUN pip install --no-cache-dir -r requirements.lock

# Project code.  DAGs and plugins stay as plain files under /opt/sabiscore
# (AIRFLOW__CORE__DAGS_FOLDER / PLUGINS_FOLDER point here); the libraries are
# installed into site-packages.
COPY sabiscore_ml/ ./sabiscore_ml/
COPY feature_store/ ./feature_store/
COPY serving/ ./serving/
COPY dags/ ./dags/
COPY plugins/ ./plugins/
COPY samples/ ./samples/
RUN pip install --no-cache-dir --no-deps . \
    && rm -rf build ./*.egg-info \
    && sabiscore --help >/dev/null

USER 50000:0

EXPOSE 8080 8000 5000

ENTRYPOINT ["/usr/bin/dumb-init", "--"]
CMD ["airflow", "version"]
