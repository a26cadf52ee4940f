"""Personas and shared fixtures. Every test runs on real PostgreSQL."""

import pytest

from kent_cs.roles import Role
from tests.factories import make_user, seed_chart


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


@pytest.fixture
def client_for(client):
    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in
