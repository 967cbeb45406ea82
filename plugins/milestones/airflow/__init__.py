"""Airflow glue: assets, inbox triggers and the task bodies the DAG files call.

The only subpackage (with :mod:`milestones.staff`) that talks to Airflow's runtime.
"""
