"""Renewal screens: a run started from the page and followed on its job page, the
notices batch PDF (one page per unpaid invoice), renewals outstanding and delinquency
with their exports, and the daily penalty run started by hand."""

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from kent_cs.models import Job
from licensing.models import License, LicenseInvoice, LicenseInvoiceLine, RenewalRun
from licensing.renewals import renewal_invoice_create
from tests.licensing.factories import make_business, make_license
from tests.licensing.views_support import messages_of, pdf_page_count

pytestmark = pytest.mark.django_db
D = Decimal
IMMEDIATE = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture(autouse=True)
def _immediate_tasks(settings):
    settings.TASKS = IMMEDIATE


def licenses_2026(count: int) -> list[License]:
    licenses = []
    for index in range(count):
        business = make_business(
            legal_name=f"Renewing Shop {index} LLC",
            location_line1=f"{200 + index} Railroad Ave N",
            fte_employees=D(index * 20),
        )
        licenses.append(make_license(business, year=2026))
    return licenses


def post_and_run(client, url, data=None, *, capture):
    """POST, then run what it enqueued (the job's task) as the commit would."""
    with capture(execute=True):
        response = client.post(url, data or {})
    return response


def job_of(response) -> Job:
    assert response.status_code == 302
    pk = int(response["Location"].rstrip("/").split("/")[-1])
    assert response["Location"] == reverse("job-detail", args=[pk])
    return Job.objects.get(pk=pk)


def test_renewal_run_from_the_page_shows_progress_and_counts(
    client_for, technician, django_capture_on_commit_callbacks
):
    licenses_2026(3)
    client = client_for(technician)
    page = client.get(reverse("licensing:renewals"), {"year": 2027}).content.decode()
    assert "Start renewal run for 2027" in page

    response = post_and_run(
        client,
        reverse("licensing:renewal-run-start"),
        {"year": "2027"},
        capture=django_capture_on_commit_callbacks,
    )
    job = job_of(response)
    assert (job.status, job.progress_done, job.progress_total) == ("succeeded", 3, 3)
    run = RenewalRun.objects.get(job=job)
    assert (run.status, run.licenses_due, run.invoices_created) == ("succeeded", 3, 3)
    assert LicenseInvoice.objects.filter(year=2027, kind="renewal").count() == 3

    job_page = client.get(response["Location"]).content.decode()
    assert "Finished" in job_page and "3 of 3" in job_page and 'data-percent="100"' in job_page

    renewals = client.get(reverse("licensing:renewals"), {"year": 2027})
    assert list(renewals.context["page"].object_list) == [run]
    assert renewals.context["summary"].invoiced == 3
    assert f"Run #{run.pk}" in renewals.content.decode()

    # Running again creates nothing twice.
    again = job_of(
        post_and_run(
            client,
            reverse("licensing:renewal-run-start"),
            {"year": "2027"},
            capture=django_capture_on_commit_callbacks,
        )
    )
    second = RenewalRun.objects.get(job=again)
    assert (second.invoices_created, second.already_invoiced) == (0, 3)
    assert LicenseInvoice.objects.filter(year=2027).count() == 3


def test_a_year_too_far_ahead_is_refused(client_for, technician):
    response = client_for(technician).post(reverse("licensing:renewal-run-start"), {"year": "2100"})
    assert "Renewals can be run for license years up to" in messages_of(response)[-1]
    assert not RenewalRun.objects.exists()


def test_notices_batch_is_one_pdf_with_a_page_per_unpaid_invoice(
    client_for, technician, django_capture_on_commit_callbacks
):
    licenses = licenses_2026(4)
    for license in licenses:
        renewal_invoice_create(license=license, year=2027, user=technician)
    client = client_for(technician)
    assert "Print renewal notices for 2027 (PDF)" in (
        client.get(reverse("licensing:renewals"), {"year": 2027}).content.decode()
    )
    response = post_and_run(
        client,
        reverse("licensing:renewal-notices", args=[2027]),
        capture=django_capture_on_commit_callbacks,
    )
    job = job_of(response)
    unpaid = LicenseInvoice.objects.filter(year=2027, kind="renewal", status="open").count()
    assert unpaid == 4
    assert job.status == "succeeded", job.message
    assert (job.progress_done, job.progress_total) == (1, 1)  # chunks
    assert job.message == "4 notices on 4 pages"
    assert (job.result_name, job.result_content_type) == (
        "renewal-notices-2027.pdf",
        "application/pdf",
    )
    assert pdf_page_count(bytes(job.result_data)) == unpaid

    download = client.get(reverse("job-download", args=[job.pk]))
    assert download["Content-Type"] == "application/pdf"
    assert pdf_page_count(download.content) == 4


def test_notices_of_one_run(client_for, technician, django_capture_on_commit_callbacks):
    licenses_2026(2)
    client = client_for(technician)
    run_job = job_of(
        post_and_run(
            client,
            reverse("licensing:renewal-run-start"),
            {"year": "2027"},
            capture=django_capture_on_commit_callbacks,
        )
    )
    run = RenewalRun.objects.get(job=run_job)
    assert "Print notices for this run (PDF)" in client.get(run.get_absolute_url()).content.decode()
    job = job_of(
        post_and_run(
            client,
            reverse("licensing:renewal-run-notices", args=[run.pk]),
            capture=django_capture_on_commit_callbacks,
        )
    )
    assert pdf_page_count(bytes(job.result_data)) == 2


def test_no_notices_when_nothing_is_unpaid(client_for, technician):
    response = client_for(technician).post(reverse("licensing:renewal-notices", args=[2027]))
    assert "there is no notice to print" in messages_of(response)[-1]
    assert not Job.objects.exists()


def test_supervisors_see_renewals_but_cannot_start_runs(client_for, supervisor):
    client = client_for(supervisor)
    page = client.get(reverse("licensing:renewals"))
    assert page.status_code == 200
    assert "Start renewal run" not in page.content.decode()
    response = client.post(reverse("licensing:renewal-run-start"), {"year": "2027"})
    assert response.status_code == 403
    assert not RenewalRun.objects.exists() and not Job.objects.exists()


def test_supervisors_may_assess_penalties_now(
    client_for, supervisor, overdue, django_capture_on_commit_callbacks
):
    client = client_for(supervisor)
    page = client.get(reverse("licensing:renewals")).content.decode()
    assert "Assess penalties now" in page and "Start renewal run" not in page
    response = post_and_run(
        client, reverse("licensing:penalties-assess"), capture=django_capture_on_commit_callbacks
    )
    job = job_of(response)
    assert job.status == "succeeded", job.message
    assert job.created_by == supervisor
    assert LicenseInvoiceLine.objects.filter(invoice=overdue, kind="penalty").exists()


def test_cashiers_cannot_see_renewals(client_for, cashier):
    assert client_for(cashier).get(reverse("licensing:renewals")).status_code == 403


# --- outstanding and delinquency ------------------------------------------------------


@pytest.fixture
def overdue(technician):
    """Two 2026 renewals due Dec 31, 2025: one unpaid (overdue), one paid."""
    invoices = []
    for license in licenses_2026(2):
        license.license_year = 2025
        license.save(update_fields=["license_year"])
        invoices.append(renewal_invoice_create(license=license, year=2026, user=technician))
    paid = invoices[1]
    LicenseInvoice.objects.filter(pk=paid.pk).update(
        status="paid", amount_due=0, paid_on=date(2025, 12, 1)
    )
    return invoices[0]


def test_outstanding_list_and_exports(client_for, supervisor, overdue):
    client = client_for(supervisor)
    page = client.get(reverse("licensing:renewals-outstanding"), {"year": 2026})
    assert [i.number for i in page.context["page"].object_list] == [overdue.number]
    url = reverse("licensing:renewals-outstanding-export", args=["csv"])
    rows = list(
        csv.reader(io.StringIO(client.get(url, {"year": 2026}).content.decode("utf-8-sig")))
    )
    assert rows[0][:2] == ["Invoice", "Business"]
    assert [row[0] for row in rows[1:]] == [overdue.number]
    assert rows[1][-1] == f"{overdue.amount_due:.2f}"
    url = reverse("licensing:renewals-outstanding-export", args=["xlsx"])
    response = client.get(url, {"year": 2026})
    assert response["Content-Disposition"].endswith('renewals-outstanding-2026.xlsx"')
    sheet = load_workbook(io.BytesIO(response.content)).active
    values = [row for row in sheet.iter_rows(values_only=True) if row and row[0] == overdue.number]
    assert values and values[0][-1] == float(overdue.amount_due)


def test_unknown_export_format_is_not_found(client_for, supervisor):
    url = reverse("licensing:renewals-outstanding-export", args=["pdf"])
    assert client_for(supervisor).get(url).status_code == 404


def test_delinquency_shows_days_late_and_exports(client_for, supervisor, overdue):
    client = client_for(supervisor)
    response = client.get(reverse("licensing:delinquency"), {"as_of": "2026-03-16"})
    invoices = list(response.context["page"].object_list)
    assert [(i.number, i.days_late) for i in invoices] == [(overdue.number, 75)]
    assert response.context["buckets"][2] == {
        "label": "61–90 days",  # noqa: RUF001 - the label users read
        "count": 1,
        "amount_due": overdue.amount_due,
    }
    url = reverse("licensing:delinquency-export", args=["csv"])
    text = client.get(url, {"as_of": "2026-03-16"}).content.decode("utf-8-sig")
    header, row = list(csv.reader(io.StringIO(text)))
    assert header[8:10] == ["Days late", "Penalties"]
    assert (row[0], row[8], row[9]) == (overdue.number, "75", "0.00")


def test_delinquency_pages_in_constant_queries(
    client_for, supervisor, technician, django_assert_max_num_queries
):
    for license in licenses_2026(25):
        License.objects.filter(pk=license.pk).update(license_year=2025)
        license.refresh_from_db()
        renewal_invoice_create(license=license, year=2026, user=technician)
    client = client_for(supervisor)
    with django_assert_max_num_queries(16):
        response = client.get(reverse("licensing:delinquency"), {"as_of": "2026-03-16"})
    assert response.context["page"].paginator.count == 25


def test_assess_penalties_now_runs_the_daily_run_as_a_job(
    client_for, technician, overdue, django_capture_on_commit_callbacks
):
    response = post_and_run(
        client_for(technician),
        reverse("licensing:penalties-assess"),
        capture=django_capture_on_commit_callbacks,
    )
    job = job_of(response)
    assert job.status == "succeeded", job.message
    penalties = LicenseInvoiceLine.objects.filter(invoice=overdue, kind="penalty")
    assert penalties.exists()
    assert "penalties added to 1 invoices" in job.message
    overdue.license.refresh_from_db()
    assert overdue.license.status in ("expired", "lapsed")
