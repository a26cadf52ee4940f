"""Long jobs: a Job row with progress, run by the background worker, with a result file.

    job = job_start(kind="trial-balance-xlsx", title="Trial balance March 2026",
                    user=request.user, task=export_trial_balance, params={"period": 7})
    return redirect(job)                 # the job page polls its progress bar with htmx

    @task()
    def export_trial_balance(job_id: int) -> None:
        with job_running(job_id) as job:   # marks running; failed with a message on error
            job_progress(job, done=0, total=n)
            ...
            job_succeed(job, name="tb.xlsx", content_type=XLSX, data=payload)

Task arguments are JSON: the job id only; everything else is in `job.params`.
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from kent_cs.models import Job

logger = logging.getLogger(__name__)


def job_start(*, kind: str, title: str, user, task, params: dict | None = None) -> Job:
    """Create the job row and enqueue `task(job_id)` once the row is committed."""
    with transaction.atomic():
        job = Job.objects.create(kind=kind, title=title, created_by=user, params=params or {})

        def enqueue() -> None:
            result = task.enqueue(job.pk)
            Job.objects.filter(pk=job.pk).update(task_id=str(result.id))

        transaction.on_commit(enqueue)
    return job


@contextmanager
def job_running(job_id: int) -> Iterator[Job]:
    job = Job.objects.get(pk=job_id)
    now = timezone.now()
    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.RUNNING, started_at=now, progressed_at=now
    )
    job.status = Job.Status.RUNNING
    try:
        yield job
    except Exception as exc:
        logger.exception("Job %s (%s) failed", job.pk, job.kind)
        Job.objects.filter(pk=job.pk).update(
            status=Job.Status.FAILED,
            message=f"Failed: {exc}"[:300],
            finished_at=timezone.now(),
        )
        raise


def job_mark_running(job: Job) -> None:
    """Mark a queued job running, for work split over several tasks (the first one to
    start marks it; the others leave its start time alone)."""
    now = timezone.now()
    Job.objects.filter(pk=job.pk, status=Job.Status.QUEUED).update(
        status=Job.Status.RUNNING, started_at=now, progressed_at=now
    )


def job_fail(job: Job, *, message: str) -> None:
    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.FAILED, message=message[:300], finished_at=timezone.now()
    )


def job_progress(job: Job, *, done: int, total: int | None = None, message: str = "") -> None:
    """Record progress; committed at once so the progress bar sees it."""
    values: dict = {"progress_done": done, "progressed_at": timezone.now()}
    if total is not None:
        values["progress_total"] = total
        job.progress_total = total
    if message:
        values["message"] = message[:300]
    job.progress_done = done
    Job.objects.filter(pk=job.pk).update(**values)


def job_succeed(job: Job, *, name: str, content_type: str, data: bytes, message: str = "") -> None:
    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.SUCCEEDED,
        result_name=name,
        result_content_type=content_type,
        result_data=data,
        message=message[:300],
        progress_done=job.progress_total or job.progress_done,
        finished_at=timezone.now(),
    )


def job_get_for_user(*, user, pk: int) -> Job:
    """The job if the user started it (or may see all jobs); 404 otherwise."""
    from django.shortcuts import get_object_or_404

    jobs = Job.objects.defer("result_data")
    if not user.has_perm("kent_cs.view_all_jobs"):
        jobs = jobs.filter(created_by=user)
    return get_object_or_404(jobs, pk=pk)


def job_url(job: Job) -> str:
    return reverse("job-detail", args=[job.pk])
