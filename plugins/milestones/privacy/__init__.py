"""Privacy: erasure, subject access export, retention, suppression management.

Built on the stages (core, ingest ... measure); never imports the CLI, the web apps or the
Airflow glue. The pipeline reads :mod:`.registry` (who was erased) when it decides.
"""
