"""Starting renewal notice runs and handing out again the chunks whose worker died.

The one place licensing enqueues notice chunks: one task per chunk, which any worker
takes (django_tasks_db claims each task with `SELECT ... FOR UPDATE SKIP LOCKED`, so
several worker processes take distinct tasks). The work itself is in
`licensing.services.notices`.

A chunk is stale, and is released under a new attempt, when:

- its claim is older than the lease (the worker died or hangs), or
- its task is gone: the task's result is missing, or it ended (failed, or finished
  without storing), or it runs on a worker whose heartbeat stopped.

Each worker's heartbeat thread sweeps every KENT_WORKER_RECOVER_SECONDS
(`LicensingConfig.worker_recover`). A run none of whose workers is left fails its job
once the job's lease expires (`kent_cs.jobs.jobs_recover`); the sweep then leaves it
alone, and the job page's Retry (`notice_run_retry`) hands out only the chunks not
stored: a stored chunk is never rendered or written again.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.tasks import TaskResultStatus
from django.tasks.exceptions import TaskResultDoesNotExist
from django.utils import timezone

from kent_cs.models import Job, WorkerHeartbeat
from licensing.documents import notice_invoices
from licensing.models import NoticeChunk, NoticeRun, RenewalRun
from licensing.services.notices import (
    NOTICE_CHUNK_LEASE,
    NOTICE_RUN_CHUNK_SIZE,
    notice_chunks_release,
    notice_chunks_unfinished_for_update,
    notice_run_create,
)
from licensing.tasks import renewal_notice_chunk_task


def notice_run_start(
    *,
    year: int,
    renewal_run: RenewalRun | None = None,
    user,
    chunk_size: int = NOTICE_RUN_CHUNK_SIZE,
) -> NoticeRun:
    """Start printing the notices of a year's unpaid renewal invoices (or one renewal
    run's): the invoices are fixed now, in mailing order, and their chunks are enqueued
    once this commits. Progress is chunks done of the total, on the run's job."""
    ids = list(notice_invoices(year=year, run=renewal_run).values_list("pk", flat=True))
    what = f"{year}, run #{renewal_run.pk}" if renewal_run is not None else f"{year}"
    title = f"Renewal notices for {what} ({len(ids):,} notice{'s' if len(ids) != 1 else ''}, PDF)"
    with transaction.atomic():
        run = notice_run_create(
            year=year,
            renewal_run=renewal_run,
            invoice_ids=ids,
            title=title,
            user=user,
            chunk_size=chunk_size,
        )
        chunks = list(run.chunk_set.defer("pdf").order_by("number"))
        transaction.on_commit(lambda: notice_chunks_enqueue(chunks))
    return run


def notice_runs_recover(*, now: datetime | None = None) -> int:
    """Release every stale chunk of an unfinished run and enqueue it again; the number
    enqueued."""
    now = now or timezone.now()
    with transaction.atomic():
        stale = [c for c in notice_chunks_unfinished_for_update() if _is_stale(c, now)]
        released = notice_chunks_release(chunks=stale, now=now)
        transaction.on_commit(lambda: notice_chunks_enqueue(released))
    return len(released)


def notice_run_retry(job: Job) -> int:
    """A person's Retry of a failed notices job (the job is locked and queued again by
    `kent_cs.jobs.job_retry`): every chunk not stored gets a new attempt and is enqueued
    after commit; the number enqueued. The chunks stored stay as they are."""
    run = NoticeRun.objects.get(job=job)
    chunks = notice_chunks_unfinished_for_update(run=run)
    released = notice_chunks_release(chunks=chunks, retry=True)
    transaction.on_commit(lambda: notice_chunks_enqueue(released))
    return len(released)


def notice_chunks_enqueue(chunks: Sequence[NoticeChunk]) -> None:
    """One task per chunk, for its current attempt (after the commit that made them)."""
    for chunk in chunks:
        result = renewal_notice_chunk_task.enqueue(chunk.pk, chunk.attempt)
        NoticeChunk.objects.filter(pk=chunk.pk, attempt=chunk.attempt, task_id="").update(
            task_id=str(result.id)[:64]
        )


def _is_stale(chunk: NoticeChunk, now: datetime) -> bool:
    if chunk.claimed_at is not None and chunk.claimed_at < now - NOTICE_CHUNK_LEASE:
        return True
    if not chunk.task_id:
        # Enqueued after its commit; no id this long after means the enqueue never happened.
        return chunk.enqueued_at < now - NOTICE_CHUNK_LEASE
    backend = renewal_notice_chunk_task.get_backend()
    if not backend.supports_get_result:
        return False  # only the lease can tell
    try:
        result = backend.get_result(chunk.task_id)
    except TaskResultDoesNotExist:
        return True
    if result.status in (TaskResultStatus.FAILED, TaskResultStatus.SUCCESSFUL):
        return True  # it ended without storing the chunk
    if result.status == TaskResultStatus.RUNNING and result.worker_ids:
        beat = (
            WorkerHeartbeat.objects.filter(worker_id=result.worker_ids[-1])
            .values_list("last_seen", flat=True)
            .first()
        )
        silent = timedelta(seconds=settings.WORKER_HEARTBEAT_STALE_SECONDS)
        return beat is not None and beat < now - silent
    return False
