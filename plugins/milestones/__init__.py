"""milestones: turn CRM extracts into timely, personal, correct milestone emails.

The package is importable without Airflow running; heavy libraries (Great
Expectations, pandas, SendGrid) are imported inside the functions that need
them so that DAG parsing stays fast.
"""

__version__ = "0.1.0"
