"""Background work for licensing, run by `manage.py run_worker`. Arguments are JSON."""

from datetime import date

from django.contrib.auth import get_user_model
from django.tasks import task

from kent_cs.jobs import job_progress, job_running, job_succeed
from kent_cs.reports import PDF_CONTENT_TYPE
from licensing.documents import notice_invoices, notices_filename, notices_pdf, notices_title
from licensing.models import RenewalRun
from licensing.renewals import renewal_run_execute
from licensing.services.penalties import penalties_assess


@task()
def renewal_run_task(job_id: int) -> None:
    """Generate the renewal invoices of `job.params["run"]`, reporting progress per batch."""
    with job_running(job_id) as job:
        run = RenewalRun.objects.select_related("started_by").get(pk=job.params["run"])

        def progress(done: int, total: int) -> None:
            job_progress(job, done=done, total=total, message=f"{done:,} of {total:,} licenses")

        run = renewal_run_execute(run=run, progress=progress)
        job_succeed(
            job,
            name=f"renewal-run-{run.year}.txt",
            content_type="text/plain; charset=utf-8",
            data=run.message.encode(),
            message=run.message,
        )


@task()
def penalties_assess_task(as_of: str, user_id: int | None = None) -> str:
    """The daily run (expiry, late penalties, lapse) as of an ISO date."""
    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    return penalties_assess(as_of=date.fromisoformat(as_of), user=user).summary


@task()
def renewal_notices_task(job_id: int) -> None:
    """One PDF of renewal notices, one per page, for `job.params`: a license year (and
    optionally one renewal run's invoices), reporting progress chunk by chunk."""
    with job_running(job_id) as job:
        year = job.params["year"]
        run = RenewalRun.objects.get(pk=job.params["run"]) if job.params.get("run") else None
        ids = list(notice_invoices(year=year, run=run).values_list("pk", flat=True))

        def progress(done: int, total: int) -> None:
            job_progress(job, done=done, total=total, message=f"{done:,} of {total:,} notices")

        data, pages = notices_pdf(ids, title=notices_title(year=year), progress=progress)
        job_succeed(
            job,
            name=notices_filename(year=year),
            content_type=PDF_CONTENT_TYPE,
            data=data,
            message=f"{len(ids):,} notices on {pages:,} pages",
        )


@task()
def penalties_assess_job_task(job_id: int) -> None:
    """The daily run (expiry, late penalties, lapse) started by hand, as of
    `job.params["as_of"]`, by the job's user."""
    with job_running(job_id) as job:
        as_of = date.fromisoformat(job.params["as_of"])
        job_progress(job, done=0, total=1, message="Expiring, adding late penalties, lapsing")
        result = penalties_assess(as_of=as_of, user=job.created_by)
        job_succeed(
            job,
            name=f"late-penalties-{as_of:%Y-%m-%d}.txt",
            content_type="text/plain; charset=utf-8",
            data=result.summary.encode(),
            message=result.summary,
        )
