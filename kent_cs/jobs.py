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

The watchdog. A running job holds a lease: its worker refreshes `heartbeat_at` at each
progress step and every WORKER_HEARTBEAT_SECONDS from its heartbeat thread (the jobs this
process holds, `job_lease`). A worker killed mid-job stops refreshing it; the sweep every
worker runs (`jobs_recover`) fails the job once the lease is older than
JOB_LEASE_SECONDS, saying where it stopped, and the job page offers Retry (`job_retry`):
the job's task again for the same job id (each job's task is written to be re-run: it
skips what is done), or, for a kind an app resumes itself, that app's `job_retry(job)`
hook (licensing re-enqueues only the notice chunks not stored).
"""

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.module_loading import import_string

from kent_cs.models import Job

logger = logging.getLogger(__name__)

# The worker id of this process (set by run_worker) and the jobs it holds, whose lease
# its heartbeat thread refreshes. Guarded by the lock: the task runs in the main thread,
# the heartbeat in another.
_lock = threading.Lock()
_held: set[int] = set()
_worker = {"id": ""}


class JobError(ValidationError):
    """A job cannot be retried (or started again) as asked."""


def worker_id_set(worker_id: str) -> None:
    _worker["id"] = worker_id


def worker_id_current() -> str:
    return _worker["id"]


@contextmanager
def job_lease(job_id: int) -> Iterator[None]:
    """Hold the job's lease while the block runs: taken now, refreshed by this process's
    heartbeat (`jobs_heartbeat`) until the block ends."""
    Job.objects.filter(pk=job_id).update(
        worker=worker_id_current()[:100], heartbeat_at=timezone.now()
    )
    with _lock:
        _held.add(job_id)
    try:
        yield
    finally:
        with _lock:
            _held.discard(job_id)


def jobs_heartbeat(*, worker_id: str, now: datetime | None = None) -> int:
    """Refresh the lease of the running jobs this process holds; the number refreshed."""
    with _lock:
        held = list(_held)
    if not held:
        return 0
    return Job.objects.filter(pk__in=held, status=Job.Status.RUNNING).update(
        heartbeat_at=now or timezone.now(), worker=worker_id[:100]
    )


def jobs_recover(*, now: datetime | None = None) -> list[int]:
    """Fail every running job whose lease expired (its worker stopped), with where it
    stopped; the ids failed. Run by every worker's heartbeat thread."""
    now = now or timezone.now()
    expired = now - timedelta(seconds=settings.JOB_LEASE_SECONDS)
    failed = []
    with transaction.atomic():
        # SKIP LOCKED: sweeps on several workers, or a worker storing progress, take turns.
        jobs = (
            Job.objects.select_for_update(skip_locked=True)
            .defer("result_data")
            .filter(status=Job.Status.RUNNING, heartbeat_at__lt=expired)
        )
        for job in jobs:
            stopped = timezone.localtime(job.heartbeat_at).strftime("%H:%M")
            at = _where(job)
            logger.error("Job %s (%s) lost its worker %s", job.pk, job.kind, job.worker)
            Job.objects.filter(pk=job.pk).update(
                status=Job.Status.FAILED,
                message=(
                    f"The worker running it stopped{at} at {stopped}. Retry carries on from there."
                )[:300],
                finished_at=now,
            )
            failed.append(job.pk)
    return failed


def _where(job: Job) -> str:
    return f" at {job.progress_done:,} of {job.progress_total:,}" if job.progress_total else ""


def job_error_message(job: Job, exc: BaseException) -> str:
    """What the person who started the job reads when it raised: the rule's own words
    for a refused input, else the kind of error and where it stopped (the traceback is
    in the worker's log, not on the page)."""
    at = _where(job)
    if isinstance(exc, ValidationError):
        return f"Failed{at}: {' '.join(exc.messages)}"
    if isinstance(exc, ValueError) and exc.__class__.__module__.startswith("kent_cs"):
        return f"Failed{at}: {exc}"
    return (
        f"Failed{at}: an unexpected error ({exc.__class__.__name__}) stopped it; "
        "the details are in the worker's log. Retry it, or tell the technician if it fails again."
    )


def job_start(*, kind: str, title: str, user, task, params: dict | None = None) -> Job:
    """Create the job row and enqueue `task(job_id)` once the row is committed."""
    with transaction.atomic():
        job = Job.objects.create(
            kind=kind,
            title=title,
            created_by=user,
            params=params or {},
            task_path=getattr(task, "module_path", "")[:200],
        )

        def enqueue() -> None:
            result = task.enqueue(job.pk)
            Job.objects.filter(pk=job.pk).update(task_id=str(result.id))

        transaction.on_commit(enqueue)
    return job


@contextmanager
def job_running(job_id: int) -> Iterator[Job]:
    job = Job.objects.defer("result_data").get(pk=job_id)
    now = timezone.now()
    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.RUNNING, started_at=now, progressed_at=now, finished_at=None
    )
    job.status = Job.Status.RUNNING
    try:
        with job_lease(job.pk):
            yield job
    except Exception as exc:
        logger.exception("Job %s (%s) failed", job.pk, job.kind)
        Job.objects.filter(pk=job.pk).update(
            status=Job.Status.FAILED,
            message=job_error_message(job, exc)[:300],
            finished_at=timezone.now(),
        )
        raise


def job_mark_running(job: Job) -> None:
    """Mark a queued job running, for work split over several tasks (the first one to
    start marks it; the others leave its start time alone but refresh its lease)."""
    now = timezone.now()
    Job.objects.filter(pk=job.pk, status=Job.Status.QUEUED).update(
        status=Job.Status.RUNNING, started_at=now, progressed_at=now
    )
    Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING).update(heartbeat_at=now)


def job_fail(job: Job, *, message: str) -> None:
    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.FAILED, message=message[:300], finished_at=timezone.now()
    )


def job_progress(job: Job, *, done: int, total: int | None = None, message: str = "") -> None:
    """Record progress; committed at once so the progress bar sees it."""
    now = timezone.now()
    values: dict = {"progress_done": done, "heartbeat_at": now, "progressed_at": now}
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


def job_retry(*, job: Job, user) -> Job:
    """Run a failed job again, for the person who started it or one who may see every
    job (the caller fetched it with `job_get_for_user`). The work resumes where the job's
    task or its app can: what is done is not done twice."""
    with transaction.atomic():
        # Locked: two Retry clicks (or a retry and a late sweep) take turns.
        locked = Job.objects.select_for_update().defer("result_data").get(pk=job.pk)
        if locked.status != Job.Status.FAILED:
            raise JobError("Only a failed job can be retried; this one is not failed.")
        Job.objects.filter(pk=locked.pk).update(
            status=Job.Status.QUEUED,
            message=f"Retried by {user.get_username()}"[:300],
            finished_at=None,
            heartbeat_at=None,
            worker="",
            attempts=locked.attempts + 1,
        )
        locked.status = Job.Status.QUEUED
        if not _app_retry(locked):
            if not locked.task_path:
                raise JobError("This job cannot be retried here; start it again from its page.")
            task = import_string(locked.task_path)

            def enqueue() -> None:
                result = task.enqueue(locked.pk)
                Job.objects.filter(pk=locked.pk).update(task_id=str(result.id))

            transaction.on_commit(enqueue)
    locked.refresh_from_db(fields=["status", "message", "attempts"])
    return locked


def job_retryable(job: Job) -> bool:
    """Whether the job page offers Retry."""
    if job.status != Job.Status.FAILED:
        return False
    return bool(job.task_path) or any(
        job.kind in getattr(config, "job_retry_kinds", ()) for config in apps.get_app_configs()
    )


def _app_retry(job: Job) -> bool:
    """Let the app that owns this kind of job resume it (True if one did)."""
    for config in apps.get_app_configs():
        if job.kind in getattr(config, "job_retry_kinds", ()):
            getattr(config, "job_retry")(job)  # noqa: B009 (a hook AppConfig does not declare)
            return True
    return False


def job_get_for_user(*, user, pk: int) -> Job:
    """The job if the user started it (or may see all jobs); 404 otherwise."""
    from django.shortcuts import get_object_or_404

    jobs = Job.objects.defer("result_data")
    if not user.has_perm("kent_cs.view_all_jobs"):
        jobs = jobs.filter(created_by=user)
    return get_object_or_404(jobs, pk=pk)


def job_url(job: Job) -> str:
    return reverse("job-detail", args=[job.pk])
