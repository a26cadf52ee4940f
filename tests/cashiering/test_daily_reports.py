"""The day's reports: the daily cash report's figures, the audit report's events in time
order with their actors, the CSV's formula escaping, constant query counts, roles."""

import csv
import io
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cashiering.models import BusinessDay
from cashiering.reports_daily import audit_csv, audit_events, daily_cash_report
from cashiering.services.deposits import deposit_prepare
from cashiering.services.receipts import receipt_record_print
from tests.cashiering.deposit_factories import balance, build_day
from tests.cashiering.factories import (
    counter_setup,
    fee,
    open_session,
    post,
    rolled_back,
    void,
)
from tests.factories import TODAY

D = Decimal
NEXT_DAY = TODAY + timedelta(days=1)
CURRENCY = {"100.00": 1, "20.00": 3, "5.00": 3, "1.00": 4, "0.25": 4}  # 180.00


@pytest.fixture(scope="module")
def _counter_once(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), rolled_back():
        yield counter_setup()


@pytest.fixture
def counter(_counter_once, db):
    return _counter_once


@pytest.fixture
def day(counter, cashier, cashier_b, supervisor):
    return build_day(counter, cashier, cashier_b, supervisor)


def _deposit(sessions, user, deposit_date=NEXT_DAY):
    return deposit_prepare(
        sessions=list(sessions),
        currency_count=CURRENCY,
        idempotency_key=uuid.uuid4(),
        user=user,
        deposit_date=deposit_date,
    )


def test_daily_cash_report_figures(day, technician):
    _deposit(day, technician)
    report = daily_cash_report(TODAY)
    rows = [
        (
            r.session.drawer.code,
            r.receipt_count,
            r.void_count,
            r.change_given,
            r.by_kind,
            r.total,
            r.over_short,
        )
        for r in report.sessions
    ]
    assert rows == [
        (
            "D1",
            6,
            1,
            D("30.00"),
            {
                "cash": D("150.00"),
                "check": D("60.00"),
                "money_order": D("30.00"),
                "card": D("30.00"),
                "ach": D("30.00"),
            },
            D("270.00"),
            D("0.00"),
        ),
        ("D2", 1, 0, D("0.00"), {"cash": D("60.00")}, D("60.00"), D("0.00")),
        ("D3", 1, 0, D("0.00"), {"check": D("-30.00")}, D("-30.00"), D("0.00")),
    ]
    assert report.kind_totals == [D("210.00"), D("30.00"), D("30.00"), D("30.00"), D("30.00")]
    assert (report.receipt_count, report.void_count, report.total) == (8, 1, D("300.00"))
    assert {(f.code, f.count, f.amount) for f in report.fee_codes} == {
        ("PET", 7, D("180.00")),
        ("UT-PAY", 1, D("120.00")),
    }
    assert report.fee_code_total == report.total
    assert [(r.deposit.kind, r.amount_for_day, r.deposit.total) for r in report.deposits] == [
        ("cash_check", D("240.00"), D("240.00")),
        ("card", D("30.00"), D("30.00")),
        ("ach", D("30.00"), D("30.00")),
    ]
    # The deposit is dated the next day: at the end of this one the money was still here.
    clearing = {r.account.full_code: r.balance for r in report.clearing}
    assert clearing["001.101.30"] == D("240.00")
    assert clearing["001.101.40"] == D("60.00")
    after = {r.account.full_code: r.balance for r in daily_cash_report(NEXT_DAY).clearing}
    assert after["001.101.30"] == D("0.00") and after["001.101.40"] == D("0.00")


def _query_count(callable_) -> int:
    with CaptureQueriesContext(connection) as queries:
        callable_()
    return len(queries)


def test_report_query_counts_do_not_grow_with_the_day(
    counter, day, cashier, cashier_b, supervisor, technician
):
    daily_small = _query_count(lambda: daily_cash_report(TODAY))
    audit_small = _query_count(lambda: audit_events(TODAY))
    _deposit(day, technician)
    more = open_session(cashier_b, "D4")
    for index in range(6):
        receipt = post(more, [fee("PET")], [counter.cash("30.00")], payer=f"Payer {index}")
        receipt_record_print(receipt=receipt, user=cashier_b)
        receipt_record_print(receipt=receipt, user=cashier_b)
    void(receipt, requester=cashier_b, approver=supervisor)
    balance(more, cash="305.00", approver=supervisor, explanation="Found a $5 bill")
    BusinessDay.objects.update_or_create(
        business_date=TODAY,
        defaults={"status": "closed", "closed_by": supervisor, "closed_at": timezone.now()},
    )
    assert len(audit_events(TODAY)) > 20
    assert _query_count(lambda: daily_cash_report(TODAY)) == daily_small
    assert _query_count(lambda: audit_events(TODAY)) == audit_small
    assert daily_small == 7  # sessions, receipts, tenders, fee codes, deposits, clearing, day
    assert audit_small == 8  # one query per kind of event


def test_audit_report_lists_every_event_with_actor_in_time_order(
    counter, day, cashier, cashier_b, supervisor, technician
):
    first = day[0]
    receipt = first.receipts.order_by("number").first()
    receipt_record_print(receipt=receipt, user=cashier)
    receipt_record_print(receipt=receipt, user=technician)  # the reprint
    short = open_session(cashier_b, "D4")
    post(short, [fee("PET")], [counter.cash("30.00")])
    balance(short, cash="183.00", approver=supervisor, explanation="Gave $7 too much change")
    _deposit(day, technician, deposit_date=TODAY)
    BusinessDay.objects.update_or_create(
        business_date=TODAY,
        defaults={"status": "closed", "closed_by": supervisor, "closed_at": timezone.now()},
    )

    events = audit_events(TODAY)

    assert [e.at for e in events] == sorted(e.at for e in events)
    by_event: dict[str, list] = {}
    for e in events:
        by_event.setdefault(e.event, []).append(e)
    assert len(by_event["Receipt"]) == 9  # D1 6 (and one void), D2, D3 (reversal), D4
    assert [e.reference for e in by_event["Receipt (void)"]] == ["R-6"]
    void_request = by_event["Void requested"][0]
    assert (void_request.reference, void_request.actor, void_request.detail) == (
        "R-6",
        "Casey",
        "Keyed the wrong account",
    )
    assert by_event["Void approved"][0].actor == "supervisor"
    assert by_event["Reversal requested"][0].reference == "R-7"
    approved = by_event["Reversal approved"][0]
    assert approved.actor == "supervisor" and "reversal receipt R-9" in approved.detail
    assert [(e.reference, e.actor) for e in by_event["Reprint"]] == [(str(receipt), "technician")]
    assert [(e.amount, e.actor) for e in by_event["Over/short recorded"]] == [
        (D("-7.00"), "Jordan")
    ]
    assert [(e.actor, e.detail) for e in by_event["Over/short approved"]] == [
        ("supervisor", "Gave $7 too much change")
    ]
    assert [(e.reference, e.actor) for e in by_event["Deposit prepared"]] == [
        ("Deposit 1", "technician"),
        ("Deposit 2", "technician"),
        ("Deposit 3", "technician"),
    ]
    assert [e.actor for e in by_event["Business day closed"]] == ["supervisor"]
    receipt_rows = {e.reference: e for e in by_event["Receipt"]}
    assert receipt_rows["R-1"].actor == "Casey"
    assert receipt_rows["R-1"].amount == D("120.00")
    assert receipt_rows["R-9"].amount == D("-30.00")
    assert "reverses R-7" in receipt_rows["R-9"].detail


def test_audit_csv_escapes_formulas(counter, cashier, supervisor):
    session = open_session(cashier, "D1")
    receipt = post(session, [fee("PET")], [counter.cash("30.00")], payer="=HYPERLINK(1)")
    void(receipt, requester=cashier, approver=supervisor, reason="=cmd|' /C calc'!A0")
    data = audit_csv(TODAY, audit_events(TODAY))
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == ["Time", "Event", "Reference", "Actor", "Amount", "Detail"]
    details = [row[5] for row in rows[1:]]
    assert "'=cmd|' /C calc'!A0" in details
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row[1:4])


def test_report_pages_by_role(day, client, cashier, technician, supervisor):
    today = TODAY.isoformat()
    daily_print = reverse("cashiering:daily-cash-report-print", args=[today])
    daily_pdf = reverse("cashiering:daily-cash-report-pdf", args=[today])
    audit = reverse("cashiering:audit-report", args=[today])
    audit_print = reverse("cashiering:audit-report-print", args=[today])
    audit_csv_url = reverse("cashiering:audit-report-csv", args=[today])

    client.force_login(technician)
    page = client.get(daily_print)
    text = page.content.decode()
    assert page.status_code == 200
    assert "Daily cash report" in text and "UT-PAY" in text and "001.101.30" in text
    assert client.get(daily_pdf).content.startswith(b"%PDF")
    for url in (audit, audit_print, audit_csv_url):
        assert client.get(url).status_code == 403
    index = client.get(reverse("cashiering:daily-reports"), {"business_date": today})
    assert daily_print in index.content.decode()
    assert audit not in index.content.decode()

    client.force_login(supervisor)
    page = client.get(audit)
    assert page.status_code == 200
    assert page.context["event_count"] == len(audit_events(TODAY))
    assert "Void approved" in page.content.decode()
    assert "Void approved" in client.get(audit_print).content.decode()
    exported = client.get(audit_csv_url)
    assert exported["Content-Type"] == "text/csv; charset=utf-8"
    assert b"Void requested" in exported.content
    assert client.get(daily_print).status_code == 200
    assert client.get(reverse("cashiering:audit-report", args=["2026-02-30"])).status_code == 404

    client.force_login(cashier)
    for url in (daily_print, daily_pdf, audit, audit_csv_url):
        assert client.get(url).status_code == 403
    assert client.get(reverse("cashiering:daily-reports")).status_code == 403
