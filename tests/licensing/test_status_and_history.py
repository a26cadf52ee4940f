"""License status: the transition table in code is the one the database enforces; every
change has actor and reason. History: append-only event tables and a readable timeline."""

import itertools
from datetime import date
from decimal import Decimal

import pytest
from django.apps import apps
from django.db import DatabaseError, connection, transaction

from licensing.models import LICENSE_TRANSITIONS, License, LicenseStatus, LicenseStatusChange
from licensing.selectors.history import business_history
from licensing.services.businesses import business_update, contact_add
from licensing.services.common import LicensingError
from licensing.services.licenses import license_change_status
from tests.licensing.factories import approved_license, make_business, make_license
from tests.licensing.test_payments import FULL, pay

D = Decimal
pytestmark = pytest.mark.django_db
S = LicenseStatus


def raw_status_update(license: License, status: str) -> None:
    with connection.cursor() as cursor:
        # issued_on follows the status (its own check constraint), so only the FSM can refuse.
        cursor.execute(
            "UPDATE licensing_license SET status = %s, issued_on = CASE WHEN %s = 'pending' "
            "THEN NULL ELSE coalesce(issued_on, DATE '2026-01-05') END WHERE id = %s",
            [status, status, license.pk],
        )


def test_database_allows_exactly_the_transitions_in_the_table():
    pairs = list(itertools.permutations(S.values, 2))
    for index, (old, new) in enumerate(pairs):
        # A fresh license each time (the FSM guards updates, not inserts).
        business = make_business(legal_name=f"Pair {index}", location_line1=f"{index} Main")
        license = make_license(business, status=old)
        try:
            with transaction.atomic():
                raw_status_update(license, new)
            allowed = True
        except DatabaseError as exc:
            assert "Invalid transition" in str(exc)
            allowed = False
        assert allowed == ((old, new) in LICENSE_TRANSITIONS), (old, new)


def test_suspend_reinstate_and_revoke_with_actor_and_reason(technician):
    license = make_license(make_business())
    license_change_status(
        license=license, to_status=S.SUSPENDED, user=technician, reason="Failed fire inspection"
    )
    license_change_status(
        license=license, to_status=S.ACTIVE, user=technician, reason="Re-inspection passed"
    )
    license_change_status(
        license=license, to_status=S.REVOKED, user=technician, reason="Council order 2026-14"
    )
    changes = list(
        license.status_changes.order_by("pk").values_list(
            "action", "from_status", "to_status", "reason", "changed_by__username"
        )
    )
    assert changes[1:] == [
        ("suspended", "active", "suspended", "Failed fire inspection", "technician"),
        ("reinstated", "suspended", "active", "Re-inspection passed", "technician"),
        ("revoked", "active", "revoked", "Council order 2026-14", "technician"),
    ]


@pytest.mark.parametrize(
    ("start", "target", "message"),
    [
        (S.PENDING, S.ACTIVE, "only through payment or the daily expiry run"),
        (S.ACTIVE, S.EXPIRED, "only through payment or the daily expiry run"),
        (S.EXPIRED, S.SUSPENDED, "cannot become suspended"),
        (S.REVOKED, S.ACTIVE, "cannot become active"),
        (S.CLOSED, S.ACTIVE, "cannot become active"),
        (S.ACTIVE, S.ACTIVE, "already active"),
    ],
)
def test_refused_transitions_say_why(technician, start, target, message):
    license = make_license(make_business(), status=start)
    with pytest.raises(LicensingError, match=message):
        license_change_status(license=license, to_status=target, user=technician, reason="Test")
    license.refresh_from_db()
    assert license.status == start


def test_a_reason_is_required(technician):
    license = make_license(make_business())
    with pytest.raises(LicensingError, match="Enter the reason"):
        license_change_status(license=license, to_status=S.SUSPENDED, user=technician, reason="")


def test_revoking_cancels_unpaid_invoices(technician):
    license = approved_license(make_business(), technician, issue_date=date(2026, 3, 16))
    license_change_status(license=license, to_status=S.CLOSED, user=technician, reason="Withdrawn")
    assert license.invoices.get().status == "cancelled"


EVENT_MODELS = [
    "BusinessEvent",
    "ContactEvent",
    "LicenseEvent",
    "LicenseInvoiceEvent",
    "LicenseInvoiceLineEvent",
    "FeeScheduleEvent",
    "FeeComponentEvent",
    "FeeTierEvent",
    "ApplicationEvent",
    "ReviewEvent",
    "PenaltyRuleEvent",
]


def test_history_cannot_be_altered_by_raw_sql(technician):
    business = make_business()
    contact_add(business=business, data={"name": "Dana Whitfield", "role": "owner"}, user=None)
    license = approved_license(business, technician, issue_date=date(2026, 3, 16))
    pay(license.invoices.get(), *FULL)
    for name in EVENT_MODELS:
        table = apps.get_model("licensing", name)._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {table}")
            assert cursor.fetchone()[0] > 0, name
        for sql in (f"UPDATE {table} SET pgh_label = 'x'", f"DELETE FROM {table}"):
            with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql)
    for sql in (
        "UPDATE licensing_licensestatuschange SET reason = 'rewritten'",
        "DELETE FROM licensing_licensestatuschange",
    ):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    assert LicenseStatusChange.objects.filter(license=license).count() == 2


def test_business_history_is_one_readable_timeline(technician):
    business = make_business(fte_employees=D("12"))
    license = approved_license(business, technician, issue_date=date(2026, 3, 16))
    invoice = license.invoices.get()
    pay(invoice, *FULL)
    business_update(
        business=business, data={"fte_employees": D("30")}, user=technician, reason="Annual update"
    )
    timeline = business_history(business, newest_first=False)
    text = [(e.kind, e.subject, e.action) for e in timeline]
    assert ("business", "Business", "created") in text
    assert ("application", f"Application {license.application.number}", "created") in text
    assert ("review", f"Fire review, application {license.application.number}", "changed") in text
    assert ("license", f"License {license.display_number}", "created") in text
    assert ("invoice", f"Invoice {invoice.number}", "created") in text
    assert ("status", f"License {license.display_number}", "created: Pending payment") in text
    assert (
        "status",
        f"License {license.display_number}",
        "issued: Pending payment → Active",
    ) in text
    assert ("payment", f"Invoice {invoice.number}", "paid $213.93") in text
    fte = next(e for e in timeline if e.kind == "business" and e.action == "changed")
    assert fte.changes == (("FTE employees", "12.00", "30.00"),)
    assert fte.reason == "Annual update"
    issued = next(e for e in timeline if e.action.startswith("issued"))
    assert issued.reason == f"Invoice {invoice.number} paid in full on receipt R-1001"
    payment = next(e for e in timeline if e.kind == "payment")
    assert payment.detail == "R-1001: BL-GEN $100.00, BL-FIRE $112.93, BL-TECH $1.00"
    # Newest first by default.
    assert business_history(business)[0].at >= business_history(business)[-1].at
