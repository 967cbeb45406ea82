# The milestones image: Airflow 3.3 with the project's pinned dependencies baked in
# (uv sync --frozen from uv.lock at build time; nothing is installed at container start).
FROM python:3.11-slim-bookworm

# PYTHONDONTWRITEBYTECODE: containers never write .pyc at run time, so every module is
# compiled here, at build time (UV_COMPILE_BYTECODE for site-packages, compileall for the
# project), or each process would recompile Airflow and Great Expectations (~20 s).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/milestones/.venv \
    AIRFLOW_HOME=/opt/airflow \
    PATH=/opt/milestones/.venv/bin:$PATH

RUN apt-get update \
 && apt-get install -y --no-install-recommends tini curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 50000 --gid 0 airflow \
 && pip install --no-cache-dir uv==0.13.8

WORKDIR /opt/milestones
# Dependencies first (cached while only the code changes).
COPY pyproject.toml uv.lock README.md ./
RUN mkdir -p plugins/milestones && touch plugins/milestones/__init__.py \
 && uv sync --frozen --no-dev --extra deploy --no-install-project
COPY dags ./dags
COPY plugins ./plugins
COPY templates ./templates
COPY profiles ./profiles
RUN uv sync --frozen --no-dev --extra deploy \
 && python -m compileall -q dags plugins \
 && mkdir -p /opt/airflow /data \
 && chown -R airflow:0 /opt/airflow /data

USER airflow
ENTRYPOINT ["tini", "--", "airflow"]
CMD ["version"]
