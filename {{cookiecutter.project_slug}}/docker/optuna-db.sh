#!/bin/sh
# The database of Optuna's studies that many machines search together (make tune with
# OPTUNA_STORAGE), apart from MLflow's: both keep Alembic's alembic_version table, and in one
# database each would take the other's for its own. PostgreSQL's image runs this once, when its
# data volume is new; the template's tests run it on their own PostgreSQL.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v password="$OPTUNA_DB_PASSWORD" <<'SQL'
CREATE ROLE optuna LOGIN PASSWORD :'password';
CREATE DATABASE optuna OWNER optuna;
SQL
