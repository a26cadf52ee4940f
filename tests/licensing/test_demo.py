"""Demo data: hundreds of businesses with consistent license history, loaded once."""

import io

import pytest
from django.db.models import F, Sum

from licensing.demo import seed
from licensing.models import Application, Business, License, LicenseInvoice, LicenseStatus

pytestmark = pytest.mark.django_db


def test_demo_history_is_consistent_and_loaded_once(technician):
    out = io.StringIO()
    seed(out)
    assert "licensing:" in out.getvalue()
    assert Business.objects.count() > 400
    statuses = set(License.objects.values_list("status", flat=True))
    assert {LicenseStatus.ACTIVE, LicenseStatus.PENDING, LicenseStatus.CLOSED} <= statuses
    assert LicenseInvoice.objects.values("year").distinct().count() >= 3
    # Every invoice owes what its lines owe; paid ones nothing.
    mismatched = LicenseInvoice.objects.annotate(due=Sum("lines__amount_due")).exclude(
        due=F("amount_due")
    )
    assert not mismatched.exists()
    assert not LicenseInvoice.objects.filter(status="paid").exclude(amount_due=0).exists()
    assert LicenseInvoice.objects.filter(status="open", amount_due__lt=F("total")).exists()
    assert Application.objects.filter(status="in_review", reviews__status="pending").exists()
    before = (Business.objects.count(), LicenseInvoice.objects.count())
    seed(io.StringIO())
    assert (Business.objects.count(), LicenseInvoice.objects.count()) == before
