"""Kent's default license types and schedules for every licensing test that uses the
database: a `transaction=True` test ends by truncating the tables the data migration
filled, so they are put back when missing."""

import pytest

from licensing.models import LicenseType
from tests.licensing.factories import defaults


@pytest.fixture(scope="session", autouse=True)
def _licensing_defaults_committed(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        if not LicenseType.objects.exists():
            defaults()


@pytest.fixture(autouse=True)
def _licensing_defaults(request):
    marker = request.node.get_closest_marker("django_db")
    fixtures = set(request.fixturenames)
    if marker is None and not {"db", "transactional_db"} & fixtures:
        return
    transactional = (marker is not None and marker.kwargs.get("transaction")) or (
        "transactional_db" in fixtures
    )
    request.getfixturevalue("transactional_db" if transactional else "db")
    if not LicenseType.objects.exists():
        defaults()
