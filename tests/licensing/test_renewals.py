"""Renewal runs: one invoice per license due, priced right, gaplessly numbered; running
again, resuming after a crash, or two runs at once never invoice a license twice."""

import threading
from datetime import date
from decimal import Decimal

import pytest
from django.apps import apps
from django.db import connection, connections
from django.test import override_settings

from cashiering.models import PayerIndex
from kent_cs.models import Job
from licensing import renewals
from licensing.models import License, LicenseInvoice, LicenseStatus, LicenseType, RenewalRun
from licensing.renewal_runs import renewal_run_resume, renewal_run_start
from licensing.renewals import renewal_run_execute
from licensing.selectors.renewals import renewal_notice_context, renewals_summary
from tests.factories import make_user
from tests.licensing.factories import defaults, make_business, make_license

D = Decimal
S = LicenseStatus
IMMEDIATE_TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}


def population(count: int, *, year: int = 2026) -> list[License]:
    licenses = []
    for index in range(count):
        business = make_business(
            legal_name=f"Renewal Test {index} LLC",
            location_line1=f"{100 + index} Central Ave N",
            fte_employees=D(index % 120),
        )
        licenses.append(make_license(business, year=year))
    return licenses


def invoices_for(year: int):
    return LicenseInvoice.objects.filter(year=year, kind="renewal").order_by("seq")


@pytest.mark.django_db
def test_run_invoices_every_license_due_and_only_those(technician):
    due = population(3)
    business = make_business(legal_name="Other Cases LLC", location_line1="1 Other St")
    expired = make_license(business, status=S.EXPIRED)
    suspended = make_license(
        make_business(legal_name="Suspended Co", location_line1="2 Other St"), status=S.SUSPENDED
    )
    for status, name in ((S.CLOSED, "Closed Co"), (S.REVOKED, "Revoked Co"), (S.PENDING, "Pend")):
        make_license(make_business(legal_name=name, location_line1=f"{name} St"), status=status)
    make_license(make_business(legal_name="Old Co", location_line1="3 Old St"), year=2025)
    rental = make_license(
        make_business(legal_name="Rentals LLC", location_line1="4 Old St"), code="RENT", units=10
    )
    run = RenewalRun.objects.create(year=2027, started_by=technician)
    run = renewal_run_execute(run=run, batch_size=2, issue_date=date(2026, 11, 2))
    assert run.status == RenewalRun.Status.SUCCEEDED
    assert (run.licenses_due, run.invoices_created, run.already_invoiced, run.skipped) == (
        6,
        6,
        0,
        0,
    )
    invoices = list(invoices_for(2027))
    assert [i.seq for i in invoices] == [1, 2, 3, 4, 5, 6]
    assert {i.license_id for i in invoices} == {
        *(lic.pk for lic in due),
        expired.pk,
        suspended.pk,
        rental.pk,
    }
    assert {(i.due_date, i.issue_date, i.status) for i in invoices} == {
        (date(2026, 12, 31), date(2026, 11, 2), "open")
    }
    by_license = {i.license_id: i for i in invoices}
    assert by_license[rental.pk].total == D("181.00")  # 10 units x $18 + $1 technology fee
    assert by_license[due[0].pk].total == D("213.93")  # 0 FTE
    lines = by_license[due[0].pk].lines.order_by("position")
    assert [(line.fee_code, line.amount, line.rule) for line in lines] == [
        ("BL-GEN", D("100.00"), "tier 0–24 FTE (0 FTE)"),  # noqa: RUF001
        ("BL-FIRE", D("112.93"), "flat fee"),
        ("BL-TECH", D("1.00"), "flat fee"),
    ]
    assert run.amount_invoiced == sum((i.total for i in invoices), D(0))
    index = PayerIndex.objects.get(ref=invoices[0].number)
    assert index.kind == "license" and index.is_active
    assert index.detail.startswith("Business license 2027 renewal (BL")
    # The bulk copy is in the history like any insert, with who ran it and why.
    events = apps.get_model("licensing", "LicenseInvoiceEvent").objects.filter(
        pgh_obj__in=invoices, pgh_label="insert"
    )
    assert events.count() == 6
    assert {tuple(sorted(e.pgh_context.metadata.items())) for e in events} == {
        (
            ("reason", "Renewals for 2027"),
            ("source", "renewal run"),
            ("user", technician.pk),
            ("username", "technician"),
        )
    }
    line_events = apps.get_model("licensing", "LicenseInvoiceLineEvent").objects
    ids = [i.pk for i in invoices]
    assert line_events.filter(invoice_id__in=ids).count() == 17  # the rental has no fire fee


@pytest.mark.django_db
def test_running_again_creates_nothing_twice(technician):
    population(4)
    first = renewal_run_execute(run=RenewalRun.objects.create(year=2027, started_by=technician))
    second = renewal_run_execute(run=RenewalRun.objects.create(year=2027, started_by=technician))
    assert (first.invoices_created, second.invoices_created) == (4, 0)
    assert (second.licenses_due, second.already_invoiced) == (4, 4)
    assert invoices_for(2027).count() == 4
    assert renewals_summary(year=2027).not_invoiced == 0


@pytest.mark.django_db
def test_fully_exempt_license_is_renewed_with_nothing_to_pay(technician):
    business = make_business(ownership_type="government", inside_city_limits=False)
    license = make_license(business)
    run = renewal_run_execute(run=RenewalRun.objects.create(year=2027, started_by=technician))
    assert run.renewed_without_fee == 1
    license.refresh_from_db()
    assert (license.status, license.license_year) == ("active", 2027)
    invoice = license.invoices.get(year=2027)
    assert (invoice.status, invoice.total) == ("paid", D("0.00"))
    assert not PayerIndex.objects.get(ref=invoice.number).is_active


@pytest.mark.django_db
def test_licenses_that_cannot_be_priced_are_skipped_and_reported(technician):
    population(1)
    LicenseType.objects.create(code="NOFEE", name="No schedule")
    business = make_business(legal_name="Unpriced", location_line1="1 Nowhere")
    unpriced = License.objects.create(
        number=999,
        business=business,
        license_type=LicenseType.objects.get(code="NOFEE"),
        status=S.ACTIVE,
        license_year=2026,
        issued_on=date(2026, 1, 1),
    )
    run = renewal_run_execute(run=RenewalRun.objects.create(year=2027, started_by=technician))
    assert (run.invoices_created, run.skipped) == (1, 1)
    assert f"{unpriced.display_number}: no fee schedule" in run.message


@pytest.mark.django_db
def test_a_crashed_run_is_resumed_where_it_stopped(technician, monkeypatch):
    population(6)
    real = renewals.compute_quote
    calls = {"n": 0}

    def crash_on_fifth(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:
            raise RuntimeError("worker killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(renewals, "compute_quote", crash_on_fifth)
    run = RenewalRun.objects.create(year=2027, started_by=technician)
    with pytest.raises(RuntimeError):
        renewal_run_execute(run=run, batch_size=2)
    run.refresh_from_db()
    assert run.status == RenewalRun.Status.FAILED
    assert run.message == "Failed: worker killed"
    assert (run.invoices_created, invoices_for(2027).count()) == (4, 4)  # two batches committed
    monkeypatch.setattr(renewals, "compute_quote", real)
    resumed = renewal_run_execute(run=run, batch_size=2)
    assert resumed.status == RenewalRun.Status.SUCCEEDED
    assert resumed.already_invoiced == 4
    assert [i.seq for i in invoices_for(2027)] == [1, 2, 3, 4, 5, 6]  # gapless: rollback spent none


@pytest.mark.django_db
def test_start_runs_in_the_background_with_progress(technician, django_capture_on_commit_callbacks):
    population(3)
    with override_settings(TASKS=IMMEDIATE_TASKS), django_capture_on_commit_callbacks(execute=True):
        run = renewal_run_start(year=2027, user=technician)
    run.refresh_from_db()
    job = Job.objects.get(pk=run.job_id)
    assert run.status == RenewalRun.Status.SUCCEEDED
    assert (job.status, job.progress_done, job.progress_total) == ("succeeded", 3, 3)
    assert job.message.startswith("3 invoices created")
    with pytest.raises(Exception, match="finished"):
        renewal_run_resume(run=run, user=technician)


@pytest.mark.django_db
def test_renewal_notice_context(technician):
    license = population(1)[0]
    renewal_run_execute(run=RenewalRun.objects.create(year=2027, started_by=technician))
    invoice = license.invoices.get(year=2027)
    context = renewal_notice_context(invoice)
    assert context["due_date"] == date(2026, 12, 31)
    assert context["lapse_date"] == date(2027, 4, 1)
    assert context["amount_due"] == D("213.93")
    assert context["mailing_lines"] == ["Renewal Test 0 LLC", "100 Central Ave N", "Kent WA 98032"]
    assert [(p["from"], p["amount"]) for p in context["projected_penalties"]] == [
        (date(2027, 1, 1), D("10.00")),
        (date(2027, 1, 31), D("10.00")),
        (date(2027, 3, 2), D("10.00")),
        (date(2027, 4, 1), D("10.00")),
        (date(2027, 5, 1), D("10.00")),
    ]


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_runs_invoice_each_license_exactly_once():
    defaults()
    user = make_user("renewal_runner")
    licenses = population(40)
    runs = [RenewalRun.objects.create(year=2027, started_by=user) for _ in range(2)]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def work(run: RenewalRun) -> None:
        try:
            barrier.wait()
            renewal_run_execute(run=run, batch_size=3)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(run,)) for run in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    invoices = list(invoices_for(2027))
    assert len(invoices) == len(licenses)
    assert len({i.license_id for i in invoices}) == len(licenses)
    assert [i.seq for i in invoices] == list(range(1, len(licenses) + 1))
    created = [RenewalRun.objects.get(pk=run.pk).invoices_created for run in runs]
    assert sum(created) == len(licenses)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT next_value FROM kent_cs_numberseries WHERE key = 'license-invoice-2027'"
        )
        assert cursor.fetchone()[0] == len(licenses) + 1
