"""Personas and shared fixtures. Every test runs on real PostgreSQL."""

import sys

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations import RunPython
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from kent_cs.roles import Role
from kent_cs.two_factor import confirmed_device, second_factor_required
from tests.factories import make_user, seed_chart


def pytest_configure(config):
    # The production hasher takes seconds per password on a busy test machine; every
    # persona sets one. Tests check who may sign in, not how strong the hash is.
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


_ROLE_GRANTS = None


def _restore_roles() -> None:
    """Re-run the data migrations that create the role groups (they are idempotent).

    A `transaction=True` test ends by truncating every table, the groups made by data
    migrations included; the next such test, and the next run with --reuse-db, would
    find no roles. Migrations that grant roles define ROLE_PERMISSIONS.
    """
    global _ROLE_GRANTS
    if _ROLE_GRANTS is None:
        # Building the migration state is the slow part; do it once per test run.
        loader = MigrationLoader(connection)
        state_apps = loader.project_state().apps
        plan = []
        for leaf in loader.graph.leaf_nodes():
            plan.extend(key for key in loader.graph.forwards_plan(leaf) if key not in plan)
        _ROLE_GRANTS = (
            state_apps,
            [
                operation.code
                for key in plan
                for operation in loader.graph.nodes[key].operations
                if isinstance(operation, RunPython)
                and hasattr(sys.modules[operation.code.__module__], "ROLE_PERMISSIONS")
            ],
        )
    state_apps, grants = _ROLE_GRANTS
    for grant in grants:
        grant(state_apps, None)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        if not Group.objects.exists():
            _restore_roles()


@pytest.fixture(autouse=True)
def _roles_after_truncation(request):
    """Give `transaction=True` tests the roles a previous one truncated away."""
    marker = request.node.get_closest_marker("django_db")
    transactional = (marker is not None and marker.kwargs.get("transaction")) or bool(
        {"transactional_db", "live_server"} & set(request.fixturenames)
    )
    if not transactional:
        return
    request.getfixturevalue("transactional_db")
    if not Group.objects.exists():
        _restore_roles()


@pytest.fixture
def cashier(db):
    return make_user("cashier", Role.CASHIER, first_name="Casey")


@pytest.fixture
def cashier_b(db):
    return make_user("cashier_b", Role.CASHIER, first_name="Jordan")


@pytest.fixture
def technician(db):
    return make_user("technician", Role.TECHNICIAN)


@pytest.fixture
def supervisor(db):
    return make_user("supervisor", Role.SUPERVISOR)


@pytest.fixture
def admin(db):
    return make_user("admin", Role.ADMINISTRATOR)


@pytest.fixture
def outsider(db):
    """Signed in, but holds no role."""
    return make_user("outsider")


PERSONAS = ["cashier", "cashier_b", "technician", "supervisor", "admin", "outsider"]


@pytest.fixture
def personas(cashier, cashier_b, technician, supervisor, admin, outsider):
    return {
        "cashier": cashier,
        "cashier_b": cashier_b,
        "technician": technician,
        "supervisor": supervisor,
        "admin": admin,
        "outsider": outsider,
    }


@pytest.fixture
def chart(db):
    """Demo chart of accounts keyed by full code, e.g. chart["001.101.30"]."""
    return seed_chart()


@pytest.fixture(autouse=True)
def _force_login_gives_the_second_factor(monkeypatch):
    """force_login skips the password; it skips the second factor too, with a confirmed
    device (tests of the second factor sign in through the forms)."""
    original = Client.force_login

    def force_login(self, user, backend=None):
        original(self, user, backend)
        if second_factor_required(user):
            device = confirmed_device(user) or TOTPDevice.objects.create(
                user=user, name="Test app", confirmed=True
            )
            session = self.session
            session[DEVICE_ID_SESSION_KEY] = device.persistent_id
            session.save()

    monkeypatch.setattr(Client, "force_login", force_login)


@pytest.fixture
def client_for(client):
    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in
