"""Airflow 3 plugin: the milestones pages inside the Airflow UI.

The FastAPI app (:func:`milestones.web.create_app`) is mounted by the API server
under ``/milestones``; ``external_views`` put its pages in the UI's navigation.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from milestones.web import create_app


class MilestonesPlugin(AirflowPlugin):
    name = "milestones"
    fastapi_apps = [{"app": create_app(), "url_prefix": "/milestones", "name": "Milestones"}]
    external_views = [
        {"name": "Milestones runs", "href": "/milestones/", "destination": "nav", "url_route": "milestones-runs"},
        {"name": "Email templates", "href": "/milestones/gallery/", "destination": "nav",
         "url_route": "milestones-gallery"},
        {"name": "Milestones results", "href": "/milestones/report/", "destination": "nav",
         "url_route": "milestones-report"},
    ]
