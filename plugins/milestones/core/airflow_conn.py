"""When to ask Airflow for a connection: only where it can hold one.

Booting Airflow to look up a connection costs seconds (its configuration, settings
and secrets masker), so the command line must not pay for it when Airflow cannot
know the connection anyway.  Airflow is asked when this process already runs
Airflow (a task, the API server, the triggerer) or the environment points at a
metadata database or a secrets backend (``AIRFLOW_HOME``,
``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN``, ``AIRFLOW__SECRETS__BACKEND``); the
``AIRFLOW_CONN_<ID>`` variables are read directly by the callers before that.
"""

from __future__ import annotations

import os
import sys

_POINTERS = ("AIRFLOW_HOME", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__SECRETS__BACKEND",
             "AIRFLOW__CORE__SQL_ALCHEMY_CONN")


def reachable() -> bool:
    """True when looking a connection up in Airflow can find anything."""
    return "airflow" in sys.modules or any(os.environ.get(name) for name in _POINTERS)
