# Source me: Airflow settings for running this project on embedded defaults
# (SQLite metadata DB + LocalExecutor under ./airflow_home, data under ./data).
_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export AIRFLOW_HOME="${AIRFLOW_HOME:-$_root/airflow_home}"
export AIRFLOW__CORE__DAGS_FOLDER="$_root/dags"
export AIRFLOW__CORE__PLUGINS_FOLDER="$_root/plugins"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export MILESTONES_DATA_DIR="${MILESTONES_DATA_DIR:-$_root/data}"
export PATH="$_root/.venv/bin:$PATH"
# Task processes talk to the API server; follow its port when it is moved.
export AIRFLOW__API__PORT="${AIRFLOW__API__PORT:-8080}"
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="${AIRFLOW__CORE__EXECUTION_API_SERVER_URL:-http://localhost:$AIRFLOW__API__PORT/execution/}"
