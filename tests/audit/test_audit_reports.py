"""The supervisor's audit reports: every total equals the receipts, counts and changes
the real services wrote; separation of duties is flagged; the date and staff filters cut
what they should; the PDF and the workbook carry the same totals; each page answers in a
fixed number of queries."""

import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from audit.report_common import ReportParams, is_after_hours
from audit.reports_audit import REPORTS
from cashiering.models import Receipt
from cashiering.reports_daily import daily_cash_report
from cashiering.services.closing import business_day_close, business_day_reopen
from cashiering.services.corrections import correction_approve, correction_request
from cashiering.services.receipts import receipt_record_print
from cashiering.services.refunds import refund_approve, refund_request_create, refund_verify
from kent_cs.audit import audit_actor
from kent_cs.roles import Role
from licensing.services.licenses import license_change_status
from tests.cashiering.deposit_factories import balance, build_day
from tests.cashiering.factories import counter_setup, fee, make_account, open_session, post
from tests.factories import TODAY, make_user
from tests.licensing.factories import approved_license, defaults, make_business

D = Decimal
ON_TODAY = ReportParams(TODAY, TODAY)
EARLIER = [TODAY - timedelta(days=10), TODAY - timedelta(days=5), TODAY - timedelta(days=1)]
MONTH = ReportParams(TODAY - timedelta(days=15), TODAY)


@pytest.fixture
def counter(db):
    return counter_setup()


@pytest.fixture
def day(counter, cashier, cashier_b, supervisor):
    return build_day(counter, cashier, cashier_b, supervisor)


@pytest.fixture
def dual(db):
    """A technician who is also a supervisor: may take payments and approve voids."""
    user = make_user("dual", Role.TECHNICIAN, first_name="Dana")
    user.groups.add(Group.objects.get(name=str(Role.SUPERVISOR)))
    return user


def _shortages(counter, cashier_b, supervisor):
    """Jordan is short 1.00, 2.00 and 10.00 (beyond the 5.00 threshold, approved) on three
    days within thirty."""
    for day_, short in zip(EARLIER, ["1.00", "2.00", "10.00"], strict=True):
        session = open_session(cashier_b, "D2", business_date=day_)
        post(session, [fee("PET")], [counter.cash("30.00")], payer="Ana Ruiz")
        balance(session, cash=D("190.00") - D(short), approver=supervisor)


def _self_approved_void(counter, dual, technician):
    session = open_session(dual, "D4")
    receipt = post(session, [fee("PET")], [counter.cash("30.00")])
    request = correction_request(
        receipt=receipt, kind="void", reason="Keyed twice", user=technician
    )
    correction_approve(correction=request, user=dual)
    return receipt


def _live(receipts):
    return receipts.filter(is_training=False)


def test_cashier_activity_totals_equal_the_receipts(day, counter, cashier, cashier_b):
    receipt_record_print(receipt=Receipt.objects.filter(session=day[0]).first(), user=cashier)
    receipt_record_print(receipt=Receipt.objects.filter(session=day[0]).first(), user=cashier)
    training = open_session(cashier_b, "D4", training=True)
    post(training, [fee("PET")], [counter.cash("30.00")])
    report = REPORTS["cashier-activity"].run(ON_TODAY)
    rows = {row[0]: row for row in report.sections[0].rows}
    # Casey: seven sales receipts of 300.00 (one voided, one reversed in her second session).
    assert rows["Casey"][1:9] == [2, 7, D("300.00"), 1, D("30.00"), 1, D("-30.00"), D("240.00")]
    assert rows["Casey"][9] == 1  # the second print is the reprint
    assert rows["Jordan"][1:9] == [1, 1, D("60.00"), 0, D("0.00"), 0, D("0.00"), D("60.00")]
    assert rows["Jordan"][12:] == [1, 1, D("30.00")]
    posted = Receipt.objects.filter(business_date=TODAY, is_training=False, status="posted")
    assert report.figures["net"] == posted.aggregate(t=Sum("total"))["t"] == D("300.00")
    assert report.figures["net"] == daily_cash_report(TODAY).total
    assert (
        report.figures["receipts"] == _live(Receipt.objects.filter(reverses__isnull=True)).count()
    )
    assert report.figures["voided"] == Receipt.objects.filter(status="voided").count() == 1
    assert report.sections[0].total[8] == D("300.00")
    assert any("No-sale" in note for note in report.notes)


def test_cashier_filter_keeps_one_cashier(day, cashier_b):
    report = REPORTS["cashier-activity"].run(ReportParams(TODAY, TODAY, cashier_b))
    assert [row[0] for row in report.sections[0].rows] == ["Jordan"]
    assert report.figures["net"] == D("60.00")


def test_date_filter_leaves_other_days_out(day, counter, cashier_b, supervisor):
    _shortages(counter, cashier_b, supervisor)
    today = REPORTS["cashier-activity"].run(ON_TODAY)
    assert today.figures["receipts"] == 8
    earlier = REPORTS["cashier-activity"].run(ReportParams(EARLIER[0], EARLIER[-1]))
    assert (earlier.figures["receipts"], earlier.figures["net"]) == (3, D("90.00"))


def test_over_short_history_totals_and_repeat_flag(day, counter, cashier_b, supervisor):
    _shortages(counter, cashier_b, supervisor)
    report = REPORTS["over-short"].run(MONTH)
    by_cashier = {row[0]: row for row in report.section("By cashier").rows}
    assert by_cashier["Jordan"][1:8] == [4, 3, D("-13.00"), 0, D("0.00"), D("-13.00"), 1]
    assert by_cashier["Casey"][1:8] == [2, 0, D("0.00"), 0, D("0.00"), D("0.00"), 0]
    assert report.figures["flagged"] == {"Jordan"}
    assert "3+ shortages in 30 days" in by_cashier["Jordan"][8]
    counts = report.section("Counts").rows
    assert [(r[0], r[3], r[5]) for r in counts if r[1] == "Jordan" and r[3]] == [
        (EARLIER[0], D("-1.00"), ""),
        (EARLIER[1], D("-2.00"), ""),
        (EARLIER[2], D("-10.00"), "supervisor"),
    ]
    assert report.chart is not None and "<polyline" in report.chart
    assert REPORTS["over-short"].pdf(MONTH.to_dict()).startswith(b"%PDF")  # chart and all
    # Only two shortages within a range that starts after the first: still flagged, the
    # thirty days before the range count.
    later = REPORTS["over-short"].run(ReportParams(EARLIER[1], TODAY))
    assert later.figures["shortages"] == 2 and later.figures["flagged"] == {"Jordan"}


def test_voids_and_reversals_flag_broken_separation_of_duties(day, counter, dual, technician):
    _self_approved_void(counter, dual, technician)
    report = REPORTS["voids-reversals"].run(ON_TODAY)
    rows = report.section("Requests").rows
    assert [(r[1], r[4], r[5], r[7], r[9], r[12]) for r in rows] == [
        ("Void", "Casey", D("30.00"), "Casey", "supervisor", ""),
        ("Reversal", "Casey", D("30.00"), "Casey", "supervisor", ""),
        ("Void", "Dana", D("30.00"), "technician", "Dana", "approver is the cashier"),
    ]
    assert report.figures["flagged"] == 1
    assert (report.figures["voids"], report.figures["voids_total"]) == (2, D("60.00"))
    assert (report.figures["reversals"], report.figures["reversals_total"]) == (1, D("30.00"))
    assert report.figures["voids"] == Receipt.objects.filter(status="voided").count()
    only_dual = REPORTS["voids-reversals"].run(ReportParams(TODAY, TODAY, dual))
    assert only_dual.figures["requested"] == 1 and only_dual.figures["flagged"] == 1


def test_after_hours_receipts_follow_the_business_hours_setting(counter, cashier, settings):
    session = open_session(cashier, "D1")
    post(session, [fee("PET")], [counter.cash("30.00")])
    post(session, [fee("PET", quantity=2)], [counter.cash("60.00")])
    weekday = timezone.localtime().strftime("%a").lower()
    settings.BUSINESS_WEEKDAYS = [
        d for d in ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] if d != weekday
    ]
    closed_today = REPORTS["after-hours"].run(ON_TODAY)
    assert closed_today.figures["after_hours_receipts"] == 2
    assert closed_today.figures["after_hours_receipts_total"] == D("90.00")
    settings.BUSINESS_WEEKDAYS = [weekday]
    settings.BUSINESS_HOURS = "00:00-23:59"
    posted = Receipt.objects.filter(business_date=TODAY)
    expected = [r for r in posted if is_after_hours(r.posted_at)]  # 23:59 and later only
    assert REPORTS["after-hours"].run(ON_TODAY).figures["after_hours_receipts"] == len(expected)


@pytest.mark.django_db(transaction=True)
def test_receipts_posted_into_a_closed_day_are_listed(counter, cashier, supervisor):
    """Each step commits, as separate requests do: the times tell before from after."""
    first = open_session(cashier, "D1")
    post(first, [fee("PET")], [counter.cash("30.00")])
    balance(first, approver=supervisor)
    business_day_close(business_date=TODAY, user=supervisor)
    business_day_reopen(business_date=TODAY, reason="A payment left out", user=supervisor)
    late = open_session(cashier, "D2")
    receipt = post(late, [fee("PET", quantity=3)], [counter.cash("90.00")])
    report = REPORTS["after-hours"].run(ON_TODAY)
    rows = report.section("Receipts posted after their business day was closed").rows
    assert [(r[3], r[5]) for r in rows] == [(str(receipt), D("90.00"))]
    assert (report.figures["closed_day_receipts"], report.figures["closed_day_total"]) == (
        1,
        D("90.00"),
    )


def test_sign_ins_and_failures_are_counted(client, cashier):
    client.post(reverse("login"), {"username": "cashier", "password": "wrong"})
    client.post(reverse("login"), {"username": "cashier", "password": "wrong again"})
    client.post(
        reverse("login"), {"username": "cashier", "password": "correct-horse-battery-staple"}
    )
    today = timezone.localdate()
    report = REPORTS["sign-ins"].run(ReportParams(today, today, cashier))
    assert report.section("By username").rows == [["cashier", 1, 2, 0, 0, 0, 0]]
    assert [r[1] for r in report.section("Failed and refused sign-ins").rows] == [
        "Sign-in failed",
        "Sign-in failed",
    ]
    yesterday = today - timedelta(days=1)
    assert REPORTS["sign-ins"].run(ReportParams(yesterday, yesterday)).figures["failed"] == 0


def test_role_and_permission_changes_are_tracked_with_their_actor(cashier, admin):
    supervisors = Group.objects.get(name=str(Role.SUPERVISOR))
    permission = Permission.objects.get(codename="view_reports")
    with audit_actor(admin, source="test"):
        cashier.groups.add(supervisors)
        cashier.groups.remove(supervisors)
        supervisors.permissions.remove(permission)
        supervisors.permissions.add(permission)
        cashier.is_superuser = True
        cashier.save()
    today = timezone.localdate()
    report = REPORTS["role-changes"].run(ReportParams(today, today))
    rows = [r[1:5] for r in report.section("Changes").rows if r[4] == "admin"]
    assert sorted(rows) == sorted(
        [
            ["Role given", "Casey", "Supervisor", "admin"],
            ["Role taken away", "Casey", "Supervisor", "admin"],
            [
                "Permission withdrawn to role",
                "Supervisor",
                "kent_cs.view_reports (Can run financial reports)",
                "admin",
            ],
            [
                "Permission granted to role",
                "Supervisor",
                "kent_cs.view_reports (Can run financial reports)",
                "admin",
            ],
            ["Access flags changed", "cashier", "active: yes, staff: no, superuser: yes", "admin"],
        ]
    )
    mine = REPORTS["role-changes"].run(ReportParams(today, today, cashier))
    assert {r[1] for r in mine.section("Changes").rows} >= {"Role given", "Role taken away"}


def test_license_history_and_write_offs(technician):
    defaults()  # a transaction=True test may have truncated the license types
    with audit_actor(technician, source="test"):
        license = approved_license(make_business(), technician, issue_date=date(2026, 3, 16))
        invoice = license.invoices.get()
        license_change_status(
            license=license, to_status="closed", user=technician, reason="Moved away"
        )
    today = timezone.localdate()
    history = REPORTS["license-history"].run(ReportParams(today, today, technician))
    closed = [r for r in history.section("Changes").rows if r[5] == "Closed"]
    assert [(r[1], r[8], r[9]) for r in closed] == [(str(license), "Moved away", "technician")]
    money = REPORTS["refunds-write-offs"].run(ReportParams(today, today))
    assert money.section("Write-offs").rows[0][1:6] == [
        invoice.number,
        "Valley Auto Body LLC",
        invoice.total,
        "Moved away",
        "technician",
    ]
    assert money.figures["write_offs_total"] == invoice.total


def test_refunds_with_who_requested_verified_and_decided(counter, technician, supervisor):
    from tests.cashiering.returns_factories import technician_b

    account = make_account("300100-01", balance="-90.00", name="Lee Mover")
    fields = {"kind": "utility", "ref": account.number, "payee_name": "Lee Mover"}
    fields.update(payee_address="77 New Rd, Auburn WA 98002", reason="Overpaid final bill")
    first = refund_request_create(amount=D("30.00"), user=technician, **fields)
    refund_request_create(amount=D("20.00"), user=technician, **fields)
    refund_verify(refund=first, user=technician_b())
    refund_approve(refund=first, user=supervisor, note="Documents match")
    today = timezone.localdate()
    report = REPORTS["refunds-write-offs"].run(ReportParams(today, today))
    assert (report.figures["requested"], report.figures["requested_total"]) == (2, D("50.00"))
    assert (report.figures["approved"], report.figures["approved_total"]) == (1, D("30.00"))
    assert (report.figures["waiting"], report.figures["waiting_total"]) == (1, D("20.00"))
    row = report.section("Refunds").rows[0]
    assert (row[3], row[6], row[7], row[8]) == (
        D("30.00"),
        "technician",
        "technician_b",
        "supervisor",
    )


# --- files and pages -------------------------------------------------------------------


def test_pdf_and_workbook_carry_the_same_totals(day, client, supervisor):
    client.force_login(supervisor)
    query = {"date_from": TODAY.isoformat(), "date_to": TODAY.isoformat()}
    pdf = client.get(reverse("audit:report-pdf", args=["cashier-activity"]), query)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    xlsx = client.get(reverse("audit:report-xlsx", args=["cashier-activity"]), query)
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    values = [[cell for cell in row] for row in sheet.iter_rows(values_only=True)]
    total = next(row for row in values if row[0] == "Total")
    report = REPORTS["cashier-activity"].run(ON_TODAY)
    assert [D(str(v)) for v in total[1:]] == report.sections[0].total[1:]
    assert [D(str(v)) for v in total[1:9]] == [3, 8, D("360"), 1, D("30"), 1, D("-30"), D("300")]
    page = client.get(reverse("audit:report", args=["cashier-activity"]), query)
    footer = page.content.decode().split("<tfoot>")[1].split("</tfoot>")[0]
    assert "360.00" in footer and "300.00" in footer and "-30.00" in footer


# Queries per page, measured: the report's own plus the request's (session, user,
# permissions, the staff list of the filter).
PAGE_QUERIES = {
    "cashier-activity": 11,
    "over-short": 9,
    "voids-reversals": 8,
    "after-hours": 18,
    "sign-ins": 9,
    "role-changes": 11,
    "license-history": 8,
    "refunds-write-offs": 9,
}


@pytest.mark.parametrize("key", sorted(REPORTS))
def test_every_report_renders_in_a_fixed_number_of_queries(
    key, day, client, supervisor, django_assert_max_num_queries
):
    client.force_login(supervisor)
    query = {"date_from": TODAY.isoformat(), "date_to": TODAY.isoformat()}
    with django_assert_max_num_queries(PAGE_QUERIES[key]):
        page = client.get(reverse("audit:report", args=[key]), query)
    assert page.status_code == 200
    assert REPORTS[key].title.encode() in page.content
    xlsx = client.get(reverse("audit:report-xlsx", args=[key]), query)
    assert load_workbook(io.BytesIO(xlsx.content)).sheetnames


def test_bad_range_is_refused_at_the_field(client, supervisor):
    client.force_login(supervisor)
    query = {"date_from": TODAY.isoformat(), "date_to": (TODAY - timedelta(days=1)).isoformat()}
    page = client.get(reverse("audit:report", args=["over-short"]), query)
    assert b"The end date is before the start date." in page.content
    pdf = client.get(reverse("audit:report-pdf", args=["over-short"]), query)
    assert not pdf.content.startswith(b"%PDF")


def test_registry_renders_without_a_request(day):
    params = {"date_from": TODAY.isoformat(), "date_to": TODAY.isoformat(), "cashier": None}
    assert REPORTS["voids-reversals"].pdf(params).startswith(b"%PDF")
    assert load_workbook(io.BytesIO(REPORTS["voids-reversals"].xlsx(params))).sheetnames == [
        "Summary",
        "Requests",
    ]


def test_report_queries_do_not_grow_with_the_rows(day, counter, cashier_b, supervisor):
    def counts() -> dict[str, int]:
        found = {}
        for key, report in REPORTS.items():
            with CaptureQueriesContext(connection) as queries:
                report.run(MONTH)
            found[key] = len(queries)
        return found

    before = counts()
    _shortages(counter, cashier_b, supervisor)
    assert counts() == before


def test_activity_page_reads_role_changes(client, cashier, admin, supervisor):
    with audit_actor(admin, source="test"):
        cashier.groups.add(Group.objects.get(name=str(Role.TECHNICIAN)))
    client.force_login(supervisor)
    page = client.get(reverse("activity"), {"user": admin.pk})
    assert page.status_code == 200 and b"User&#x27;s role" in page.content.split(b"</form>")[-1]
    one = client.get(reverse("activity"), {"model": "audit.UserGroupLink", "object_id": "1"})
    assert one.status_code == 200 and b"User&#x27;s role" not in one.content.split(b"</form>")[-1]
