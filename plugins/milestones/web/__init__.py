"""The project's web pages and endpoints, as one FastAPI app.

Served inside the Airflow UI by ``plugins/milestones_plugin.py`` (mounted under
``/milestones``) and runnable on its own with ``uvicorn milestones.web:create_app --factory``.
Each feature contributes a router; :func:`create_app` mounts them all.  These are staff
pages: what customers and SendGrid reach (preference pages, one-click unsubscribe, the event
webhook) is the separate public app, :mod:`milestones.public` (``milestones serve``).
"""

from __future__ import annotations


def create_app():
    from fastapi import FastAPI

    from milestones.web import gallery, report, runs

    app = FastAPI(title="milestones", description="Milestone pipeline pages and endpoints")
    app.include_router(runs.router)
    app.include_router(gallery.router)
    app.include_router(report.router)
    return app
