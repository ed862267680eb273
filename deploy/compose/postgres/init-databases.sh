#!/usr/bin/env bash
# Creates one database and one owning role per Salesplane service.
# Mounted into /docker-entrypoint-initdb.d of the postgres container by
# docker-compose.yml; runs only when the data volume is initialised for the
# first time (`docker compose down -v` to re-run it).
#
#   SALESPLANE_DATABASES    space/comma separated names (default: the four services)
#   SALESPLANE_DB_PASSWORD  password of every service role (local development only)
#
# The body runs in a subshell so that shell options do not leak into the
# postgres entrypoint if the file is sourced (it is sourced when not executable).
(
  set -euo pipefail

  databases="${SALESPLANE_DATABASES:-leads opportunities forecasting reporting}"
  password="${SALESPLANE_DB_PASSWORD:?SALESPLANE_DB_PASSWORD must be set}"

  for db in ${databases//,/ }; do
    if [[ ! "${db}" =~ ^[a-z_][a-z0-9_]*$ ]]; then
      echo "init-databases: invalid database name '${db}'" >&2
      exit 1
    fi
    echo "init-databases: creating role and database '${db}'"
    psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER}" --dbname "${POSTGRES_DB:-postgres}" \
         -v db="${db}" -v pw="${password}" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'db', :'pw')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'db') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'db')
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'db') \gexec
SQL
  done
)
