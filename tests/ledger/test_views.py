"""Ledger pages: chart, account ledger, entries and reversal, periods, trial balance."""

from datetime import date
from decimal import Decimal

import pghistory.models
import pytest
from django.urls import reverse

from ledger.models import AccountingPeriod, Fund, GLAccount, JournalEntry
from ledger.services import LineSpec, journal_entry_post, period_close

D = Decimal


def post(user, chart, day: date, memo: str, *lines):
    """Post an entry; each line is (full account code, debit, credit[, line memo])."""
    specs = [
        LineSpec(chart[code], debit=D(debit), credit=D(credit), memo=rest[0] if rest else "")
        for code, debit, credit, *rest in lines
    ]
    return journal_entry_post(entry_date=day, memo=memo, lines=specs, user=user)


def period_of(year: int, month: int) -> AccountingPeriod:
    return AccountingPeriod.objects.get(year=year, month=month)


@pytest.fixture
def ledger_2026(chart, supervisor):
    """Receipts in February and March, the March deposit, an April NSF fee.

    101.30 (undeposited clearing): +100.00 Feb, +250.50 Mar, -350.50 Mar, +40.00 Apr.
    """
    return [
        post(
            supervisor,
            chart,
            date(2026, 2, 10),
            "Business license receipts",
            ("001.101.30", "100.00", "0"),
            ("001.321.10.00", "0", "100.00"),
        ),
        post(
            supervisor,
            chart,
            date(2026, 3, 5),
            "Fire inspection receipts",
            ("001.101.30", "250.50", "0"),
            ("001.321.90.00", "0", "250.50"),
        ),
        post(
            supervisor,
            chart,
            date(2026, 3, 20),
            "Deposit 2026-03-20",
            ("001.101.10", "350.50", "0"),
            ("001.101.30", "0", "350.50"),
        ),
        post(
            supervisor,
            chart,
            date(2026, 4, 2),
            "NSF fee",
            ("001.101.30", "40.00", "0"),
            ("001.369.91.00", "0", "40.00"),
        ),
    ]


# ------------------------------------------------------------------------------ chart


def test_chart_shows_accounts_by_fund_with_current_balances(client_for, technician, ledger_2026):
    response = client_for(technician).get(reverse("ledger:chart"))
    assert response.status_code == 200
    groups = {g.fund.code: g for g in response.context["funds"]}
    assert list(groups) == ["001", "401", "402", "403"]
    balances = {a.full_code: a.balance for a in groups["001"].accounts}
    assert balances["001.101.30"] == D("40.00")
    assert balances["001.101.10"] == D("350.50")
    assert balances["001.321.10.00"] == D("-100.00")
    assert balances["001.321.90.00"] == D("-250.50")
    assert balances["001.369.91.00"] == D("-40.00")
    assert balances["001.514.23.40"] == D("0.00")
    html = response.content.decode()
    assert "Fund 001 — General Fund" in html
    assert '<span class="badge text-bg-warning">clearing</span>' in html
    assert ">-250.50<" in html


def test_chart_query_count_does_not_grow_with_accounts(
    client_for, technician, ledger_2026, chart, supervisor, django_assert_max_num_queries
):
    client = client_for(technician)
    client.get(reverse("ledger:chart"))  # warm the session
    # Session, user, permissions (2), the chart, and the session save (3 with savepoints).
    with django_assert_max_num_queries(8):
        client.get(reverse("ledger:chart"))
    fund = Fund.objects.create(code="501", name="Equipment Rental Fund")
    extra = {}
    for n in range(30):
        account = GLAccount.objects.create(
            fund=fund, code=f"369.{n:02d}", name=f"Rental {n}", account_type="revenue"
        )
        extra[account.full_code] = account
    cash = GLAccount.objects.create(fund=fund, code="101.10", name="Cash", account_type="asset")
    extra["501.101.10"] = cash
    for code in list(extra)[:30]:
        post(
            supervisor, extra, date(2026, 3, 9), "Rent", ("501.101.10", "5", "0"), (code, "0", "5")
        )
    with django_assert_max_num_queries(8):
        response = client.get(reverse("ledger:chart"))
    assert len(response.context["funds"]) == 5


@pytest.mark.parametrize(
    ("persona", "status"),
    [("technician", 200), ("supervisor", 200), ("admin", 200), ("cashier", 403), ("outsider", 403)],
)
def test_chart_permission(client_for, personas, chart, persona, status):
    assert client_for(personas[persona]).get(reverse("ledger:chart")).status_code == status


def test_ledger_pages_need_sign_in(client, chart):
    response = client.get(reverse("ledger:chart"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


# ----------------------------------------------------------------------- account ledger


def test_account_ledger_running_balance_and_date_filter(client_for, technician, chart, ledger_2026):
    account = chart["001.101.30"]
    client = client_for(technician)
    response = client.get(reverse("ledger:account-detail", args=[account.pk]))
    assert response.status_code == 200
    lines = response.context["page"].object_list
    assert [
        (line.entry.number, line.debit, line.credit, line.running_balance) for line in lines
    ] == [
        (ledger_2026[0].number, D("100.00"), D("0.00"), D("100.00")),
        (ledger_2026[1].number, D("250.50"), D("0.00"), D("350.50")),
        (ledger_2026[2].number, D("0.00"), D("350.50"), D("0.00")),
        (ledger_2026[3].number, D("40.00"), D("0.00"), D("40.00")),
    ]
    assert f'href="/ledger/entries/{ledger_2026[1].number}/">JE {ledger_2026[1].number}</a>' in (
        response.content.decode()
    )

    response = client.get(
        reverse("ledger:account-detail", args=[account.pk]),
        {"date_from": "2026-03-01", "date_to": "2026-03-31"},
    )
    ledger = response.context["ledger"]
    assert ledger.opening == D("100.00")
    assert (ledger.debits, ledger.credits, ledger.closing) == (D("250.50"), D("350.50"), D("0"))
    assert [line.running_balance for line in ledger.page.object_list] == [D("350.50"), D("0.00")]
    assert [line.entry.memo for line in ledger.page.object_list] == [
        "Fire inspection receipts",
        "Deposit 2026-03-20",
    ]


def test_account_ledger_rejects_a_backwards_date_range(client_for, technician, chart):
    response = client_for(technician).get(
        reverse("ledger:account-detail", args=[chart["001.101.30"].pk]),
        {"date_from": "2026-03-31", "date_to": "2026-03-01"},
    )
    assert "The end date is before the start date." in response.content.decode()


def test_account_ledger_running_balance_carries_across_pages(
    client_for, technician, supervisor, chart, django_assert_max_num_queries
):
    for n in range(1, 106):  # 105 lines: a full page of 100 and 5 more
        post(
            supervisor,
            chart,
            date(2026, 1, 1 + n % 28),
            f"Copies {n}",
            ("001.101.30", f"{n}.00", "0"),
            ("001.341.62.00", "0", f"{n}.00"),
        )
    url = reverse("ledger:account-detail", args=[chart["001.101.30"].pk])
    client = client_for(technician)
    first = client.get(url).context["page"]
    assert len(first.object_list) == 100
    assert first.paginator.num_pages == 2
    # Lines run by date, then entry number; the balance is the sum of all before.
    amounts = [line.debit for line in first.object_list]
    assert first.object_list[-1].running_balance == sum(amounts)
    with django_assert_max_num_queries(12):
        second = client.get(url, {"page": 2}).context["page"]
    assert len(second.object_list) == 5
    assert second.object_list[-1].running_balance == D(105 * 106 // 2)  # 5565.00
    assert second.object_list[0].running_balance == sum(amounts) + second.object_list[0].debit
    html = client.get(url, {"page": 2}).content.decode()
    assert "Page 2 of 2" in html and "5,565.00" in html


def test_account_detail_shows_history(client_for, admin, technician, chart):
    account = chart["001.514.23.40"]
    client_for(admin).post(
        reverse("admin:ledger_glaccount_change", args=[account.pk]),
        {
            "fund": account.fund_id,
            "code": account.code,
            "name": "Counter supplies",
            "account_type": account.account_type,
            "is_active": "on",
        },
    )
    response = client_for(technician).get(reverse("ledger:account-detail", args=[account.pk]))
    timeline = response.context["timeline"]
    assert timeline[0].pgh_label == "update"
    assert timeline[0].actor == admin
    assert "Counter supplies" in response.content.decode()


def test_unknown_account_is_404(client_for, technician, chart):
    response = client_for(technician).get(reverse("ledger:account-detail", args=[999999]))
    assert response.status_code == 404


# ----------------------------------------------------------------------------- entries


def test_entry_detail_shows_header_lines_and_totals(client_for, technician, ledger_2026):
    entry = ledger_2026[2]
    response = client_for(technician).get(reverse("ledger:entry-detail", args=[entry.number]))
    assert response.status_code == 200
    html = response.content.decode()
    assert f"Journal entry {entry.number}" in html
    assert "Deposit 2026-03-20" in html and "2026-03-20" in html and "March 2026" in html
    assert [line.account.full_code for line in response.context["lines"]] == [
        "001.101.10",
        "001.101.30",
    ]
    assert response.context["total_debit"] == response.context["total_credit"] == D("350.50")
    assert not response.context["can_reverse"]  # technicians may not reverse
    assert "Reverse entry" not in html
    assert response.context["timeline"][0].pgh_label == "insert"


def test_supervisor_reverses_an_entry(client_for, supervisor, ledger_2026):
    entry = ledger_2026[1]
    client = client_for(supervisor)
    page = client.get(reverse("ledger:entry-detail", args=[entry.number]))
    assert "Reverse entry" in page.content.decode()
    response = client.post(
        reverse("ledger:entry-reverse", args=[entry.number]),
        {"reason": "Keyed to the wrong fee code", "entry_date": "2026-03-25"},
    )
    reversal = JournalEntry.objects.get(reverses=entry)
    assert response.status_code == 302
    assert response["Location"] == reverse("ledger:entry-detail", args=[reversal.number])
    assert reversal.entry_date == date(2026, 3, 25)
    assert reversal.posted_by == supervisor
    assert [
        (x.account.full_code, x.debit, x.credit) for x in reversal.lines.order_by("line_no")
    ] == [
        ("001.101.30", D("0.00"), D("250.50")),
        ("001.321.90.00", D("250.50"), D("0.00")),
    ]
    event = pghistory.models.Events.objects.tracks(reversal).get()
    assert event.pgh_context["reason"] == "Keyed to the wrong fee code"

    original = client.get(reverse("ledger:entry-detail", args=[entry.number]))
    assert original.context["reversed_by"] == reversal
    assert "Reverse entry" not in original.content.decode()
    mirror = client.get(reverse("ledger:entry-detail", args=[reversal.number]))
    assert f'href="/ledger/entries/{entry.number}/">JE {entry.number}</a>' in (
        mirror.content.decode()
    )
    assert not mirror.context["can_reverse"]


def test_reversal_needs_a_reason_and_an_open_period(client_for, supervisor, ledger_2026):
    entry = ledger_2026[1]
    client = client_for(supervisor)
    url = reverse("ledger:entry-reverse", args=[entry.number])
    response = client.post(url, {"reason": "  ", "entry_date": "2026-03-25"})
    assert response.status_code == 200
    assert response.context["reverse_form"].errors["reason"] == [
        "Enter the reason for the reversal."
    ]
    period_close(period=period_of(2026, 2), user=supervisor)
    response = client.post(url, {"reason": "Wrong fee", "entry_date": "2026-02-27"})
    assert response.context["reverse_form"].errors["entry_date"] == [
        "The February 2026 accounting period is closed."
    ]
    assert "The February 2026 accounting period is closed." in response.content.decode()
    response = client.post(url, {"reason": "Wrong fee", "entry_date": "2031-01-05"})
    assert response.context["reverse_form"].errors["entry_date"] == [
        "There is no accounting period for January 05, 2031."
    ]
    assert not JournalEntry.objects.filter(reverses=entry).exists()


def test_entry_cannot_be_reversed_twice(client_for, supervisor, ledger_2026):
    entry = ledger_2026[0]
    client = client_for(supervisor)
    url = reverse("ledger:entry-reverse", args=[entry.number])
    client.post(url, {"reason": "Duplicate", "entry_date": "2026-03-02"})
    response = client.post(url, {"reason": "Again", "entry_date": "2026-03-02"})
    assert response.status_code == 200
    reversal = JournalEntry.objects.get(reverses=entry)
    assert response.context["reverse_form"].non_field_errors() == [
        f"JE {entry.number} has already been reversed by JE {reversal.number}."
    ]
    assert JournalEntry.objects.filter(reverses=entry).count() == 1


def test_subsystem_entries_are_corrected_in_their_subsystem(client_for, supervisor, chart):
    entry = journal_entry_post(
        entry_date=date(2026, 3, 5),
        memo="Receipt R-1 Kevin Green",
        lines=[
            LineSpec(chart["001.101.30"], debit=D("30.00")),
            LineSpec(chart["001.322.30.00"], credit=D("30.00")),
        ],
        user=supervisor,
        source="receipt",
        source_ref="R-1",
    )
    client = client_for(supervisor)
    page = client.get(reverse("ledger:entry-detail", args=[entry.number]))
    html = page.content.decode()
    assert "Reverse entry" not in html
    message = (
        f"JE {entry.number} was posted by receipt R-1; correct it there (a receipt reversal),"
        " not in the ledger."
    )
    assert f"Not reversible here: {message}" in html
    response = client.post(
        reverse("ledger:entry-reverse", args=[entry.number]),
        {"reason": "Wrong fee", "entry_date": "2026-03-25"},
    )
    assert response.context["reverse_form"].non_field_errors() == [message]
    assert not JournalEntry.objects.filter(reverses=entry).exists()


def test_technician_may_not_reverse(client_for, technician, ledger_2026):
    entry = ledger_2026[1]
    response = client_for(technician).post(
        reverse("ledger:entry-reverse", args=[entry.number]),
        {"reason": "Trying", "entry_date": "2026-03-25"},
    )
    assert response.status_code == 403
    assert not JournalEntry.objects.filter(reverses=entry).exists()


def test_reverse_is_post_only(client_for, supervisor, ledger_2026):
    url = reverse("ledger:entry-reverse", args=[ledger_2026[1].number])
    assert client_for(supervisor).get(url).status_code == 405


@pytest.mark.parametrize(("persona", "status"), [("technician", 200), ("cashier", 403)])
def test_entry_detail_permission(client_for, personas, ledger_2026, persona, status):
    url = reverse("ledger:entry-detail", args=[ledger_2026[0].number])
    assert client_for(personas[persona]).get(url).status_code == status


# ----------------------------------------------------------------------------- periods


def test_periods_list(client_for, technician, ledger_2026, django_assert_max_num_queries):
    client = client_for(technician)
    client.get(reverse("ledger:periods"))
    with django_assert_max_num_queries(8):
        response = client.get(reverse("ledger:periods"))
    rows = {period.start_date: period for period, _form in response.context["rows"]}
    assert rows[date(2026, 3, 1)].entry_count == 2
    assert rows[date(2026, 2, 1)].entry_count == 1
    html = response.content.decode()
    assert "Close March 2026" not in html  # technicians see status, not the buttons


def test_supervisor_closes_and_reopens_a_period(client_for, supervisor, chart):
    march = period_of(2026, 3)
    client = client_for(supervisor)
    assert "Close March 2026" in client.get(reverse("ledger:periods")).content.decode()
    response = client.post(
        reverse("ledger:period-close", args=[march.pk]), {f"p{march.pk}-reason": "Month end"}
    )
    assert response.status_code == 302
    march.refresh_from_db()
    assert march.status == "closed" and march.status_changed_by == supervisor

    response = client.post(reverse("ledger:period-reopen", args=[march.pk]), {})
    assert response.status_code == 200
    assert "Enter the reason for reopening the period." in response.content.decode()
    march.refresh_from_db()
    assert march.status == "closed"

    client.post(
        reverse("ledger:period-reopen", args=[march.pk]),
        {f"p{march.pk}-reason": "Late utility batch"},
    )
    march.refresh_from_db()
    assert march.is_open
    reasons = [
        (e.pgh_context or {}).get("reason")
        for e in pghistory.models.Events.objects.tracks(march).order_by("pgh_id")
    ]
    assert reasons[-2:] == ["Month end", "Late utility batch"]


def test_closing_a_closed_period_says_so(client_for, supervisor, chart):
    march = period_of(2026, 3)
    period_close(period=march, user=supervisor)
    response = client_for(supervisor).post(
        reverse("ledger:period-close", args=[march.pk]), follow=True
    )
    assert "March 2026 is already closed." in response.content.decode()


@pytest.mark.parametrize("persona", ["technician", "cashier"])
def test_only_supervisors_close_periods(client_for, personas, chart, persona):
    march = period_of(2026, 3)
    response = client_for(personas[persona]).post(reverse("ledger:period-close", args=[march.pk]))
    assert response.status_code == 403
    march.refresh_from_db()
    assert march.is_open


def test_periods_are_in_the_ledger_menu(client_for, technician, cashier, chart):
    link = f'href="{reverse("ledger:periods")}">Accounting periods</a>'
    assert link in client_for(technician).get(reverse("home")).content.decode()
    assert link not in client_for(cashier).get(reverse("home")).content.decode()


# ------------------------------------------------------------------------ trial balance


def test_trial_balance_for_march(client_for, technician, ledger_2026):
    march = period_of(2026, 3)
    response = client_for(technician).get(reverse("ledger:trial-balance"), {"period": march.pk})
    assert response.status_code == 200
    tb = response.context["tb"]
    rows = {row.account.full_code: row for row in tb.rows}
    assert (rows["001.101.30"].opening, rows["001.101.30"].debits) == (D("100.00"), D("250.50"))
    assert (rows["001.101.30"].credits, rows["001.101.30"].closing) == (D("350.50"), D("0.00"))
    assert rows["001.321.10.00"].opening == rows["001.321.10.00"].closing == D("-100.00")
    assert rows["001.321.90.00"].closing == D("-250.50")
    assert rows["001.101.10"].closing == D("350.50")
    assert rows["001.369.91.00"].closing == D("0.00")  # April is after the period
    assert tb.total_debits == tb.total_credits == D("601.00")
    assert tb.total_opening == tb.total_closing == D("0.00")
    assert tb.balanced
    html = response.content.decode()
    assert "In balance: period debits 601.00 equal period credits 601.00." in html
    for text, name in [
        ("Download XLSX", "ledger:trial-balance-xlsx"),
        ("Download PDF", "ledger:trial-balance-pdf"),
        ("Print view", "ledger:trial-balance-print"),
    ]:
        assert f'href="{reverse(name, args=[march.pk])}">{text}</a>' in html
    assert f'action="{reverse("ledger:trial-balance-export", args=[march.pk])}"' in html
    assert ">Export in background</button>" in html


def test_trial_balance_defaults_to_the_period_holding_today(client_for, technician, chart):
    from django.utils import timezone

    today = timezone.localdate()
    response = client_for(technician).get(reverse("ledger:trial-balance"))
    period = response.context["period"]
    assert period.start_date <= today <= period.end_date


def test_trial_balance_unknown_period_is_an_error(client_for, technician, chart):
    response = client_for(technician).get(reverse("ledger:trial-balance"), {"period": "999999"})
    assert response.status_code == 200
    assert response.context["form"].errors["period"]


def test_trial_balance_query_count_does_not_grow_with_accounts_or_lines(
    client_for, technician, supervisor, chart, ledger_2026, django_assert_max_num_queries
):
    march = period_of(2026, 3)
    client = client_for(technician)
    url = reverse("ledger:trial-balance")
    client.get(url, {"period": march.pk})
    # Session, user, permissions (2), the period, the period menu, the trial balance,
    # and the session save (3 with savepoints).
    with django_assert_max_num_queries(11):
        client.get(url, {"period": march.pk})
    for n in range(25):
        post(
            supervisor,
            chart,
            date(2026, 3, 10),
            f"Copies {n}",
            ("001.101.30", "1.00", "0"),
            ("001.341.62.00", "0", "1.00"),
        )
    with django_assert_max_num_queries(11):
        response = client.get(url, {"period": march.pk})
    assert response.context["tb"].total_debits == D("626.00")


@pytest.mark.parametrize(
    ("persona", "status"),
    [("technician", 200), ("supervisor", 200), ("cashier", 403), ("outsider", 403)],
)
def test_trial_balance_permission(client_for, personas, chart, persona, status):
    march = period_of(2026, 3)
    client = client_for(personas[persona])
    assert client.get(reverse("ledger:trial-balance")).status_code == status
    for name in ("ledger:trial-balance-xlsx", "ledger:trial-balance-print"):
        assert client.get(reverse(name, args=[march.pk])).status_code == status
    if status == 403:
        assert client.get(reverse("ledger:trial-balance-pdf", args=[march.pk])).status_code == 403
        export = reverse("ledger:trial-balance-export", args=[march.pk])
        assert client.post(export).status_code == 403


def test_dashboard_cards_for_report_readers(
    client_for, technician, cashier, ledger_2026, monkeypatch
):
    from django.utils import timezone

    monkeypatch.setattr(timezone, "localdate", lambda *args: date(2026, 3, 16))
    cards = {
        card["title"]: card
        for card in client_for(technician).get(reverse("home")).context["dashboard"]["cards"]
    }
    march = period_of(2026, 3)
    assert cards["Accounting period"]["value"] == "March 2026"
    assert cards["Accounting period"]["note"] == "Open for posting"
    assert cards["Accounting period"]["url"] == f"/ledger/trial-balance/?period={march.pk}"
    # Only the March 5 entry is on or before March 16.
    assert cards["Entries posted this month"]["value"] == "1"
    assert cards["Entries posted this month"]["note"] == "$250.50 in debits since March 1"
    cashier_cards = client_for(cashier).get(reverse("home")).context["dashboard"]["cards"]
    assert not {"Accounting period", "Entries posted this month"} & {
        card["title"] for card in cashier_cards
    }
