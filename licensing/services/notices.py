"""Renewal notice runs in chunks: the writes behind a print of notices that several
background workers share.

A run fixes its invoices, in mailing order, when it starts, and splits them into chunks
(`NoticeChunk`). Each chunk is one task: the worker that takes it claims it, renders its
notices to a PDF outside any transaction, and stores it; the store that completes the run
puts the result on the run's job (the PDF itself for one chunk, else a zip of the
chunks' PDFs in order). A chunk whose worker died is released (`notice_chunks_release`)
and handed out again under a new attempt; see `licensing.notice_runs`, which enqueues.
"""

import io
import logging
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from kent_cs.jobs import job_fail, job_lease, job_mark_running, job_progress, job_succeed
from kent_cs.models import Job
from kent_cs.reports import PDF_CONTENT_TYPE
from licensing.documents import NOTICES_JOB_KIND, notices_filename, notices_pdf, notices_title
from licensing.models import NoticeChunk, NoticeRun, RenewalRun
from licensing.services.common import LicensingError

logger = logging.getLogger(__name__)

# Notices per chunk. At some 7 pages a second per worker a chunk takes about 35 s: a
# city's 20,000 notices make 80 chunks, plenty for a few workers to share evenly, and a
# worker that dies loses well under a minute of work; a task's fixed costs (queue poll,
# stylesheets and fonts, the stored PDF) stay a small part of each chunk.
NOTICE_RUN_CHUNK_SIZE = 250
# A claim older than this is taken to be a dead or hung worker's, and its chunk is handed
# out again. Several times a chunk's render on a busy machine, so a slow render is not
# doubled; a worker that stops beating is noticed sooner (kent_cs.models.WorkerHeartbeat).
NOTICE_CHUNK_LEASE = timedelta(minutes=10)
# A chunk that failed this many times (a broken template, an invoice that cannot be
# shown) fails the run instead of being tried forever.
NOTICE_CHUNK_MAX_ATTEMPTS = 3
ZIP_CONTENT_TYPE = "application/zip"


@dataclass(frozen=True)
class ChunkOutcome:
    rendered: bool = False  # this call rendered the chunk
    stored: bool = False  # and its PDF was the one stored
    finished_run: bool = False  # and that completed the run


def notice_run_create(
    *,
    year: int,
    renewal_run: RenewalRun | None,
    invoice_ids: Sequence[int],
    title: str,
    user,
    chunk_size: int = NOTICE_RUN_CHUNK_SIZE,
) -> NoticeRun:
    """The run, its job and its chunks (none enqueued: `licensing.notice_runs` does that
    once this commits)."""
    if chunk_size < 1:
        raise ValueError("chunk_size must be positive")
    if not invoice_ids:
        raise LicensingError(
            f"No unpaid {year} renewal invoices: there is no notice to print.", code="no_notices"
        )
    chunks = [invoice_ids[i : i + chunk_size] for i in range(0, len(invoice_ids), chunk_size)]
    now = timezone.now()
    with transaction.atomic():
        job = Job.objects.create(
            kind=NOTICES_JOB_KIND,
            title=title,
            created_by=user,
            params={"year": year, "run": renewal_run.pk if renewal_run else None},
            progress_total=len(chunks),
            message=f"0 of {len(chunks):,} chunks",
        )
        run = NoticeRun.objects.create(
            year=year,
            renewal_run=renewal_run,
            job=job,
            chunk_size=chunk_size,
            notices=len(invoice_ids),
            chunks=len(chunks),
            started_by=user,
        )
        job.params["notice_run"] = run.pk
        job.save(update_fields=["params"])
        NoticeChunk.objects.bulk_create(
            NoticeChunk(run=run, number=number, invoice_ids=list(ids), enqueued_at=now)
            for number, ids in enumerate(chunks, start=1)
        )
    return run


def notice_chunk_claim(*, chunk_id: int, attempt: int, worker: str) -> NoticeChunk | None:
    """Take the chunk for this attempt; None when there is nothing for this task to do:
    the chunk is stored already (a re-run is a no-op), was handed out again under a
    newer attempt, or another worker holds this attempt."""
    with transaction.atomic():
        # Locked so that a recovery sweep releasing the chunk and a worker claiming it
        # take turns: the claim sees the attempt the sweep left.
        chunk = (
            NoticeChunk.objects.select_for_update()
            .select_related("run")
            .defer("pdf")
            .filter(pk=chunk_id)
            .first()
        )
        if chunk is None or chunk.finished_at is not None:
            return None
        if chunk.attempt != attempt or chunk.claimed_at is not None:
            return None
        if Job.objects.filter(pk=chunk.run.job_id, status=Job.Status.FAILED).exists():
            return None  # the run stopped; a person's Retry hands its chunks out again
        chunk.claimed_at = timezone.now()
        chunk.claimed_by = worker[:100]
        chunk.save(update_fields=["claimed_at", "claimed_by"])
        job_mark_running(Job(pk=chunk.run.job_id))
    return chunk


def notice_chunk_store(*, chunk: NoticeChunk, pdf: bytes, pages: int) -> ChunkOutcome:
    """Store a rendered chunk unless it is stored already; the store that completes the
    run writes the run's result to its job, in the same transaction."""
    with transaction.atomic():
        # The run's row is the turnstile for its chunks' stores: without it, the last two
        # chunks finishing together could each count the other as unfinished, and nobody
        # would write the result.
        run = NoticeRun.objects.select_for_update().select_related("job").get(pk=chunk.run_id)
        stored = NoticeChunk.objects.filter(pk=chunk.pk, finished_at__isnull=True).update(
            pdf=pdf, pages=pages, finished_at=timezone.now()
        )
        if not stored:
            return ChunkOutcome(rendered=True)
        done = run.chunk_set.filter(finished_at__isnull=False).count()
        if done < run.chunks:
            job_progress(run.job, done=done, total=run.chunks, message=_progress(run, done))
            return ChunkOutcome(rendered=True, stored=True)
        _notice_run_finish(run)
    return ChunkOutcome(rendered=True, stored=True, finished_run=True)


def notice_chunk_render(*, chunk_id: int, attempt: int, worker: str) -> ChunkOutcome:
    """What a chunk's task does: claim, render (outside any transaction: a chunk takes
    tens of seconds), store."""
    chunk = notice_chunk_claim(chunk_id=chunk_id, attempt=attempt, worker=worker)
    if chunk is None:
        return ChunkOutcome()
    # The run's job lease is held while this chunk renders (the worker's heartbeat
    # refreshes it), so a run whose every worker died is failed by the job watchdog.
    with job_lease(chunk.run.job_id):
        data, pages = notices_pdf(chunk.invoice_ids, title=notices_title(year=chunk.run.year))
        return notice_chunk_store(chunk=chunk, pdf=data, pages=pages)


def notice_chunks_release(
    *, chunks: Sequence[NoticeChunk], now: datetime | None = None, retry: bool = False
) -> list[NoticeChunk]:
    """Hand chunks whose worker died out again: a new attempt, unclaimed (the run's job
    lease is renewed: its work is handed out, not lost). Chunks that used up their
    attempts fail their run's job instead, unless this is a person's retry. The caller
    holds the chunks' locks and enqueues the returned ones after commit."""
    now = now or timezone.now()
    released = []
    for chunk in chunks:
        if chunk.attempt >= NOTICE_CHUNK_MAX_ATTEMPTS and not retry:
            job = Job.objects.filter(pk=chunk.run.job_id).exclude(status=Job.Status.FAILED)
            if job.exists():
                logger.error("Renewal notices chunk %s failed %s times", chunk.pk, chunk.attempt)
                job_fail(
                    Job(pk=chunk.run.job_id),
                    message=(
                        f"Failed: chunk {chunk.number} of {chunk.run.chunks} could not be "
                        f"rendered in {chunk.attempt} attempts; start the notices again."
                    ),
                )
            continue
        chunk.attempt += 1
        chunk.claimed_at = None
        chunk.claimed_by = ""
        chunk.task_id = ""
        chunk.enqueued_at = now
        chunk.save(update_fields=["attempt", "claimed_at", "claimed_by", "task_id", "enqueued_at"])
        Job.objects.filter(pk=chunk.run.job_id, status=Job.Status.RUNNING).update(heartbeat_at=now)
        released.append(chunk)
    return released


def notice_chunks_unfinished_for_update(*, run: NoticeRun | None = None) -> list[NoticeChunk]:
    """The unfinished chunks of unfinished runs (or of one run), locked; for the sweep,
    rows another sweep (or a worker claiming or storing) holds are skipped, so sweeps on
    several workers do not release a chunk twice. A run whose job failed waits for a person's
    Retry (`notice_run_retry`), so the sweep leaves its chunks alone."""
    chunks = NoticeChunk.objects.filter(finished_at__isnull=True, run__finished_at__isnull=True)
    if run is not None:
        # A retry waits for a worker claiming one of them: that claim, seeing the job
        # failed, leaves the chunk for the retry to hand out.
        chunks = chunks.select_for_update(of=("self",)).filter(run=run)
    else:
        chunks = chunks.select_for_update(skip_locked=True, of=("self",))
        chunks = chunks.exclude(run__job__status=Job.Status.FAILED)
    return list(chunks.select_related("run").defer("pdf").order_by("run_id", "number"))


def _progress(run: NoticeRun, done: int) -> str:
    return f"{done:,} of {run.chunks:,} chunks of {run.chunk_size:,} notices"


def _stored(pdf: bytes | memoryview | None) -> bytes:
    # A finished chunk has its PDF (the notice_chunk_pdf_when_finished constraint).
    assert pdf is not None
    return bytes(pdf)


def _notice_run_finish(run: NoticeRun) -> None:
    """Every chunk is stored: the result goes on the job. One chunk is the PDF itself;
    several are a zip of their PDFs, named so that they sort in mailing order."""
    pages = 0
    chunks = run.chunk_set.order_by("number").values_list("number", "pages", "pdf")
    if run.chunks == 1:
        _number, pages, pdf = chunks.get()
        data, name, content_type = _stored(pdf), notices_filename(year=run.year), PDF_CONTENT_TYPE
        message = f"{run.notices:,} notices on {pages:,} pages"
    else:
        stem = notices_filename(year=run.year).removesuffix(".pdf")
        width = len(str(run.chunks))
        buffer = io.BytesIO()
        # Stored, not deflated: a PDF's streams are compressed already.
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
            for number, chunk_pages, pdf in chunks.iterator(chunk_size=4):
                archive.writestr(f"{stem}-{number:0{width}d}-of-{run.chunks}.pdf", _stored(pdf))
                pages += chunk_pages
        data, name, content_type = buffer.getvalue(), f"{stem}.zip", ZIP_CONTENT_TYPE
        message = f"{run.notices:,} notices on {pages:,} pages, in {run.chunks:,} PDFs"
    job = run.job
    job.progress_total = run.chunks
    job_succeed(job, name=name, content_type=content_type, data=data, message=message)
    NoticeRun.objects.filter(pk=run.pk).update(finished_at=timezone.now())
