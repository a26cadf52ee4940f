"""Licensing reports on a small fixed history: new licenses by month with the year before,
active licenses at year ends, revenue by license type and NAICS sector (cash basis),
renewals outstanding and delinquency; the dashboard's SVG charts, the downloads and the
growth workbook; query counts and who may see them."""

import csv
import io
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import openpyxl
import pytest
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.connection import ConnectionDoesNotExist

from kent_cs.reports import INTEGER_FORMAT, MONEY_FORMAT
from licensing import charts
from licensing.models import License, LicensePayment, LicenseStatus, LicenseType
from licensing.renewals import renewal_invoice_create
from licensing.reports import common as report_common
from licensing.reports import growth as growth_reports
from licensing.reports import renewals as renewal_reports
from licensing.reports import revenue as revenue_reports
from licensing.services.invoices import invoice_apply_payment, invoice_undo_payment
from licensing.services.licenses import license_change_status
from tests.licensing.factories import approved_license, counter_payment, make_business, make_license

D = Decimal
pytestmark = pytest.mark.django_db

AS_OF = date(2026, 3, 15)  # 74 days after the 2026 renewals fell due on Dec 31, 2025
FORMULA_NAME = '=HYPERLINK("http://example.com","Kent Web Design")'
YEARS = {"first_year": 2025, "last_year": 2026}


@dataclass
class History:
    licenses: dict
    invoices: dict


def _pay(invoice, *parts, receipt: int, on: date) -> None:
    for line_no, (code, amount) in enumerate(parts, start=1):
        invoice_apply_payment(
            number=invoice.number,
            fee_code=code,
            amount=D(amount),
            paid_by=counter_payment(receipt, line_no, on=on),
        )


def _licensed(name: str, naics: str, *, code: str = "GEN", year: int, issued_on: date, **extra):
    business = make_business(legal_name=name, trade_name="", naics_code=naics, **extra)
    return make_license(business, code=code, year=year, issued_on=issued_on)


def build_history(user) -> History:
    """Nine licenses issued from Nov 2024 to Apr 2026, one new license paid at the
    counter, four 2026 renewals (paid, part paid, unpaid after a voided payment, paid
    late) and a suspension.

    The factory's history row for a license takes effect on January 5 of its year."""
    lic = {
        "tacos": _licensed(
            "Green River Tacos LLC", "722513", year=2024, issued_on=date(2024, 11, 4)
        ),
        "machine": _licensed(
            "Valley Machine Works Inc", "332710", year=2025, issued_on=date(2025, 2, 3)
        ),
        "bakery": _licensed("Meeker Bakery LLC", "311811", year=2025, issued_on=date(2025, 2, 20)),
        "web": _licensed(
            FORMULA_NAME,
            "541511",
            code="HOME",
            year=2025,
            issued_on=date(2025, 3, 10),
            ownership_type="sole_proprietor",
        ),
        "roofing": _licensed(
            "Scenic Hill Roofing LLC",
            "238160",
            code="CONT",
            year=2025,
            issued_on=date(2025, 7, 15),
        ),
        "dental": _licensed(
            "Panther Lake Dental PLLC", "621210", year=2026, issued_on=date(2026, 1, 12)
        ),
        "pho": _licensed("East Hill Pho LLC", "722511", year=2026, issued_on=date(2026, 3, 2)),
        "florist": _licensed(
            "Mill Creek Florist LLC", "459310", year=2026, issued_on=date(2026, 3, 30)
        ),
        "fitness": _licensed(
            "Lake Meridian Fitness LLC", "713940", year=2026, issued_on=date(2026, 4, 2)
        ),
    }
    # A new rental housing license, approved in May 2025 and paid the next day: $181.00.
    rentals = make_business(
        legal_name="Titus Street Rentals LLC", trade_name="", naics_code="531110"
    )
    lic["rentals"] = approved_license(
        rentals, user, code="RENT", issue_date=date(2025, 5, 5), units=10
    )
    new_invoice = lic["rentals"].invoices.get()
    _pay(new_invoice, ("BL-RENT", "180.00"), ("BL-TECH", "1.00"), receipt=501, on=date(2025, 5, 6))
    license_change_status(
        license=lic["bakery"],
        to_status=LicenseStatus.SUSPENDED,
        user=user,
        reason="Fire code violation",
        effective_on=date(2025, 6, 1),
    )
    inv = {
        key: renewal_invoice_create(license=lic[key], year=2026, user=user)
        for key in ("machine", "bakery", "web", "roofing")
    }
    # Paid in full in December for 2026: cash in 2025.
    _pay(
        inv["machine"],
        ("BL-GEN", "100.00"),
        ("BL-FIRE", "112.93"),
        ("BL-TECH", "1.00"),
        receipt=601,
        on=date(2025, 12, 20),
    )
    # Part paid in February.
    _pay(inv["bakery"], ("BL-GEN", "60.00"), receipt=602, on=date(2026, 2, 10))
    # Paid, then the receipt voided the next day: nothing received, still open.
    _pay(inv["web"], ("BL-HOME", "20.00"), receipt=603, on=date(2026, 1, 5))
    invoice_undo_payment(
        number=inv["web"].number,
        fee_code="BL-HOME",
        amount=D("20.00"),
        paid_by=counter_payment(603, 1, on=date(2026, 1, 6)),
    )
    # Paid late, in January.
    _pay(
        inv["roofing"], ("BL-CONT", "75.00"), ("BL-TECH", "1.00"), receipt=604, on=date(2026, 1, 20)
    )
    for invoice in inv.values():
        invoice.refresh_from_db()
    inv["rentals"] = new_invoice
    return History(licenses=lic, invoices=inv)


@pytest.fixture
def history(technician) -> History:
    return build_history(technician)


@pytest.fixture
def fixed_today(monkeypatch):
    """Pages take today's date from the clock: make it AS_OF."""
    monkeypatch.setattr(timezone, "localdate", lambda *args, **kwargs: AS_OF)
    return AS_OF


def test_the_fixed_history_is_what_the_reports_are_checked_against(history):
    inv = history.invoices
    assert [inv[k].total for k in ("machine", "bakery", "web", "roofing", "rentals")] == [
        D("213.93"),
        D("213.93"),
        D("51.00"),
        D("76.00"),
        D("181.00"),
    ]
    assert [inv[k].status for k in ("machine", "bakery", "web", "roofing")] == [
        "paid",
        "open",
        "open",
        "paid",
    ]
    assert inv["machine"].due_date == date(2025, 12, 31)
    assert License.objects.get(pk=history.licenses["rentals"].pk).issued_on == date(2025, 5, 6)


# --- new licenses by month ------------------------------------------------------------


def test_new_licenses_by_month_with_the_year_before(history):
    rows = growth_reports.new_licenses_by_month(first_year=2024, last_year=2026, as_of=AS_OF)
    assert [(row.year, row.total, row.partial) for row in rows] == [
        (2024, 1, False),
        (2025, 5, False),
        (2026, 2, True),
    ]
    assert rows[0].months == (0,) * 10 + (1, 0)
    assert rows[1].months == (0, 2, 1, 0, 1, 0, 1, 0, 0, 0, 0, 0)
    # Counted to March 15: the florist (Mar 30) and the gym (Apr 2) are not in yet.
    assert rows[2].months == (1, 0, 1) + (None,) * 9
    # Nothing issued in 2023: no comparison for 2024.
    assert (rows[0].compared_with, rows[0].change, rows[0].change_percent) == (None, None, None)
    assert (rows[1].compared_with, rows[1].change, rows[1].change_percent) == (1, 4, D("400.0"))
    # 2026 to March 15 against 2025 to March 15 (Feb 3, Feb 20, Mar 10).
    assert (rows[2].compared_with, rows[2].change, rows[2].change_percent) == (3, -1, D("-33.3"))


def test_new_licenses_in_a_whole_past_year_compare_whole_years(history):
    (row,) = growth_reports.new_licenses_by_month(
        first_year=2026, last_year=2026, as_of=date(2027, 1, 10)
    )
    assert row.total == 4 and not row.partial
    assert row.compared_with == 5 and row.change == -1


# --- active licenses ------------------------------------------------------------------


def test_active_licenses_at_each_year_end_from_the_status_history(history):
    counts = growth_reports.active_license_counts(first_year=2024, last_year=2026, as_of=AS_OF)
    assert [(c.on, c.count, c.now) for c in counts] == [
        (date(2024, 12, 31), 1, False),  # tacos
        # machine (renewed Dec 20), web, roofing, rentals; the bakery was suspended.
        (date(2025, 12, 31), 4, False),
        # machine and roofing renewed for 2026, and the four 2026 licenses.
        (AS_OF, 6, True),
    ]
    assert [change for _, change in growth_reports.with_changes(counts)] == [None, 3, 2]


def test_active_licenses_today_come_from_the_license_status(history, fixed_today):
    counts = growth_reports.active_license_counts(first_year=2026, last_year=2026, as_of=AS_OF)
    statuses = License.objects.filter(status=LicenseStatus.ACTIVE).count()
    assert [(c.on, c.count, c.now) for c in counts] == [(AS_OF, statuses, True)]
    assert statuses == 9  # all but the suspended bakery


# --- revenue --------------------------------------------------------------------------


def test_revenue_by_license_type_on_a_cash_basis(history):
    table = revenue_reports.revenue_by_license_type(**YEARS, as_of=AS_OF)
    assert table.years == (2025, 2026)
    assert {row.code: row.amounts for row in table.rows} == {
        "CONT": (D("0.00"), D("76.00")),
        "GEN": (D("213.93"), D("60.00")),
        "HOME": (D("0.00"), D("0.00")),  # paid and voided: nets to nothing
        "PAWN": (D("0.00"), D("0.00")),
        "RENT": (D("181.00"), D("0.00")),
    }
    assert table.totals == (D("394.93"), D("136.00"))
    # January 1 to March 15 of each year.
    assert table.totals_to_date == (D("0.00"), D("136.00"))


def test_revenue_by_sector_merges_the_codes_of_one_sector(history):
    table = revenue_reports.revenue_by_sector(**YEARS, as_of=AS_OF)
    assert [(row.code, row.name, row.amounts) for row in table.rows] == [
        ("23", "Construction", (D("0.00"), D("76.00"))),
        # 332710 and 311811: both manufacturing.
        ("31-33", "Manufacturing", (D("213.93"), D("60.00"))),
        ("53", "Real estate and rental and leasing", (D("181.00"), D("0.00"))),
        # The home business's payment and its void net to nothing, on the record.
        ("54", "Professional, scientific, and technical services", (D("0.00"), D("0.00"))),
    ]


def test_revenue_by_type_and_by_sector_each_add_up_to_every_payment(history):
    received = LicensePayment.objects.filter(
        business_date__range=(date(2025, 1, 1), date(2026, 12, 31))
    ).aggregate(total=Sum("amount"))["total"]
    by_type = revenue_reports.revenue_by_license_type(**YEARS, as_of=AS_OF)
    by_sector = revenue_reports.revenue_by_sector(**YEARS, as_of=AS_OF)
    assert by_type.total == by_sector.total == received == D("530.93")
    assert by_type.totals == by_sector.totals


def test_sector_table_names_every_two_digit_code():
    assert (
        report_common.SECTORS["31"]
        == report_common.SECTORS["33"]
        == report_common.Sector("31-33", "Manufacturing")
    )
    assert (
        report_common.SECTORS["45"].code == "44-45" and report_common.SECTORS["49"].code == "48-49"
    )
    assert report_common.SECTORS["72"] == report_common.Sector(
        "72", "Accommodation and food services"
    )


# --- renewals outstanding and delinquency ---------------------------------------------


def test_renewals_outstanding_by_license_type(history):
    table = renewal_reports.renewals_outstanding_by_type(years=[2026])[2026]
    rows = {row.code: row for row in table.rows}
    assert set(rows) == {"GEN", "HOME", "CONT"}
    gen = rows["GEN"]
    assert (gen.invoiced, gen.paid, gen.outstanding, gen.part_paid) == (2, 1, 1, 1)
    assert (gen.amount_invoiced, gen.amount_outstanding) == (D("427.86"), D("153.93"))
    assert (rows["HOME"].outstanding, rows["HOME"].part_paid) == (1, 0)
    total = table.total
    assert (total.invoiced, total.paid, total.outstanding, total.part_paid) == (4, 2, 2, 1)
    assert (total.amount_invoiced, total.amount_outstanding) == (D("554.86"), D("204.93"))
    assert total.percent_paid == D("50.0")


def test_delinquency_by_days_late(history):
    buckets = renewal_reports.delinquency_by_bucket(as_of=AS_OF)
    assert [(b.label, b.count, b.amount_due) for b in buckets] == [
        ("1\u201330 days", 0, D("0.00")),
        ("31\u201360 days", 0, D("0.00")),
        ("61\u201390 days", 2, D("204.93")),  # 74 days late
        ("over 90 days", 0, D("0.00")),
    ]
    early = renewal_reports.delinquency_by_bucket(as_of=date(2026, 1, 20))
    assert [b.count for b in early] == [2, 0, 0, 0]
    assert renewal_reports.delinquency_total(buckets).amount_due == D("204.93")


# --- reads and query counts -----------------------------------------------------------


@pytest.mark.parametrize(
    "report",
    [
        lambda: growth_reports.new_licenses_by_month(first_year=2025, last_year=2026, as_of=AS_OF),
        lambda: growth_reports.active_license_counts(first_year=2025, last_year=2026, as_of=AS_OF),
        lambda: revenue_reports.revenue_by_license_type(**YEARS, as_of=AS_OF),
        lambda: revenue_reports.revenue_by_sector(**YEARS, as_of=AS_OF),
        lambda: renewal_reports.renewals_outstanding_by_type(years=[2026]),
        lambda: renewal_reports.delinquency_by_bucket(as_of=AS_OF),
        lambda: renewal_reports.renewal_invoices_sheet(2026).rows,
        lambda: renewal_reports.delinquent_invoices_sheet(AS_OF).rows,
    ],
)
def test_every_report_reads_through_the_reports_database(report, monkeypatch):
    for module in (growth_reports, revenue_reports, renewal_reports):
        monkeypatch.setattr(module, "reports_db", lambda: "no-such-alias")
    with pytest.raises(ConnectionDoesNotExist):
        report()


def _more_history(user, count: int) -> None:
    """More licenses, renewals and payments, for checking that queries stay constant."""
    for n in range(count):
        license = _licensed(
            f"Extra Business {n} LLC", "811111", year=2025, issued_on=date(2025, 4, 1 + n)
        )
        invoice = renewal_invoice_create(license=license, year=2026, user=user)
        _pay(invoice, ("BL-GEN", "10.00"), receipt=900 + n, on=date(2026, 1, 2 + n))


def _count_queries(client, url, django_assert_max_num_queries, limit: int) -> int:
    with django_assert_max_num_queries(limit) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


# Seven queries come with every signed-in request (session, user, permissions, the
# session's idle-timeout save); the rest are the report's own grouped queries.
PAGES = [
    ("licensing:report-dashboard", [], "", 14),
    ("licensing:report-new-licenses", [], "?first_year=2024&last_year=2026", 8),
    ("licensing:report-active-licenses", [], "?first_year=2024&last_year=2026", 9),
    ("licensing:report-revenue", [], "?first_year=2024&last_year=2026", 10),
    ("licensing:report-renewals", [], "?year=2026", 8),
    ("licensing:report-delinquency", [], "", 8),
    ("licensing:report-growth-xlsx", [], "?first_year=2024&last_year=2026", 13),
    ("licensing:report-xlsx", ["renewals"], "?year=2026", 9),
    ("licensing:report-csv", ["delinquency"], "", 8),
]


def test_report_queries_stay_constant_as_the_data_grows(
    client_for, supervisor, technician, history, fixed_today, django_assert_max_num_queries
):
    client = client_for(supervisor)
    # The first request after signing in renews the session (kent_cs.sessions); counting
    # starts after it so that both rounds below are measured alike.
    client.get(reverse("home"))

    def counts():
        return {
            name: _count_queries(
                client, reverse(name, args=args) + query, django_assert_max_num_queries, limit
            )
            for name, args, query, limit in PAGES
        }

    before = counts()
    _more_history(technician, 6)
    assert counts() == before


# --- pages ----------------------------------------------------------------------------


def test_dashboard_draws_its_charts_as_inline_svg_without_style_or_script(
    client_for, supervisor, history, fixed_today
):
    response = client_for(supervisor).get(reverse("licensing:report-dashboard"))
    assert response.status_code == 200
    html = response.content.decode()
    svgs = re.findall(r"<svg\b[^>]*>", html)
    assert len(svgs) == 3
    for chart_id in ("chart-new-licenses", "chart-revenue-by-type", "chart-active-licenses"):
        assert f'role="img" aria-labelledby="{chart_id}-title {chart_id}-desc"' in html, chart_id
        assert f'<title id="{chart_id}-title">' in html and f'<desc id="{chart_id}-desc">' in html
    assert "style=" not in html
    assert re.findall(r"<script\b(?![^>]*\bsrc=)", html) == []
    # The numbers behind the charts, as tables.
    assert html.count("<details>") == 3
    assert "New licenses by month, 2025 and 2026" in html
    assert "2026 to Mar 15: 2; 2025: 5 in the whole year, 3 to Mar 15." in html
    # Bars carry their values: 2025 had two new licenses in February.
    assert "<title>Feb 2025: 2</title>" in html
    assert "<title>General business license 2026 Jan 1 to Mar 15: $60.00</title>" in html
    cards = response.context
    assert cards["new_this"].total == 2 and cards["revenue_this"] == D("136.00")
    assert cards["active_rows"][-1][0].count == 9  # today: from the licenses' status
    assert [t.year for t in cards["renewals"]] == [2026]
    assert cards["delinquent"].count == 2


def test_report_pages_show_the_numbers(client_for, technician, history):
    client = client_for(technician)
    page = client.get(
        reverse("licensing:report-new-licenses")
        + "?first_year=2025&last_year=2026&as_of=2026-03-15"
    )
    assert [row.change for row in page.context["rows"]] == [4, -1]
    assert "-1 (-33.3%)" in page.content.decode()
    revenue = client.get(reverse("licensing:report-revenue") + "?first_year=2025&last_year=2026")
    assert revenue.context["by_type"].total == revenue.context["by_sector"].total == D("530.93")
    renewals = client.get(reverse("licensing:report-renewals") + "?year=2026")
    assert renewals.context["total"].amount_outstanding == D("204.93")
    assert "<strong>2</strong> renewal invoices outstanding" in renewals.content.decode()
    late = client.get(reverse("licensing:report-delinquency") + "?as_of=2026-03-15")
    assert late.context["total"].count == 2


def test_a_bad_year_range_says_why_and_shows_the_default(client_for, technician, fixed_today):
    response = client_for(technician).get(
        reverse("licensing:report-new-licenses") + "?first_year=2026&last_year=2020"
    )
    assert response.status_code == 200
    assert "The first year comes before the last one." in response.content.decode()
    assert [row.year for row in response.context["rows"]] == [2024, 2025, 2026]


# --- downloads ------------------------------------------------------------------------


def _workbook(response):
    assert response.status_code == 200
    return openpyxl.load_workbook(io.BytesIO(response.content))


def test_growth_workbook_has_a_chart_on_each_sheet(client_for, supervisor, history):
    LicenseType.objects.create(code="EVIL", name="=1+2+cmd|' /C calc'!A0")
    response = client_for(supervisor).get(
        reverse("licensing:report-growth-xlsx") + "?first_year=2025&last_year=2026&as_of=2026-03-15"
    )
    assert (
        response["Content-Disposition"] == 'attachment; filename="licensing-growth-2025-2026.xlsx"'
    )
    book = _workbook(response)
    assert book.sheetnames == [
        "New licenses by month",
        "Active licenses",
        "Revenue by type",
        "Revenue by sector",
    ]
    for sheet in book.worksheets:
        assert len(sheet._charts) == 1, sheet.title
        assert sheet.freeze_panes == "A5", sheet.title  # two title rows, a blank, the header

    monthly = book["New licenses by month"]
    rows = list(monthly.iter_rows(min_row=4, values_only=True))
    assert rows[0] == ("Month", "2025", "2026")
    assert rows[2] == ("Feb", 2, 0)
    assert rows[4] == ("Apr", 0, None)  # not reached yet
    assert rows[13] == ("Total", 5, 2)
    assert rows[14] == ("Change from the year before", 4, -1)
    assert monthly["B6"].number_format == INTEGER_FORMAT
    chart = monthly._charts[0]
    assert [s.val.numRef.f for s in chart.series] == [
        "'New licenses by month'!$B$5:$B$16",
        "'New licenses by month'!$C$5:$C$16",
    ]
    assert chart.series[0].tx.strRef.f == "'New licenses by month'!B4"

    active = list(book["Active licenses"].iter_rows(min_row=5, values_only=True))
    assert [(row[0], row[2], row[3]) for row in active] == [
        ("Dec 31, 2025", 4, None),
        ("Mar 15, 2026", 6, 2),
    ]

    by_type = book["Revenue by type"]
    values = {row[0]: row[1:] for row in by_type.iter_rows(min_row=5, values_only=True)}
    assert values["GEN"] == ("General business license", 213.93, 60, 273.93)
    assert values[None] == ("Total", 394.93, 136, 530.93)
    assert values["EVIL"][0] == "'=1+2+cmd|' /C calc'!A0"  # stays text
    assert by_type["C5"].number_format == MONEY_FORMAT
    type_chart = by_type._charts[0]
    assert [s.val.numRef.f for s in type_chart.series] == [
        "'Revenue by type'!$C$5:$C$10",
        "'Revenue by type'!$D$5:$D$10",
    ]

    by_sector = book["Revenue by sector"]
    sectors = [row[:2] for row in by_sector.iter_rows(min_row=5, values_only=True)]
    assert ("31-33", "Manufacturing") in sectors and sectors[-1] == (None, "Total")
    assert by_sector._charts[0].type == "bar"


def test_table_downloads_escape_formula_looking_business_names(client_for, technician, history):
    client = client_for(technician)
    response = client.get(reverse("licensing:report-xlsx", args=["renewals"]) + "?year=2026")
    assert response["Content-Disposition"] == (
        'attachment; filename="licensing-renewals-2026.xlsx"'
    )
    book = _workbook(response)
    assert book.sheetnames == ["Renewals 2026", "Invoices outstanding"]
    summary = list(book["Renewals 2026"].iter_rows(min_row=5, values_only=True))
    assert summary[-1] == (None, "All license types", 4, 2, 2, 1, 554.86, 204.93)
    names = [row[1] for row in book["Invoices outstanding"].iter_rows(min_row=2, values_only=True)]
    assert "'" + FORMULA_NAME in names and "Meeker Bakery LLC" in names
    assert FORMULA_NAME not in names

    late = _workbook(
        client.get(reverse("licensing:report-xlsx", args=["delinquency"]) + "?as_of=2026-03-15")
    )
    rows = list(late["Delinquent invoices"].iter_rows(min_row=2, values_only=True))
    assert {row[1] for row in rows} == {"'" + FORMULA_NAME, "Meeker Bakery LLC"}
    assert {row[7] for row in rows} == {74}  # days late


def test_table_csv(client_for, supervisor, history):
    response = client_for(supervisor).get(
        reverse("licensing:report-csv", args=["revenue-by-sector"])
        + "?first_year=2025&last_year=2026&as_of=2026-03-15"
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["NAICS sector", "Sector", "2025", "2026", "Total"]
    assert ["31-33", "Manufacturing", "213.93", "60.00", "273.93"] in rows
    assert rows[-1] == ["", "Total", "394.93", "136.00", "530.93"]

    new = client_for(supervisor).get(
        reverse("licensing:report-csv", args=["new-licenses"])
        + "?first_year=2025&last_year=2026&as_of=2026-03-15"
    )
    lines = list(csv.reader(io.StringIO(new.content.decode("utf-8-sig"))))
    assert lines[0][:3] == ["Year", "Jan", "Feb"] and lines[0][-3:] == [
        "Total",
        "Year before, same span",
        "Change",
    ]
    assert lines[2] == ["2026", "1", "0", "1", *[""] * 9, "2", "3", "-1"]


def test_unknown_table_is_not_found(client_for, supervisor):
    response = client_for(supervisor).get(reverse("licensing:report-csv", args=["salaries"]))
    assert response.status_code == 404


# --- charts ---------------------------------------------------------------------------


def test_chart_text_is_escaped_and_scaled():
    svg = charts.column_chart(
        chart_id="c1",
        title="<b>Fees</b>",
        description='Bars & "numbers"',
        categories=["A<1>", "B"],
        series=[charts.Series("2026", [3, None])],
    )
    assert "<b>" not in svg and "&lt;b&gt;Fees&lt;/b&gt;" in svg
    assert "Bars &amp; &quot;numbers&quot;" in svg
    assert svg.count("<rect") == 1  # no bar for a value not reached yet
    assert "style=" not in svg
    assert charts._scale(7, whole=True) == (8, 2) and charts._scale(0, whole=True) == (4.0, 1.0)


# --- who may see them -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("technician", 200),
        ("supervisor", 200),
        ("admin", 200),
        ("cashier", 403),
        ("outsider", 403),
    ],
)
def test_reports_are_for_report_readers(client_for, personas, persona, status):
    client = client_for(personas[persona])
    for name in ("licensing:report-dashboard", "licensing:report-growth-xlsx"):
        assert client.get(reverse(name)).status_code == status, name
    url = reverse("licensing:report-xlsx", args=["delinquency"])
    assert client.get(url).status_code == status


def test_nav_links_to_reports_for_report_readers_only(client_for, supervisor, cashier):
    url = reverse("licensing:report-dashboard")
    assert f'href="{url}"' in client_for(supervisor).get(reverse("home")).content.decode()
    assert f'href="{url}"' not in client_for(cashier).get(reverse("home")).content.decode()
