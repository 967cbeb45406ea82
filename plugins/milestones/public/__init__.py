"""The public web app customers and SendGrid reach (``milestones serve``); see :mod:`milestones.public.app`."""


def create_app(settings=None):
    """The ASGI app ``milestones serve`` runs (FastAPI behind the one-click fast path)."""
    from milestones.public.app import OneClickFastPath
    from milestones.public.app import create_app as build

    return OneClickFastPath(build(settings))
