#!/usr/bin/env bash
# Creates the three application databases, each owned by its own login role:
#
#   airflow    Airflow metadata database and Celery result backend
#   warehouse  Sabiscore warehouse (role: sabiscore)
#   mlflow     MLflow tracking and model registry store
#
# Run once by the postgres image's entrypoint, on the first start of an empty
# data volume (files in /docker-entrypoint-initdb.d). Passwords come from the
# container environment and are passed to psql as variables, so they are quoted
# by psql and never spliced into SQL by the shell.
set -euo pipefail

: "${AIRFLOW_DB_PASSWORD:?AIRFLOW_DB_PASSWORD must be set}"
: "${SABISCORE_DB_PASSWORD:?SABISCORE_DB_PASSWORD must be set}"
: "${MLFLOW_DB_PASSWORD:?MLFLOW_DB_PASSWORD must be set}"

create_database() {
    local database="$1" role="$2" password="$3"
    echo "init-databases: creating role '${role}' and database '${database}'"
    psql --set ON_ERROR_STOP=1 \
        --username "${POSTGRES_USER:-postgres}" \
        --dbname "${POSTGRES_DB:-postgres}" \
        --set role="${role}" \
        --set database="${database}" \
        --set password="${password}" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'role', :'password')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role')
\gexec
SELECT format('CREATE DATABASE %I OWNER %I ENCODING %L', :'database', :'role', 'UTF8')
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'database')
\gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'database')
\gexec
SQL
}

create_database airflow airflow "${AIRFLOW_DB_PASSWORD}"
create_database warehouse sabiscore "${SABISCORE_DB_PASSWORD}"
create_database mlflow mlflow "${MLFLOW_DB_PASSWORD}"
