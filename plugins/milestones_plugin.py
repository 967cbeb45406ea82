"""Airflow 3 plugin: the milestones pages inside the Airflow UI, behind Airflow's login.

The FastAPI app (:func:`milestones.staff.create_app`) is mounted by the API server
under ``/milestones``; ``external_views`` put its pages in the UI's navigation. Every
page and endpoint requires the user Airflow's auth manager knows (``get_user``: the UI's
JWT cookie or a bearer token), like Airflow's own API.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin
from fastapi import Request

from milestones.staff import create_app


async def _airflow_user(request: Request):
    """Airflow's ``get_user`` (bearer token, else the UI's JWT cookie); imported on first request,
    so loading the plugin in the scheduler and DAG processor stays cheap."""
    from airflow.api_fastapi.core_api.security import bearer_scheme, get_user

    return await get_user(request, None, await bearer_scheme(request))


#: Approving a template changes what this DAG sends: whoever the auth manager lets edit it approves.
APPROVAL_DAG = "outreach_delivery"


def _may_approve(user) -> bool:
    """The auth manager's answer to "may this user change the DAG that sends the emails?" (PUT on
    the DAG ``outreach_delivery``): with the simple auth manager roles user, op and admin; with FAB
    or Keycloak whatever permission on that DAG their roles grant."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails

    try:
        manager = get_auth_manager()
    except RuntimeError:  # no auth manager initialised (not inside the API server): nobody approves
        return False
    return manager.is_authorized_dag(method="PUT", details=DagDetails(id=APPROVAL_DAG), user=user)


def _login_url(next_path: str) -> str:
    from airflow.api_fastapi.app import get_auth_manager

    return get_auth_manager().get_url_login(next_url=next_path)


class MilestonesPlugin(AirflowPlugin):
    name = "milestones"
    fastapi_apps = [{"app": create_app(current_user=_airflow_user, login_url=_login_url, approver=_may_approve),
                     "url_prefix": "/milestones", "name": "Milestones"}]
    external_views = [
        {"name": "Milestones runs", "href": "/milestones/", "destination": "nav", "url_route": "milestones-runs"},
        {"name": "Email templates", "href": "/milestones/gallery/", "destination": "nav",
         "url_route": "milestones-gallery"},
        {"name": "Milestones results", "href": "/milestones/report/", "destination": "nav",
         "url_route": "milestones-report"},
    ]
