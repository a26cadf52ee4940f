"""The closing pages per role: blind close, the count, approval, balancing, the day."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cashiering.models import BusinessDay, CashierSession, SessionCount
from cashiering.services.closing import CheckInput, session_blind_close
from kent_cs.numbering import next_number
from tests.cashiering.factories import (
    counter_setup,
    fee,
    make_account,
    make_invoice,
    open_session,
    post,
    utility,
    void,
)
from tests.factories import TODAY

D = Decimal
# The balancing page's queries: session and auth (3), business-day row, sessions with
# counts, tenders by session, count lines, fee codes, subsystems, clearing balances,
# policy and flags, the receipt-number check.
DAY_PAGE_QUERIES = 14


@pytest.fixture
def counter(db):
    return counter_setup()


def blind_close_url(session):
    return reverse("cashiering:blind-close", args=[session.pk])


def count_form(cash=None, checks=(), cards="", note=""):
    data = {f"cash-{k}": v for k, v in (cash or {}).items()}
    data["check_number"] = [n for n, _ in checks]
    data["check_amount"] = [a for _, a in checks]
    data["card_settlement"] = cards
    data["note"] = note
    return data


def day_url(day=TODAY):
    return reverse("cashiering:day-balancing", args=[day.isoformat()])


# ------------------------------------------------------------------------ blind close


def test_the_cashier_counts_without_seeing_what_is_expected(counter, client_for, cashier):
    make_account("104455-01", balance="500.00")
    session = open_session(cashier)
    post(session, [utility("104455-01", "47.35")], [counter.cash("50.00")])
    response = client_for(cashier).get(blind_close_url(session))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Close session and submit count" in page
    assert "Expected" not in page and "expected" not in page.replace("what was expected", "")
    assert "207.35" not in page  # 160.00 + 50.00 - 2.65
    assert "47.35" not in page


def test_submitting_the_count_closes_and_shows_the_result(counter, client_for, cashier):
    make_account("104455-01", balance="500.00")
    session = open_session(cashier)
    post(session, [utility("104455-01", "47.35")], [counter.cash("50.00")])
    post(session, [utility("104455-01", "20.00")], [counter.check("20.00")])
    client = client_for(cashier)
    response = client.post(
        blind_close_url(session),
        count_form(
            cash={"100.00": "2", "5.00": "1", "1.00": "2", "0.25": "1"},  # 207.25
            checks=[("1042", "20.00"), ("", "")],
            cards="",
            note="Short a dime?",
        ),
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("cashiering:session-count", args=[session.pk])
    session.refresh_from_db()
    assert session.status == CashierSession.Status.CLOSED
    count = SessionCount.objects.get(session=session)
    assert count.over_short == D("-0.10")
    assert count.status == SessionCount.Status.POSTED
    page = client.get(response["Location"]).content.decode()
    assert "207.35" in page and "207.25" in page and "-0.10" in page
    assert "Over/short posted" in page
    assert "Short a dime?" in page
    # Submitting again (a double click) lands on the same result.
    again = client.post(blind_close_url(session), count_form(cash={"100.00": "9"}))
    assert again["Location"] == reverse("cashiering:session-count", args=[session.pk])
    assert SessionCount.objects.count() == 1


def test_a_bad_check_row_is_shown_at_that_row_and_nothing_is_written(counter, client_for, cashier):
    session = open_session(cashier)
    response = client_for(cashier).post(
        blind_close_url(session),
        count_form(cash={"20.00": "8"}, checks=[("1042", "20.00"), ("", "35.00")]),
    )
    assert response.status_code == 422
    page = response.content.decode()
    assert "Row 2: enter the check or money order number." in page
    assert 'value="35.00"' in page and 'value="1042"' in page  # what was typed stays
    session.refresh_from_db()
    assert session.status == CashierSession.Status.OPEN
    assert not SessionCount.objects.exists()


def test_a_negative_piece_count_is_refused_at_its_denomination(counter, client_for, cashier):
    session = open_session(cashier)
    response = client_for(cashier).post(
        blind_close_url(session), count_form(cash={"20.00": "-2"}, cards="-5")
    )
    assert response.status_code == 422
    page = response.content.decode()
    assert "Enter a whole number of pieces (0 or more)." in page


def test_another_cashiers_drawer_is_not_found(counter, client_for, cashier, cashier_b):
    session = open_session(cashier)
    client = client_for(cashier_b)
    assert client.get(blind_close_url(session)).status_code == 404
    assert client.post(blind_close_url(session), count_form()).status_code == 404
    session_blind_close(
        session=session, cash_count={}, checks=[], card_settlement="0", user=cashier
    )
    url = reverse("cashiering:session-count", args=[session.pk])
    assert client.get(url).status_code == 404


def test_a_technician_counts_a_drawer_left_open(counter, client_for, cashier, technician):
    session = open_session(cashier)
    response = client_for(technician).get(blind_close_url(session))
    assert "You are counting Casey" in response.content.decode()
    client_for(technician).post(blind_close_url(session), count_form(cash={"20.00": "8"}))
    count = SessionCount.objects.get()
    assert count.counted_by == technician
    assert count.status == SessionCount.Status.BALANCED


def test_a_supervisor_does_not_count_drawers(counter, client_for, cashier, supervisor):
    session = open_session(cashier)
    assert client_for(supervisor).get(blind_close_url(session)).status_code == 403


def test_the_close_button_leads_to_the_count(counter, client_for, cashier):
    session = open_session(cashier)
    client = client_for(cashier)
    page = client.get(session.get_absolute_url()).content.decode()
    assert blind_close_url(session) in page
    response = client.post(reverse("cashiering:session-close", args=[session.pk]))
    assert response["Location"] == blind_close_url(session)


def test_more_check_rows_come_by_htmx(counter, client_for, cashier):
    session = open_session(cashier)
    url = reverse("cashiering:blind-close-check-row", args=[session.pk])
    page = client_for(cashier).get(url, {"index": "6"}, headers={"HX-Request": "true"})
    text = page.content.decode()
    assert 'id="check-number-6"' in text
    assert "index=7" in text and 'hx-swap-oob="true"' in text


# ---------------------------------------------------------------------------- approval


def pending_count(cashier):
    session = open_session(cashier)
    return session_blind_close(
        session=session,
        cash_count={"100.00": "2"},  # 40.00 over the float
        checks=[],
        card_settlement="0",
        user=cashier,
    )


def test_a_supervisor_approves_with_an_explanation(counter, client_for, cashier, supervisor):
    count = pending_count(cashier)
    client = client_for(supervisor)
    page = client.get(reverse("cashiering:session-count", args=[count.session_id]))
    assert "Approve and post over/short" in page.content.decode()
    url = reverse("cashiering:over-short-approve", args=[count.session_id])
    client.post(url, {"explanation": ""})
    count.refresh_from_db()
    assert count.status == SessionCount.Status.PENDING
    response = client.post(url, {"explanation": "Payer left without change", "next": "day"})
    assert response["Location"] == day_url()
    count.refresh_from_db()
    assert count.status == SessionCount.Status.APPROVED
    assert count.over_short_entry is not None


def test_cashiers_and_technicians_cannot_approve(
    counter, client_for, cashier, technician, cashier_b
):
    count = pending_count(cashier)
    url = reverse("cashiering:over-short-approve", args=[count.session_id])
    for user in (cashier, technician, cashier_b):
        assert client_for(user).post(url, {"explanation": "x"}).status_code == 403
    count.refresh_from_db()
    assert count.status == SessionCount.Status.PENDING


# ------------------------------------------------------------------- daily balancing


def test_the_day_page_shows_every_drawer_and_the_days_checks(
    counter, client_for, cashier, cashier_b, technician, supervisor
):
    make_account("104455-01", balance="500.00")
    make_invoice("INV-24001", amount="250.00")
    first = open_session(cashier, "D1")
    post(first, [utility("104455-01", "120.00")], [counter.cash("150.00")])
    post(first, [fee("PET", 1), fee("COPY", 10)], [counter.card("31.50")])
    voided = post(first, [fee("PET", 1)], [counter.cash("30.00")])
    void(voided, requester=cashier, approver=supervisor)
    second = open_session(cashier_b, "D2")
    post(second, [utility("104455-01", "50.00")], [counter.check("50.00")])
    next_number("receipt-R")  # a number taken and lost: the gap check must show it
    post(second, [fee("PET", 1)], [counter.cash("30.00")])
    session_blind_close(
        session=first,
        cash_count={"100.00": "2", "50.00": "1", "20.00": "2"},  # 290.00, short 10.00
        checks=[],
        card_settlement="31.50",
        user=cashier,
    )
    yesterday = CashierSession.objects.create(
        cashier=technician,
        drawer=counter_drawer("D4"),
        business_date=TODAY - timedelta(days=1),
        opening_float="0.00",
    )
    response = client_for(technician).get(day_url())
    assert response.status_code == 200
    report = response.context["report"]
    rows = {row.session.drawer.code: row for row in report.sessions}
    assert rows["D1"].receipt_count == 2 and rows["D1"].void_count == 1
    assert rows["D1"].expected == {"cash": D("280.00"), "checks": D("0.00"), "cards": D("31.50")}
    assert rows["D1"].over_short["cash"] == D("10.00")
    assert rows["D1"].count.status == SessionCount.Status.PENDING
    assert rows["D2"].expected == {"cash": D("190.00"), "checks": D("50.00"), "cards": D("0.00")}
    assert rows["D2"].counted["cash"] is None
    [series] = report.series
    assert (series.series, series.receipts, series.missing_count, series.missing) == (
        "R",
        5,
        1,
        [series.first + 4],
    )
    fees = {row["fee_code__code"]: row["amount"] for row in report.by_fee_code}
    assert fees == {"PET": D("60.00"), "COPY": D("1.50"), "UT-PAY": D("170.00")}
    assert {row["target_kind"]: row["amount"] for row in report.by_subsystem} == {
        "fee": D("61.50"),
        "utility": D("170.00"),
    }
    clearing = {row["account"].full_code: row["balance"] for row in report.clearing}
    # Receipts: cash 120 + 30, check 50 (voided 30 reversed); the 10.00 over waits.
    assert clearing["001.101.30"] == D("200.00")
    assert clearing["001.101.40"] == D("31.50")
    # The test dates are in the past: the day's own open drawer is left open too.
    assert report.left_open == [yesterday, second]
    page = response.content.decode()
    assert "Drawers left open from an earlier date" in page
    assert "Receipt numbers missing in series R" in page
    assert "Approve over/short" not in page  # the technician cannot approve


def counter_drawer(code):
    from tests.cashiering.factories import make_drawer

    return make_drawer(code)


def test_funds_not_deposited_in_time_are_flagged(counter, cashier, technician):
    from cashiering.selectors.balancing import day_flags

    session = open_session(cashier, business_date=TODAY - timedelta(days=3))
    session_blind_close(
        session=session, cash_count={"20.00": "8"}, checks=[], card_settlement="0", user=cashier
    )
    flags = day_flags(TODAY)
    assert [s.pk for s in flags["undeposited"]] == [session.pk]
    assert flags["left_open"] == []


def _day_with_receipts(counter, cashier, n):
    make_account("104455-01", balance="100000.00")
    session = open_session(cashier)
    for _ in range(n):
        post(session, [utility("104455-01", "10.00")], [counter.cash("10.00")])
    return session


@pytest.mark.parametrize("receipts", [10, 200])
def test_the_day_page_runs_a_fixed_number_of_queries(
    counter, client_for, cashier, technician, receipts, django_assert_max_num_queries
):
    _day_with_receipts(counter, cashier, receipts)
    client = client_for(technician)
    client.get(day_url())  # the session renewal of a first request is not the page's
    with django_assert_max_num_queries(DAY_PAGE_QUERIES):
        response = client.get(day_url())
    assert response.context["report"].sessions[0].receipt_count == receipts


def test_the_query_count_does_not_grow_with_the_receipts(
    counter, client_for, cashier, cashier_b, technician
):
    client = client_for(technician)
    make_account("104455-01", balance="100000.00")
    counts = []
    for n, (user, drawer) in zip((10, 200), ((cashier, "D1"), (cashier_b, "D2")), strict=True):
        session = open_session(user, drawer, business_date=TODAY + timedelta(days=len(counts)))
        for _ in range(n):
            post(session, [utility("104455-01", "10.00")], [counter.cash("10.00")])
        client.get(day_url(session.business_date))
        with CaptureQueriesContext(connection) as queries:
            client.get(day_url(session.business_date))
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_the_day_index_lists_recent_dates(counter, client_for, cashier, technician):
    open_session(cashier)
    response = client_for(technician).get(reverse("cashiering:balancing"))
    [day] = response.context["days"]
    assert (day.business_date, day.sessions, day.open) == (TODAY, 1, 1)
    picked = client_for(technician).get(reverse("cashiering:balancing"), {"date": "2026-03-16"})
    assert picked["Location"] == day_url()


def test_an_unknown_date_is_not_found(counter, client_for, technician):
    url = reverse("cashiering:day-balancing", args=["2026-02-30"])
    assert client_for(technician).get(url).status_code == 404


# ------------------------------------------------------------------ balance, close day


def test_balance_then_close_then_reopen_the_day(
    counter, client_for, cashier, technician, supervisor
):
    session = open_session(cashier)
    session_blind_close(
        session=session,
        cash_count={"20.00": "8"},
        checks=[CheckInput("", "")],
        card_settlement="0",
        user=cashier,
    )
    tech = client_for(technician)
    assert tech.post(reverse("cashiering:day-close", args=[TODAY.isoformat()])).status_code == 403
    response = tech.post(reverse("cashiering:session-balance", args=[session.pk]), {"next": "day"})
    assert response["Location"] == day_url()
    session.refresh_from_db()
    assert session.status == CashierSession.Status.BALANCED

    sup = client_for(supervisor)
    sup.post(reverse("cashiering:day-close", args=[TODAY.isoformat()]))
    assert BusinessDay.objects.get(business_date=TODAY).status == BusinessDay.Status.CLOSED
    page = sup.get(day_url()).content.decode()
    assert "Day closed" in page and "Reopen business day" in page
    sup.post(reverse("cashiering:day-reopen", args=[TODAY.isoformat()]), {"reason": ""})
    assert BusinessDay.objects.get(business_date=TODAY).is_closed
    sup.post(reverse("cashiering:day-reopen", args=[TODAY.isoformat()]), {"reason": "Late ACH"})
    assert not BusinessDay.objects.get(business_date=TODAY).is_closed


def test_closing_a_day_with_an_open_drawer_says_which(counter, client_for, cashier, supervisor):
    open_session(cashier)
    client = client_for(supervisor)
    response = client.post(reverse("cashiering:day-close", args=[TODAY.isoformat()]), follow=True)
    assert "still open: D1 (cashier)" in response.content.decode()
    assert not BusinessDay.objects.get(business_date=TODAY).is_closed
