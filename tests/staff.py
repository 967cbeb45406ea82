"""A logged-in staff user for tests of the staff app (the plugin hands it Airflow's auth manager)."""

from __future__ import annotations


class StaffUser:
    """What the auth manager's user offers the app: a name (and, for the tests, whether it approves)."""

    def __init__(self, name: str = "Mari Tamm", approver: bool = True):
        self.name = name
        self.approver = approver

    def get_name(self) -> str:
        return self.name


def staff_app(name: str = "Mari Tamm", approver: bool = True):
    """The staff app with ``name`` logged in, holding the approver role or not."""
    from milestones.staff import create_app

    return create_app(current_user=lambda: StaffUser(name, approver), approver=lambda user: user.approver)
