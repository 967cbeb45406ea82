#!/bin/sh
# Runs once, when the PostgreSQL volume is first initialised.
set -eu
psql -v ON_ERROR_STOP=1 -v milestones_password="$MILESTONES_DB_PASSWORD" \
     --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" -f /docker-entrypoint-initdb.d/postgres-init.sql
