# Source me: Airflow settings for running this project on embedded defaults
# (SQLite metadata DB + LocalExecutor under ./airflow_home, data under ./data).
_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export AIRFLOW_HOME="${AIRFLOW_HOME:-$_root/airflow_home}"
export AIRFLOW__CORE__DAGS_FOLDER="$_root/dags"
export AIRFLOW__CORE__PLUGINS_FOLDER="$_root/plugins"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
# Named users of Airflow's simple auth manager (name:role). Approvers are the users the auth
# manager lets change the outreach_delivery DAG: roles user, op and admin; viewer only reads.
# Passwords are generated on first start into $AIRFLOW_HOME/simple_auth_manager_passwords.json.generated
# (docs/guides/marketing.md, "Who may approve").
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS:-admin:admin,mari:user,jaan:viewer}"
export MILESTONES_DATA_DIR="${MILESTONES_DATA_DIR:-$_root/data}"
export PATH="$_root/.venv/bin:$PATH"
# Task processes talk to the API server; follow its port when it is moved.
export AIRFLOW__API__PORT="${AIRFLOW__API__PORT:-8080}"
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="${AIRFLOW__CORE__EXECUTION_API_SERVER_URL:-http://localhost:$AIRFLOW__API__PORT/execution/}"
