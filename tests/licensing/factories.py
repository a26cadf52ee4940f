"""Builders for licensing tests. Fixed dates and names; Kent's default schedules are
installed by the data migration (and again by `defaults()` after a truncation)."""

import itertools
from datetime import date
from decimal import Decimal

from django.apps import apps
from django.db import transaction

from kent_cs.numbering import next_number
from licensing.defaults import install_defaults
from licensing.models import (
    Business,
    License,
    LicenseStatus,
    LicenseStatusChange,
    LicenseType,
)
from licensing.services.applications import application_approve, application_submit, review_decide
from licensing.services.businesses import business_create
from licensing.services.invoices import PaymentRef
from licensing.services.licenses import LICENSE_SERIES

D = Decimal
_ubis = itertools.count(602100001)


def defaults() -> None:
    """Kent's default types and schedules (a transaction=True test truncated them)."""
    install_defaults(apps)


def license_type(code: str = "GEN") -> LicenseType:
    return LicenseType.objects.get(code=code)


def business_data(**overrides) -> dict:
    data = {
        "legal_name": "Valley Auto Body LLC",
        "trade_name": "Valley Auto Body",
        "ubi": str(next(_ubis)),
        "ownership_type": "llc",
        "naics_code": "811121",
        "location_line1": "1220 W Meeker St",
        "location_zip": "98032",
        "fte_employees": D("12"),
        "opened_on": date(2020, 3, 1),
    }
    data.update(overrides)
    return data


def make_business(user=None, **overrides) -> Business:
    return business_create(data=business_data(**overrides), user=user, confirm_duplicate=True)


def make_license(
    business: Business,
    *,
    code: str = "GEN",
    year: int = 2026,
    status: str = LicenseStatus.ACTIVE,
    units: int | None = None,
    issued_on: date | None = None,
) -> License:
    """A license as if issued earlier (straight to the table, with its status row)."""
    with transaction.atomic():
        license = License.objects.create(
            number=next_number(LICENSE_SERIES),
            business=business,
            license_type=license_type(code),
            status=status,
            license_year=year,
            units=units,
            issued_on=None if status == LicenseStatus.PENDING else (issued_on or date(year, 1, 5)),
        )
        LicenseStatusChange.objects.create(
            license=license,
            action="imported",
            to_status=status,
            to_year=year,
            reason="Test history",
            effective_on=date(year, 1, 5),
        )
    return license


def approved_license(business: Business, user, *, code: str = "GEN", issue_date: date, units=None):
    """Apply, approve every review, approve: a pending license with its new-license invoice."""
    application = application_submit(
        business=business,
        license_type=license_type(code),
        requested_start=issue_date,
        user=user,
        units=units,
        received_on=issue_date,
    )
    for review in application.reviews.all():
        review_decide(review=review, user=user, approved=True)
    return application_approve(application=application, user=user, issue_date=issue_date)


def counter_payment(receipt_id: int, line_no: int = 1, on: date = date(2026, 3, 16)) -> PaymentRef:
    return PaymentRef(
        receipt_id=receipt_id, receipt_number=f"R-{receipt_id}", line_no=line_no, business_date=on
    )
