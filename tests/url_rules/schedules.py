"""Access rules for scheduled reports: technicians and supervisors schedule reports for
other city areas and read the delivery log; schedules are the city's, not a user's, so
nobody gets a 404 for someone else's schedule."""

import hashlib
from datetime import date

from django.utils import timezone

from audit.models import ReportDelivery, ReportSchedule
from tests.url_rules._base import BACK_OFFICE, Rule, pk_of

SCHEDULERS = BACK_OFFICE

RULES = {
    "audit:schedule-list": Rule(SCHEDULERS),
    "audit:schedule-create": Rule(SCHEDULERS),
    "audit:schedule-detail": Rule(SCHEDULERS, kwargs=pk_of("report_schedule")),
    "audit:schedule-edit": Rule(SCHEDULERS, kwargs=pk_of("report_schedule")),
    "audit:schedule-deactivate": Rule(SCHEDULERS, method="post", kwargs=pk_of("report_schedule")),
    "audit:schedule-activate": Rule(SCHEDULERS, method="post", kwargs=pk_of("report_schedule")),
    "audit:schedule-send-now": Rule(SCHEDULERS, method="post", kwargs=pk_of("report_schedule")),
    "audit:delivery-download": Rule(SCHEDULERS, kwargs=pk_of("report_delivery")),
}


def scenario(personas, scene) -> dict:
    schedule = ReportSchedule.objects.create(
        name="Daily cash report for Finance",
        report_key="cashiering.daily-cash",
        format="pdf",
        frequency="daily",
        recipients=["finance@kentwa.gov"],
        created_by=personas["technician"],
        updated_by=personas["technician"],
    )
    content = b"%PDF-1.7 persona check"
    delivery = ReportDelivery.objects.create(
        schedule=schedule,
        period_start=date(2026, 3, 15),
        period_end=date(2026, 3, 15),
        status=ReportDelivery.Status.SENT,
        attempts=1,
        claimed_at=timezone.now(),
        sent_at=timezone.now(),
        recipients=["finance@kentwa.gov"],
        file_name="cashiering-daily-cash-2026-03-15.pdf",
        content_type="application/pdf",
        content=content,
        size_bytes=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
    )
    return {"report_schedule": schedule, "report_delivery": delivery}
