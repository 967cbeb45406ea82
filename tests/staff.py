"""A logged-in staff user for tests of the staff app (the plugin hands it Airflow's auth manager)."""

from __future__ import annotations


class StaffUser:
    """What the auth manager's user offers the app: a name."""

    def __init__(self, name: str = "Mari Tamm"):
        self.name = name

    def get_name(self) -> str:
        return self.name


def staff_app(name: str = "Mari Tamm"):
    """The staff app with ``name`` logged in."""
    from milestones.staff import create_app

    return create_app(current_user=lambda: StaffUser(name))
