"""The exceptions dashboard: each line appears when its condition is created through the
services, with its count and the link to the page that fixes it, and goes once fixed."""

import re
import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.exceptions import CHECKS, Check, Line, exceptions_summary, register
from cashiering.services.closing import business_day_close
from cashiering.services.deposits import deposit_prepare
from cashiering.services.refunds import refund_reject, refund_request_create
from cashiering.services.returns import returned_check_dismiss
from cashiering.services.sessions import session_close
from kent_cs.jobs import job_mark_running, job_progress, job_running, job_succeed
from kent_cs.models import Job
from kent_cs.roles import Role
from ledger.models import BankAccount, BankStatement, BankStatementImport, BankTransaction
from ledger.services_bank_matching import bank_auto_match
from licensing.import_files import refused_rows_filename
from licensing.models import LicenseImport, LicenseType
from licensing.services.applications import application_deny, application_submit
from tests.cashiering.deposit_factories import balance
from tests.cashiering.factories import counter_setup, make_account, open_session, post, utility
from tests.cashiering.returns_factories import returned_item_line
from tests.factories import TODAY, make_user
from tests.licensing.factories import defaults, license_type, make_business
from tests.licensing.test_imports import GOOD, HEADER, import_confirmed

D = Decimal
NEXT_DAY = TODAY + timedelta(days=1)
PAGE = reverse("audit:exceptions")


@pytest.fixture(autouse=True)
def _license_types(db):
    """Kent's license types, which a browser test's truncation removes."""
    if not LicenseType.objects.exists():
        defaults()


@pytest.fixture
def counter(db):
    return counter_setup()


def line_count(content: str, key: str) -> int:
    match = re.search(rf'<tr id="line-{key}"[^>]*>.*?data-count="(\d+)"', content, re.S)
    assert match, f"no line {key} on the page"
    return int(match.group(1))


def page(client) -> str:
    response = client.get(PAGE)
    assert response.status_code == 200
    return response.content.decode()


def items_section(content: str, key: str) -> str:
    match = re.search(rf'<section[^>]*id="items-{key}".*?</section>', content, re.S)
    return match.group(0) if match else ""


def paid_session(counter, cashier, amount="20.00", drawer="D1"):
    session = open_session(cashier, drawer)
    post(session, [utility(make_account(f"10{drawer}-01").number, amount)], [counter.cash(amount)])
    return session


def deposit(session, technician, on=TODAY):
    return deposit_prepare(
        sessions=[session],
        currency_count={"20.00": 1},
        idempotency_key=uuid.uuid4(),
        user=technician,
        deposit_date=on,
    )


def test_drawer_open_after_its_day(client_for, counter, cashier, technician):
    session = open_session(cashier, "D1")  # March 16: the day has long gone
    content = page(client_for(technician))
    assert line_count(content, "drawers_open") == 1
    section = items_section(content, "drawers_open")
    assert reverse("cashiering:session-detail", args=[session.pk]) in section
    assert "D1 (cashier)" in section

    session_close(session=session, user=cashier)
    assert line_count(page(client_for(technician)), "drawers_open") == 0


def test_business_day_not_closed(client_for, counter, cashier, technician, supervisor):
    session = paid_session(counter, cashier)
    balance(session)
    content = page(client_for(supervisor))
    assert line_count(content, "days_not_closed") == 1
    assert reverse("cashiering:day-balancing", args=["2026-03-16"]) in items_section(
        content, "days_not_closed"
    )

    business_day_close(business_date=TODAY, user=supervisor)
    assert line_count(page(client_for(supervisor)), "days_not_closed") == 0


def test_money_undeposited_past_24_hours(client_for, counter, cashier, technician):
    session = balance(paid_session(counter, cashier))
    content = page(client_for(technician))
    assert line_count(content, "undeposited") == 1
    section = items_section(content, "undeposited")
    assert reverse("cashiering:session-detail", args=[session.pk]) in section
    assert reverse("cashiering:deposit-prepare") in section

    deposit(session, technician)
    assert line_count(page(client_for(technician)), "undeposited") == 0


def test_clearing_account_not_zero_on_a_closed_day(
    client_for, counter, cashier, technician, supervisor
):
    session = balance(paid_session(counter, cashier))
    business_day_close(business_date=TODAY, user=supervisor)  # closed before the deposit
    content = page(client_for(supervisor))
    assert line_count(content, "clearing") == 1
    section = items_section(content, "clearing")
    assert "001.101.30 Undeposited receipts" in section
    assert "20.00 at the end of 2026-03-16" in section
    assert reverse("cashiering:day-balancing", args=["2026-03-16"]) in section

    deposit(session, technician, on=NEXT_DAY)
    business_day_close(business_date=NEXT_DAY, user=supervisor)
    assert line_count(page(client_for(supervisor)), "clearing") == 0


def bank_line(amount, *, booked, ref, user) -> BankTransaction:
    """A money-in line on the default bank account's statement."""
    bank = BankAccount.objects.get(is_default=True)
    statement = BankStatement.objects.create(
        statement_import=BankStatementImport.objects.create(
            file_name="march.bai",
            sha256="a" * 64,
            format=BankStatementImport.Format.BAI2,
            size_bytes=100,
            statement_count=1,
            transaction_count=1,
            total_credits=D(amount),
            total_debits=D("0.00"),
            imported_by=user,
        ),
        bank_account=bank,
        statement_id="ST-MARCH",
        start_date=booked,
        end_date=booked,
        currency="USD",
        source_line=1,
    )
    return BankTransaction.objects.create(
        statement=statement,
        bank_account=bank,
        source_line=2,
        booked_date=booked,
        amount=D(amount),
        type_code="301",
        customer_ref=ref,
        description="DEPOSIT",
    )


def test_bank_line_unmatched_after_three_days(client_for, counter, cashier, technician, settings):
    made = deposit(balance(paid_session(counter, cashier)), technician)
    line = bank_line("20.00", booked=NEXT_DAY, ref=str(made.number), user=technician)
    content = page(client_for(technician))
    assert line_count(content, "bank_unmatched") == 1
    assert reverse("ledger:bank-reconcile", args=[line.bank_account_id]) in items_section(
        content, "bank_unmatched"
    )
    # Not yet old enough with a longer setting (March 17 is 266 days back).
    settings.EXCEPTIONS_BANK_UNMATCHED_DAYS = 400
    assert line_count(page(client_for(technician)), "bank_unmatched") == 0
    settings.EXCEPTIONS_BANK_UNMATCHED_DAYS = 3

    assert bank_auto_match(bank_account=line.bank_account, user=technician) == 1
    assert line_count(page(client_for(technician)), "bank_unmatched") == 0


def test_returned_check_waiting(client_for, counter, technician):
    line = returned_item_line("45.00", user=technician)
    content = page(client_for(technician))
    assert line_count(content, "returned_checks") == 1
    section = items_section(content, "returned_checks")
    assert "-45.00 RETURNED ITEM NSF" in section
    assert reverse("cashiering:returned-checks") in section

    returned_check_dismiss(bank_transaction=line, note="Not one of our checks", user=technician)
    assert line_count(page(client_for(technician)), "returned_checks") == 0


def test_refund_waiting(client_for, counter, technician, supervisor):
    account = make_account("300100-01", balance="-90.00", name="Lee Mover")
    refund = refund_request_create(
        kind="utility",
        ref=account.number,
        payee_name="Lee Mover",
        payee_address="77 New Rd, Auburn WA 98002",
        amount=D("30.00"),
        reason="Closed account, final bill overpaid",
        documents=[],
        user=technician,
    )
    content = page(client_for(supervisor))
    assert line_count(content, "refunds") == 1
    section = items_section(content, "refunds")
    assert reverse("cashiering:refund-detail", args=[refund.pk]) in section
    assert "to verify" in section

    refund_reject(refund=refund, user=supervisor, note="Balance moved to the new address")
    assert line_count(page(client_for(supervisor)), "refunds") == 0


BAD_LINE = "K-1009,Bad Ubi Shop,,12345,311811,9 Main St,98032,GEN,2026,Active,2,,,,yes\n"


def test_import_with_refused_lines(client_for, technician):
    result = import_confirmed(
        (GOOD + BAD_LINE).encode(),
        technician,
        filename="licenses-2026.csv",
        mode=LicenseImport.Mode.GOOD_ROWS,
    )
    record = result.record
    assert record.refused_count == 1
    content = page(client_for(technician))
    assert line_count(content, "imports_refused") == 1
    section = items_section(content, "imports_refused")
    assert reverse("licensing:license-import-refused-csv", args=[record.pk]) in section
    assert "licenses-2026.csv: 1 line refused" in section

    corrected = HEADER + BAD_LINE.replace(",12345,", ",602100509,")
    import_confirmed(corrected.encode(), technician, filename=refused_rows_filename(record))
    assert line_count(page(client_for(technician)), "imports_refused") == 0


def test_background_job_failed(client_for, technician):
    job = Job.objects.create(
        kind="trial-balance-xlsx",
        title="Trial balance March",
        params={"period": 7},
        created_by=technician,
    )
    with pytest.raises(RuntimeError), job_running(job.pk):
        raise RuntimeError("disk full")
    content = page(client_for(technician))
    assert line_count(content, "jobs_failed") == 1
    section = items_section(content, "jobs_failed")
    assert reverse("job-detail", args=[job.pk]) in section
    assert "Failed: an unexpected error (RuntimeError) stopped it" in section

    again = Job.objects.create(
        kind="trial-balance-xlsx",
        title="Trial balance March",
        params={"period": 7},
        created_by=technician,
    )
    with job_running(again.pk) as running:
        job_succeed(running, name="tb.xlsx", content_type="application/xlsx", data=b"x")
    assert line_count(page(client_for(technician)), "jobs_failed") == 0


def test_background_job_stuck(client_for, technician):
    job = Job.objects.create(kind="notices", title="Renewal notices 2027", created_by=technician)
    job_mark_running(job)
    job_progress(job, done=50, total=268)
    assert line_count(page(client_for(technician)), "jobs_stuck") == 0
    # Twenty minutes later, nothing more reported.
    later = timezone.now() + timedelta(minutes=20)
    [line] = [
        line
        for line in exceptions_summary(user=technician, now=later).lines
        if line.key == "jobs_stuck"
    ]
    assert (line.count, line.items[0].detail) == (
        1,
        "50 of 268, no progress for over 15 minutes",
    )
    assert line.url == reverse("job-detail", args=[job.pk])
    Job.objects.filter(pk=job.pk).update(progressed_at=timezone.now() - timedelta(minutes=20))
    content = page(client_for(technician))
    assert line_count(content, "jobs_stuck") == 1
    assert reverse("job-detail", args=[job.pk]) in items_section(content, "jobs_stuck")

    job_progress(job, done=51)
    assert line_count(page(client_for(technician)), "jobs_stuck") == 0


def test_license_application_past_its_deadline(client_for, technician, supervisor):
    application = application_submit(
        business=make_business(legal_name="Meeker Bakery LLC"),
        license_type=license_type("HOME"),
        requested_start=date(2026, 3, 16),
        received_on=date(2026, 3, 16),
        user=technician,
    )
    recent = application_submit(
        business=make_business(legal_name="Gowe Street Tea LLC", location_line1="5 W Gowe St"),
        license_type=license_type("HOME"),
        requested_start=timezone.localdate(),
        received_on=timezone.localdate(),
        user=technician,
    )
    content = page(client_for(supervisor))
    assert line_count(content, "licenses_late") == 1
    section = items_section(content, "licenses_late")
    assert reverse("licensing:application-detail", args=[application.pk]) in section
    assert reverse("licensing:application-detail", args=[recent.pk]) not in section

    application_deny(application=application, user=technician, reason="No home occupation here")
    assert line_count(page(client_for(supervisor)), "licenses_late") == 0


def test_other_apps_register_checks(db, technician):
    def subsystem_errors(ctx) -> Line:
        return Line("subsystem_errors", "Subsystem error items", 2, TODAY, "/x/", "Fix", [])

    register(Check("subsystem_errors", "Subsystem error items", subsystem_errors))
    try:
        summary = exceptions_summary(user=technician)
        assert summary.lines[-1].count == 2
        with pytest.raises(ValueError):
            register(Check("subsystem_errors", "Again", subsystem_errors))
    finally:
        CHECKS.pop()


def test_badge_counts_every_open_exception(client_for, counter, cashier, cashier_b, technician):
    open_session(cashier, "D1")
    open_session(cashier_b, "D2")
    client = client_for(technician)
    home = client.get("/").content.decode()
    assert reverse("audit:exceptions-badge") in home  # the navigation loads the badge
    badge = client.get(reverse("audit:exceptions-badge")).content.decode()
    # two drawers left open, and their business day not closed
    assert 'data-count="3"' in badge


def test_cashier_sees_no_exceptions(client_for, counter, cashier):
    open_session(cashier, "D1")
    client = client_for(cashier)
    assert reverse("audit:exceptions-badge") not in client.get("/").content.decode()
    assert client.get(PAGE).status_code == 403


def _everything_open(counter, technician, start: int, n: int) -> None:
    for i in range(start, start + n):
        session = open_session(make_user(f"cashier{i}", Role.CASHIER), f"D{i + 1}")
        post(session, [utility(make_account(f"20{i}-01").number, "20.00")], [counter.cash("20.00")])
        returned_item_line(f"{10 + i}.00", user=technician)
        Job.objects.create(
            kind="k",
            title=f"Job {i}",
            created_by=technician,
            status="failed",
            finished_at=timezone.now(),
            message="Failed",
        )
        application_submit(
            business=make_business(legal_name=f"Shop {i} LLC", location_line1=f"{i} Main St"),
            license_type=license_type("HOME"),
            requested_start=date(2026, 3, 16),
            received_on=date(2026, 3, 16),
            user=technician,
        )


def test_query_count_is_fixed(client_for, counter, technician, django_assert_max_num_queries):
    _everything_open(counter, technician, 0, 2)
    client = client_for(technician)
    client.get(PAGE)
    # The session with its user, then one or two queries per line of the dashboard.
    with django_assert_max_num_queries(15) as few:
        content = page(client)
    assert line_count(content, "drawers_open") == 2
    with django_assert_max_num_queries(22) as home:
        assert client.get("/").status_code == 200
    with django_assert_max_num_queries(15):
        client.get(reverse("audit:exceptions-badge"))

    _everything_open(counter, technician, 2, 4)  # 6 of each in all
    with django_assert_max_num_queries(len(few.captured_queries)):
        content = page(client)
    assert line_count(content, "drawers_open") == 6
    assert line_count(content, "licenses_late") == 6
    with django_assert_max_num_queries(len(home.captured_queries)):
        client.get("/")
