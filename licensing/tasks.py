"""Background work for licensing, run by `manage.py run_worker`. Arguments are JSON."""

from datetime import date

from django.contrib.auth import get_user_model
from django.tasks import task

from kent_cs.jobs import job_progress, job_running, job_succeed
from licensing.models import RenewalRun


@task()
def renewal_run_task(job_id: int) -> None:
    """Generate the renewal invoices of `job.params["run"]`, reporting progress per batch."""
    from licensing.renewals import renewal_run_execute

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
    from licensing.penalties import penalties_assess

    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    return penalties_assess(as_of=date.fromisoformat(as_of), user=user).summary
