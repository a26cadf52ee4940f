"""Scheduled reports: each period is delivered once, through the real SMTP backend to a
local SMTP server the test starts, with the rendered report attached and a kept copy that
matches what went out; addresses outside the city's domains are never sent to."""

import hashlib
import io
import threading
from datetime import date, datetime, time, timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from audit.models import ReportDelivery, ReportSchedule
from audit.report_catalog import CATALOG, catalog_report, register
from audit.schedule_runs import report_schedules_check
from audit.schedules import (
    RETRY_AFTER,
    ScheduleError,
    address_allowed,
    deliveries_claim_due,
    deliveries_send_due,
    delivery_claim_now,
    delivery_send,
    report_schedule_create,
    report_schedule_set_active,
)
from tests.audit.smtp_server import start_smtp_server
from tests.cashiering.factories import counter_setup, make_account, open_session, post, utility
from tests.factories import TODAY

# The day after TODAY (a Monday), after the default send time of 07:00.
NOW = timezone.make_aware(datetime.combine(TODAY + timedelta(days=1), time(8, 0)))


@pytest.fixture
def smtp(settings):
    state, server = start_smtp_server()
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": state.host, "port": state.port, "timeout": 5},
        }
    }
    settings.DEFAULT_FROM_EMAIL = "customer-services@kentwa.gov"
    settings.KENT_REPORT_EMAIL_DOMAINS = ["kentwa.gov"]
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def day_of_receipts(db, cashier):
    counter = counter_setup()
    session = open_session(cashier, "D1")
    account = make_account()
    receipts = [
        post(session, [utility(account.number, "20.00")], [counter.cash("20.00")]),
        post(session, [utility(account.number, "35.50")], [counter.cash("40.00")]),
    ]
    return receipts


def _schedule(user, **fields) -> ReportSchedule:
    values = {
        "name": "Audit report for Finance",
        "report_key": "cashiering.audit-report",
        "format": "xlsx",
        "frequency": "daily",
        "recipients": ["finance@kentwa.gov", "utilities@kentwa.gov"],
    }
    values.update(fields)
    return report_schedule_create(user=user, **values)


def test_daily_schedule_is_sent_once_per_period(smtp, day_of_receipts, technician):
    xlsx = _schedule(technician)
    pdf = _schedule(
        technician,
        name="Daily cash report for Utilities",
        report_key="cashiering.daily-cash",
        format="pdf",
        recipients=["utilities@kentwa.gov"],
    )

    first = deliveries_send_due(now=NOW)
    again = deliveries_send_due(now=NOW + timedelta(minutes=1))

    assert [d.status for d in first] == ["sent", "sent"]
    assert again == []
    assert len(smtp.received) == 2
    assert ReportDelivery.objects.count() == 2
    by_rcpt = {tuple(m.rcpt_to): m for m in smtp.received}
    spreadsheet = by_rcpt[("finance@kentwa.gov", "utilities@kentwa.gov")]
    document = by_rcpt[("utilities@kentwa.gov",)]

    delivery = ReportDelivery.objects.get(schedule=xlsx)
    assert (delivery.period_start, delivery.period_end) == (TODAY, TODAY)
    assert delivery.recipients == ["finance@kentwa.gov", "utilities@kentwa.gov"]
    assert spreadsheet.message["Subject"] == "Audit report, 2026-03-16"
    [(name, content_type, data)] = spreadsheet.attachments()
    assert name == "cashiering-audit-report-2026-03-16.xlsx" == delivery.file_name
    assert content_type == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert data == bytes(delivery.content)
    assert delivery.sha256 == hashlib.sha256(data).hexdigest()
    assert delivery.size_bytes == len(data)
    sheet = load_workbook(io.BytesIO(data), read_only=True).active
    rows = [r for r in sheet.iter_rows(values_only=True) if len(r) > 1 and r[1] == "Receipt"]
    numbers = sorted(row[2] for row in rows)
    assert numbers == sorted(str(r) for r in day_of_receipts)
    assert sorted(row[4] for row in rows) == [20.0, 35.5]

    pdf_delivery = ReportDelivery.objects.get(schedule=pdf)
    [(name, content_type, data)] = document.attachments()
    assert name == "cashiering-daily-cash-2026-03-16.pdf"
    assert content_type == "application/pdf"
    assert data.startswith(b"%PDF")
    assert data == bytes(pdf_delivery.content)
    assert pdf_delivery.sha256 == hashlib.sha256(data).hexdigest()


def test_next_period_is_sent_the_next_day_not_before_send_time(smtp, db, technician):
    schedule = _schedule(technician, report_key="cashiering.daily-cash", format="pdf")
    before_send_time = NOW.replace(hour=6)
    deliveries_send_due(now=before_send_time)  # sends the day before TODAY
    deliveries_send_due(now=NOW)  # TODAY, from 07:00
    deliveries_send_due(now=NOW + timedelta(hours=3))
    periods = sorted(
        ReportDelivery.objects.filter(schedule=schedule).values_list("period_start", flat=True)
    )
    assert periods == [TODAY - timedelta(days=1), TODAY]
    assert len(smtp.received) == 2


def test_an_address_outside_the_city_is_never_sent_to(smtp, db, technician):
    schedule = _schedule(technician, report_key="cashiering.daily-cash", format="pdf")
    # Stored some other way than the form (an admin, a script): the send drops it again.
    ReportSchedule.objects.filter(pk=schedule.pk).update(
        recipients=["finance@kentwa.gov", "someone@gmail.com", "x@notkentwa.gov"]
    )
    [delivery] = deliveries_send_due(now=NOW)

    assert [m.rcpt_to for m in smtp.received] == [["finance@kentwa.gov"]]
    assert "gmail" not in smtp.received[0].message["To"]
    assert delivery.status == "sent"
    assert delivery.recipients == ["finance@kentwa.gov"]
    assert delivery.refused_recipients == ["someone@gmail.com", "x@notkentwa.gov"]
    assert "someone@gmail.com, x@notkentwa.gov" in delivery.error


def test_a_schedule_with_no_city_address_fails_and_sends_nothing(smtp, db, technician):
    schedule = _schedule(technician, report_key="cashiering.daily-cash", format="pdf")
    ReportSchedule.objects.filter(pk=schedule.pk).update(recipients=["boss@example.com"])
    [delivery] = deliveries_send_due(now=NOW)
    assert smtp.received == []
    assert delivery.status == "failed"
    assert delivery.content is None
    assert delivery.error.startswith("No recipient is at the city's domains")


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("finance@kentwa.gov", True),
        ("Finance@KentWA.gov", True),
        ("ed@econdev.kentwa.gov", True),
        ("a@notkentwa.gov", False),
        ("a@kentwa.gov.example.com", False),
        ("kentwa.gov", False),
        ("a@kentwa.gov@gmail.com", False),
    ],
)
def test_address_allowed(settings, address, allowed):
    settings.KENT_REPORT_EMAIL_DOMAINS = ["kentwa.gov"]
    assert address_allowed(address) is allowed


def test_service_refuses_outside_address_and_wrong_format_or_frequency(db, technician):
    with pytest.raises(ScheduleError) as refused:
        _schedule(technician, recipients=["finance@kentwa.gov", "me@gmail.com"])
    assert refused.value.field == "recipients"
    assert "me@gmail.com" in refused.value.message
    with pytest.raises(ScheduleError) as wrong_format:
        _schedule(technician, report_key="cashiering.daily-cash", format="xlsx")
    assert wrong_format.value.message == "Daily cash report is available as PDF only."
    with pytest.raises(ScheduleError) as wrong_frequency:
        _schedule(technician, report_key="ledger.trial-balance", frequency="weekly")
    assert wrong_frequency.value.message == "Trial balance can be sent monthly only."
    assert ReportSchedule.objects.count() == 0


def test_form_refuses_an_outside_address_at_the_field(client_for, technician, settings):
    settings.KENT_REPORT_EMAIL_DOMAINS = ["kentwa.gov"]
    client = client_for(technician)
    response = client.post(
        reverse("audit:schedule-create"),
        {
            "name": "Cash for Finance",
            "report_key": "cashiering.daily-cash",
            "format": "pdf",
            "frequency": "daily",
            "send_at": "07:00",
            "recipients": "finance@kentwa.gov, someone@gmail.com",
        },
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert errors["recipients"] == [
        "someone@gmail.com: reports can be sent only to the city's addresses (@kentwa.gov)."
    ]
    assert ReportSchedule.objects.count() == 0


def test_create_edit_and_deactivate_through_the_pages(client_for, technician, settings):
    settings.KENT_REPORT_EMAIL_DOMAINS = ["kentwa.gov"]
    client = client_for(technician)
    data = {
        "name": "Trial balance for Finance",
        "report_key": "ledger.trial-balance",
        "format": "xlsx",
        "frequency": "monthly",
        "send_at": "06:30",
        "recipients": "finance@kentwa.gov\ncontroller@finance.kentwa.gov",
    }
    response = client.post(reverse("audit:schedule-create"), data)
    schedule = ReportSchedule.objects.get()
    assert response["Location"] == schedule.get_absolute_url()
    assert schedule.recipients == ["finance@kentwa.gov", "controller@finance.kentwa.gov"]
    assert schedule.send_at == time(6, 30)
    assert schedule.created_by == technician

    data["recipients"] = "finance@kentwa.gov"
    data["format"] = "pdf"
    client.post(reverse("audit:schedule-edit", args=[schedule.pk]), data)
    schedule.refresh_from_db()
    assert (schedule.format, schedule.recipients) == ("pdf", ["finance@kentwa.gov"])

    client.post(reverse("audit:schedule-deactivate", args=[schedule.pk]))
    schedule.refresh_from_db()
    assert schedule.is_active is False
    assert deliveries_claim_due(now=NOW) == []
    events = schedule.events.order_by("pgh_id")  # every change kept, with its user
    assert [e.pgh_label for e in events] == ["insert", "update", "update"]
    assert {e.pgh_context.metadata["user"] for e in events} == {technician.pk}


def test_two_workers_racing_claim_a_period_once(transactional_db, technician, django_db_blocker):
    schedule = _schedule(technician, report_key="cashiering.daily-cash", format="pdf")
    barrier = threading.Barrier(2)
    claims: list[list[int]] = []

    def worker():
        barrier.wait()
        try:
            claims.append(deliveries_claim_due(now=NOW))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(len(c) for c in claims) == [0, 1]
    assert ReportDelivery.objects.filter(schedule=schedule).count() == 1


def test_the_worker_check_enqueues_each_period_once(
    smtp, db, technician, settings, django_capture_on_commit_callbacks
):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    schedule = _schedule(technician, report_key="cashiering.daily-cash", format="pdf")
    with django_capture_on_commit_callbacks(execute=True):
        claimed = report_schedules_check(now=NOW)
    with django_capture_on_commit_callbacks(execute=True):
        again = report_schedules_check(now=NOW + timedelta(minutes=1))
    assert len(claimed) == 1 and again == []
    delivery = ReportDelivery.objects.get(schedule=schedule)
    assert delivery.status == "sent"
    assert len(smtp.received) == 1
    # A task enqueued twice for the same claim sends once.
    assert delivery_send(delivery_id=delivery.pk, now=NOW) is None
    assert len(smtp.received) == 1


def test_a_failed_send_is_tried_again_on_the_same_row(smtp, db, technician, settings):
    schedule = _schedule(technician, report_key="cashiering.daily-cash", format="pdf")
    smtp.refuse_rcpt = {"finance@kentwa.gov", "utilities@kentwa.gov"}
    [failed] = deliveries_send_due(now=NOW)
    assert failed.status == "failed"
    assert failed.error.startswith("The mail server did not take the message")
    assert failed.attempts == 1
    assert smtp.received == []

    smtp.refuse_rcpt = set()
    assert deliveries_send_due(now=NOW + timedelta(minutes=5)) == []  # not yet
    [sent] = deliveries_send_due(now=NOW + RETRY_AFTER + timedelta(minutes=1))
    assert (sent.pk, sent.status, sent.attempts, sent.error) == (failed.pk, "sent", 2, "")
    assert len(smtp.received) == 1
    assert ReportDelivery.objects.filter(schedule=schedule).count() == 1


def test_a_report_that_cannot_render_fails_with_the_reason(smtp, db, technician):
    # No accounting period for February 2026 in an empty chart.
    schedule = _schedule(
        technician, report_key="ledger.trial-balance", format="pdf", frequency="monthly"
    )
    [delivery] = deliveries_send_due(now=NOW)
    assert (delivery.period_start, delivery.period_end) == (date(2026, 2, 1), date(2026, 2, 28))
    assert delivery.schedule == schedule
    assert delivery.status == "failed"
    assert delivery.error == "No accounting period runs from 2026-02-01 to 2026-02-28."
    assert smtp.received == []


def test_send_now_sends_the_current_period_once(smtp, db, supervisor):
    schedule = _schedule(supervisor, report_key="cashiering.daily-cash", format="pdf")
    delivery_id = delivery_claim_now(schedule=schedule, user=supervisor, now=NOW)
    delivery = delivery_send(delivery_id=delivery_id, now=NOW)
    assert delivery is not None
    assert (delivery.status, delivery.requested_by, delivery.period_start) == (
        "sent",
        supervisor,
        TODAY,
    )
    with pytest.raises(ScheduleError, match="already sent on"):
        delivery_claim_now(schedule=schedule, user=supervisor, now=NOW)
    assert deliveries_send_due(now=NOW) == []  # the worker finds it sent
    assert len(smtp.received) == 1
    report_schedule_set_active(schedule=schedule, user=supervisor, active=False)
    with pytest.raises(ScheduleError, match="inactive"):
        delivery_claim_now(schedule=schedule, user=supervisor, now=NOW + timedelta(days=1))


def test_send_now_page_queues_and_the_log_offers_the_copy(
    smtp, client_for, supervisor, settings, django_capture_on_commit_callbacks
):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    schedule = _schedule(supervisor, report_key="cashiering.daily-cash", format="pdf")
    client = client_for(supervisor)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("audit:schedule-send-now", args=[schedule.pk]))
    assert response["Location"] == schedule.get_absolute_url()
    delivery = ReportDelivery.objects.get(schedule=schedule)
    assert delivery.status == "sent"
    assert delivery.period_end == timezone.localdate() - timedelta(days=1)

    page = client.get(schedule.get_absolute_url())
    download_url = reverse("audit:delivery-download", args=[delivery.pk])
    assert download_url in page.content.decode()
    assert delivery.sha256 in page.content.decode()
    download = client.get(download_url)
    assert download.content == bytes(delivery.content)
    assert download["Content-Type"] == "application/pdf"
    assert hashlib.sha256(download.content).hexdigest() == delivery.sha256

    again = client.post(reverse("audit:schedule-send-now", args=[schedule.pk]), follow=True)
    assert "was already sent on" in again.content.decode()
    assert len(smtp.received) == 1


def test_schedule_pages_answer_in_a_fixed_number_of_queries(
    client_for, technician, django_assert_max_num_queries
):
    for n in range(6):
        schedule = _schedule(technician, name=f"Audit report {n}")
        ReportDelivery.objects.create(
            schedule=schedule,
            period_start=TODAY,
            period_end=TODAY,
            status="failed",
            claimed_at=NOW,
            error="Mail server down",
            requested_by=technician,
        )
    client = client_for(technician)
    with django_assert_max_num_queries(8):
        listing = client.get(reverse("audit:schedule-list"))
    assert listing.content.decode().count("Audit report ") >= 6
    with django_assert_max_num_queries(9):
        detail = client.get(schedule.get_absolute_url())
    assert "Mail server down" in detail.content.decode()


def test_registering_a_report_is_one_call(smtp, db, technician):
    def render(start, end, fmt):
        return f"{start}..{end}".encode() if fmt == "pdf" else b""

    register("tests.period", "Period echo", formats=("pdf",), render=render)
    try:
        assert catalog_report("tests.period").title == "Period echo"
        schedule = _schedule(
            technician, report_key="tests.period", format="pdf", frequency="weekly"
        )
        [delivery] = deliveries_send_due(now=NOW)
        # The Monday after a week: the week before, Monday to Sunday.
        assert bytes(delivery.content) == b"2026-03-09..2026-03-15"
        assert delivery.schedule == schedule
        with pytest.raises(ValueError, match="already in the catalog"):
            register("tests.period", "Again", formats=("pdf",), render=render)
    finally:
        CATALOG.pop("tests.period", None)


BUILT_IN = [
    (key, fmt)
    for key, report in sorted(CATALOG.items())
    if not key.startswith("tests.")
    for fmt in report.formats
]


@pytest.mark.parametrize(("key", "fmt"), BUILT_IN)
def test_every_built_in_report_renders_for_a_month(day_of_receipts, key, fmt):
    data = catalog_report(key).render_file(date(2026, 3, 1), date(2026, 3, 31), fmt)
    if fmt == "pdf":
        assert data.startswith(b"%PDF")
    else:
        book = load_workbook(io.BytesIO(data), read_only=True)
        assert book.sheetnames
        assert len(list(book.worksheets[0].iter_rows(values_only=True))) >= 2
