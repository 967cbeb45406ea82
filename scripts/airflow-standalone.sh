#!/usr/bin/env bash
# Airflow UI + scheduler + triggerer + dag-processor on embedded defaults, with the
# project's DAGs and plugin. Drop customers_YYYY-MM-DD.csv into $MILESTONES_DATA_DIR/inbox/.
set -euo pipefail
source "$(dirname "$0")/airflow-env.sh"
mkdir -p "$MILESTONES_DATA_DIR/inbox"
exec airflow standalone
