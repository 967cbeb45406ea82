"""The public web app customers and SendGrid reach (``milestones serve``); see :mod:`milestones.public.app`."""


def create_app(settings=None):
    from milestones.public.app import create_app as build

    return build(settings)
