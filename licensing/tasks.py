"""Background work for licensing, run by `manage.py run_worker`. Arguments are JSON."""

import os
import socket
from datetime import date

from django.contrib.auth import get_user_model
from django.tasks import task

from kent_cs.jobs import job_progress, job_running, job_succeed
from licensing.models import RenewalRun
from licensing.renewals import renewal_run_execute
from licensing.services.notices import notice_chunk_render
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
def renewal_notice_chunk_task(chunk_id: int, attempt: int) -> bool:
    """Render and store one chunk of a notice run (a no-op when the chunk is stored
    already or was handed out again under a newer attempt); True if it stored it."""
    worker = f"{socket.gethostname()}:{os.getpid()}"
    return notice_chunk_render(chunk_id=chunk_id, attempt=attempt, worker=worker).stored


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
