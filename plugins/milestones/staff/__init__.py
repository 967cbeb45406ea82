"""The project's staff pages and endpoints, as one FastAPI app.

Served inside the Airflow UI by ``plugins/milestones_plugin.py`` (mounted under
``/milestones``), behind Airflow's login: every route requires the user the
``current_user`` dependency returns (:mod:`milestones.staff.access`). Each feature
contributes a router; :func:`create_app` mounts them all. What customers and SendGrid
reach (preference pages, one-click unsubscribe, the event webhook) is the separate public
app, :mod:`milestones.public` (``milestones serve``).
"""

from __future__ import annotations


def create_app(current_user=None, login_url=None, approver=None):
    """The staff app. ``current_user``: a FastAPI dependency returning the logged-in user
    (Airflow's ``get_user`` in the plugin); without it every route answers 401.
    ``approver(user)``: whether that user may approve templates (the auth manager decides in the
    plugin); without it nobody may.
    ``login_url(next_path)``: where a browser without a login is sent."""
    from fastapi import Depends, FastAPI

    from milestones.staff import access, docs, gallery, report, runs, templates

    # No schema or Swagger pages: FastAPI serves them outside the app's dependencies, i.e. without a login.
    app = FastAPI(title="milestones", description="Milestone pipeline staff pages and endpoints",
                  dependencies=[Depends(access.guard(current_user, approver))], openapi_url=None, docs_url=None,
                  redoc_url=None)
    access.install_login_redirect(app, login_url)
    app.include_router(runs.router)
    app.include_router(gallery.router)
    app.include_router(templates.router)
    app.include_router(report.router)
    app.include_router(docs.router)
    return app
