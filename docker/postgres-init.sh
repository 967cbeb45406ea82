#!/bin/sh
# Runs once, when the PostgreSQL volume is first initialised (the postgres image runs every
# *.sh and *.sql of /docker-entrypoint-initdb.d, so this is the only file mounted there).
# Creates the second database on the same server: the milestones ledger lives apart from
# Airflow's metadata. The password is passed as a psql variable and quoted by psql itself.
set -eu
psql -v ON_ERROR_STOP=1 -v milestones_password="$MILESTONES_DB_PASSWORD" \
     --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
CREATE USER milestones WITH PASSWORD :'milestones_password';
CREATE DATABASE milestones OWNER milestones;
SQL
