"""Renewal notices in chunks that several workers render: each chunk stored once, the
result assembled in mailing order, and a chunk whose worker died handed out again.

Tasks go to the database queue as in production (django_tasks_db); the tests play the
workers by calling the queued tasks."""

import io
import os
import subprocess
import sys
import threading
import zipfile
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.db import IntegrityError, connections, transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from kent_cs.management.commands.run_worker import recover_work
from kent_cs.models import Job, WorkerHeartbeat
from licensing.documents import notice_invoices, notices_pdf
from licensing.models import LicenseInvoice, NoticeChunk, NoticeRun
from licensing.notice_runs import notice_run_start, notice_runs_recover
from licensing.renewals import renewal_invoice_create
from licensing.services.notices import (
    NOTICE_CHUNK_LEASE,
    NOTICE_CHUNK_MAX_ATTEMPTS,
    notice_chunk_claim,
    notice_chunk_store,
)
from licensing.tasks import renewal_notice_chunk_task
from tests.licensing.factories import make_business, make_license
from tests.licensing.views_support import pdf_bookmarks, pdf_page_count

pytestmark = pytest.mark.django_db
DATABASE_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


@pytest.fixture(autouse=True)
def _database_tasks(settings):
    settings.TASKS = DATABASE_TASKS


@pytest.fixture
def invoices(technician) -> list[LicenseInvoice]:
    """Five unpaid 2027 renewal invoices; names out of pk order, so mailing order (by
    business name) differs from the order they were made in."""
    for index, name in enumerate(["Evergreen", "Cedar", "Alder", "Douglas Fir", "Birch"]):
        business = make_business(
            legal_name=f"{name} Hardware LLC",
            location_line1=f"{300 + index} Central Ave S",
            fte_employees=Decimal(index * 10),
        )
        license = make_license(business, year=2026)
        renewal_invoice_create(license=license, year=2027, user=technician)
    return list(notice_invoices(year=2027))


def start(user, capture, *, chunk_size: int) -> NoticeRun:
    with capture(execute=True):
        return notice_run_start(year=2027, user=user, chunk_size=chunk_size)


def queued(run: NoticeRun) -> list[tuple[int, int]]:
    """(chunk id, attempt) of every queued chunk task of the run, oldest first."""
    chunk_ids = set(run.chunk_set.values_list("pk", flat=True))
    tasks = DBTaskResult.objects.ready().order_by("enqueued_at")
    return [
        tuple(t.args_kwargs["args"])
        for t in tasks
        if t.task_path.endswith("renewal_notice_chunk_task")
        and t.args_kwargs["args"][0] in chunk_ids
    ]


def work(chunk_id: int, attempt: int) -> bool:
    """What a worker does with a queued chunk task (django_tasks_db calls the task)."""
    result = DBTaskResult.objects.get(args_kwargs__args=[chunk_id, attempt], status="READY")
    result.claim("test-worker")
    stored = renewal_notice_chunk_task.call(chunk_id, attempt)
    result.set_successful(stored)
    return stored


def zipped_pdfs(job: Job) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(bytes(job.result_data))) as archive:
        return [(name, archive.read(name)) for name in archive.namelist()]


def notice_numbers(pdfs: list[bytes]) -> list[str]:
    """The invoice numbers of the notices, from the PDFs' outlines, in order."""
    prefix = "Renewal notice "
    titles = [t for pdf in pdfs for t in pdf_bookmarks(pdf)]
    return [t.removeprefix(prefix) for t in titles if t.startswith(prefix)]


def test_a_run_is_split_into_chunks_assembled_in_mailing_order(
    technician, invoices, django_capture_on_commit_callbacks
):
    run = start(technician, django_capture_on_commit_callbacks, chunk_size=2)
    assert (run.notices, run.chunks) == (5, 3)
    chunks = list(run.chunk_set.order_by("number"))
    assert [c.invoice_ids for c in chunks] == [
        [invoices[0].pk, invoices[1].pk],
        [invoices[2].pk, invoices[3].pk],
        [invoices[4].pk],
    ]
    assert [i.business.legal_name for i in invoices][:2] == [
        "Alder Hardware LLC",
        "Birch Hardware LLC",
    ]
    tasks = queued(run)
    assert tasks == [(c.pk, 1) for c in chunks]
    assert all(c.task_id for c in NoticeChunk.objects.filter(run=run))

    # Workers take the tasks in any order; progress counts chunks.
    assert work(*tasks[2]) is True
    job = Job.objects.get(pk=run.job_id)
    assert (job.status, job.progress_done, job.progress_total) == ("running", 1, 3)
    assert job.message == "1 of 3 chunks of 2 notices"
    work(*tasks[0])
    work(*tasks[1])

    job.refresh_from_db()
    assert job.status == "succeeded", job.message
    assert (job.progress_done, job.progress_total) == (3, 3)
    assert (job.result_name, job.result_content_type) == (
        "renewal-notices-2027.zip",
        "application/zip",
    )
    assert job.message == "5 notices on 5 pages, in 3 PDFs"
    pdfs = zipped_pdfs(job)
    assert [name for name, _ in pdfs] == [
        "renewal-notices-2027-1-of-3.pdf",
        "renewal-notices-2027-2-of-3.pdf",
        "renewal-notices-2027-3-of-3.pdf",
    ]
    assert [pdf_page_count(pdf) for _, pdf in pdfs] == [2, 2, 1]
    assert notice_numbers([pdf for _, pdf in pdfs]) == [i.number for i in invoices]
    run.refresh_from_db()
    assert run.finished_at is not None


def test_a_dead_workers_chunk_is_rendered_again_each_notice_once_in_order(
    technician, invoices, django_capture_on_commit_callbacks
):
    run = start(technician, django_capture_on_commit_callbacks, chunk_size=2)
    first, second, third = queued(run)

    # Worker A takes the second chunk and dies (long ago) without storing it.
    dead = notice_chunk_claim(chunk_id=second[0], attempt=1, worker="node-a:4242")
    assert dead is not None
    DBTaskResult.objects.filter(args_kwargs__args=list(second)).update(
        status="RUNNING", worker_ids=["node-a-4242-abc123"]
    )
    NoticeChunk.objects.filter(pk=dead.pk).update(claimed_at=timezone.now() - timedelta(hours=1))

    # Worker B does the rest; the run waits for the dead worker's chunk.
    work(*first)
    work(*third)
    job = Job.objects.get(pk=run.job_id)
    assert (job.status, job.progress_done) == ("running", 2)
    # A second delivery of the claimed attempt does nothing.
    assert renewal_notice_chunk_task.call(*second) is False

    # A sweep hands the stale chunk out again under a new attempt...
    with django_capture_on_commit_callbacks(execute=True):
        assert notice_runs_recover() == 1
    chunk = NoticeChunk.objects.get(pk=dead.pk)
    assert (chunk.attempt, chunk.claimed_at, chunk.finished_at) == (2, None, None)
    assert queued(run) == [(dead.pk, 2)]
    assert chunk.task_id == str(DBTaskResult.objects.get(args_kwargs__args=[dead.pk, 2]).id)
    # ...which another worker takes and finishes the run with.
    assert work(dead.pk, 2) is True
    job.refresh_from_db()
    assert job.status == "succeeded", job.message
    pdfs = [pdf for _, pdf in zipped_pdfs(job)]
    numbers = notice_numbers(pdfs)
    assert numbers == [i.number for i in invoices]
    assert len(set(numbers)) == len(invoices) == sum(pdf_page_count(p) for p in pdfs)
    result = bytes(job.result_data)

    # Worker A was only slow: its late store is refused; re-running any chunk is a no-op.
    outcome = notice_chunk_store(chunk=dead, pdf=b"%PDF-late", pages=2)
    assert (outcome.rendered, outcome.stored) == (True, False)
    assert renewal_notice_chunk_task.call(dead.pk, 2) is False
    assert renewal_notice_chunk_task.call(*first) is False
    with django_capture_on_commit_callbacks(execute=True):
        assert notice_runs_recover() == 0
    job.refresh_from_db()
    assert bytes(job.result_data) == result
    assert NoticeChunk.objects.filter(run=run).count() == 3
    assert not queued(run)


def test_a_chunk_whose_task_is_gone_is_handed_out_again(
    technician, invoices, django_capture_on_commit_callbacks
):
    run = start(technician, django_capture_on_commit_callbacks, chunk_size=1)
    chunks = list(run.chunk_set.order_by("number"))
    assert len(chunks) == 5
    now = timezone.now()
    WorkerHeartbeat.objects.create(
        worker_id="live", hostname="n1", pid=1, started_at=now, last_seen=now
    )
    WorkerHeartbeat.objects.create(
        worker_id="silent",
        hostname="n2",
        pid=2,
        started_at=now - timedelta(hours=1),
        last_seen=now - timedelta(minutes=5),
    )
    # 1: still queued. 2: running on a live worker, claimed just now. 3: running on a
    # worker that stopped beating. 4: its task failed. 5: its task result was deleted.
    for chunk, status, worker in [
        (chunks[1], "RUNNING", "live"),
        (chunks[2], "RUNNING", "silent"),
        (chunks[3], "FAILED", "live"),
    ]:
        notice_chunk_claim(chunk_id=chunk.pk, attempt=1, worker=worker)
        DBTaskResult.objects.filter(id=chunk.task_id).update(status=status, worker_ids=[worker])
    DBTaskResult.objects.filter(id=chunks[4].task_id).delete()

    with django_capture_on_commit_callbacks(execute=True):
        assert notice_runs_recover() == 3
    attempts = dict(NoticeChunk.objects.filter(run=run).values_list("number", "attempt"))
    assert attempts == {1: 1, 2: 1, 3: 2, 4: 2, 5: 2}
    assert sorted(queued(run)) == sorted(
        [(chunks[0].pk, 1), (chunks[2].pk, 2), (chunks[3].pk, 2), (chunks[4].pk, 2)]
    )


def test_a_chunk_that_keeps_failing_fails_the_run(
    technician, invoices, django_capture_on_commit_callbacks
):
    run = start(technician, django_capture_on_commit_callbacks, chunk_size=5)
    chunk = run.chunk_set.get()
    NoticeChunk.objects.filter(pk=chunk.pk).update(attempt=NOTICE_CHUNK_MAX_ATTEMPTS)
    DBTaskResult.objects.filter(id=chunk.task_id).update(status="FAILED")
    with django_capture_on_commit_callbacks(execute=True):
        assert notice_runs_recover() == 0
    job = Job.objects.get(pk=run.job_id)
    assert job.status == "failed"
    assert job.message == (
        "Failed: chunk 1 of 1 could not be rendered in 3 attempts; start the notices again."
    )


def test_one_chunk_is_the_pdf_itself(technician, invoices, django_capture_on_commit_callbacks):
    run = start(technician, django_capture_on_commit_callbacks, chunk_size=250)
    [task] = queued(run)
    work(*task)
    job = Job.objects.get(pk=run.job_id)
    assert (job.result_name, job.result_content_type) == (
        "renewal-notices-2027.pdf",
        "application/pdf",
    )
    assert job.message == "5 notices on 5 pages"
    assert notice_numbers([bytes(job.result_data)]) == [i.number for i in invoices]


def test_a_chunk_number_is_stored_once_per_run(
    technician, invoices, django_capture_on_commit_callbacks
):
    run = start(technician, django_capture_on_commit_callbacks, chunk_size=5)
    with pytest.raises(IntegrityError), transaction.atomic():
        NoticeChunk.objects.create(
            run=run, number=1, invoice_ids=[invoices[0].pk], enqueued_at=timezone.now()
        )
    assert NoticeChunk.objects.filter(run=run).count() == 1


def test_the_workers_sweep_hands_out_a_dead_workers_chunk(
    technician, invoices, django_capture_on_commit_callbacks
):
    """What each worker's heartbeat thread calls once a minute (run_worker)."""
    run = start(technician, django_capture_on_commit_callbacks, chunk_size=5)
    [(chunk_id, attempt)] = queued(run)
    notice_chunk_claim(chunk_id=chunk_id, attempt=attempt, worker="gone:1")
    DBTaskResult.objects.filter(args_kwargs__args=[chunk_id, 1]).update(status="RUNNING")
    past_lease = timezone.now() - NOTICE_CHUNK_LEASE - timedelta(seconds=1)
    NoticeChunk.objects.filter(pk=chunk_id).update(claimed_at=past_lease)
    with django_capture_on_commit_callbacks(execute=True):
        recover_work()
    assert queued(run) == [(chunk_id, 2)]
    assert work(chunk_id, 2) is True
    assert Job.objects.get(pk=run.job_id).status == "succeeded"


@pytest.mark.django_db(transaction=True)
def test_two_workers_storing_the_last_chunks_at_once_finish_the_run_once(technician, invoices):
    run = notice_run_start(year=2027, user=technician, chunk_size=2)  # enqueued at commit
    first, second, third = queued(run)
    work(*first)
    rendered = []
    for chunk_id, attempt in (second, third):
        chunk = notice_chunk_claim(chunk_id=chunk_id, attempt=attempt, worker="w")
        assert chunk is not None
        rendered.append((chunk, *notices_pdf(chunk.invoice_ids, title="Notices")))
    barrier = threading.Barrier(2)
    outcomes = []

    def store(chunk, pdf, pages) -> None:
        try:
            barrier.wait(timeout=10)
            outcomes.append(notice_chunk_store(chunk=chunk, pdf=pdf, pages=pages))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=store, args=args) for args in rendered]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(o.finished_run for o in outcomes) == [False, True]
    assert all(o.stored for o in outcomes)
    job = Job.objects.get(pk=run.job_id)
    assert (job.status, job.progress_done) == ("succeeded", 3)
    assert notice_numbers([pdf for _, pdf in zipped_pdfs(job)]) == [i.number for i in invoices]


@pytest.mark.django_db(transaction=True)
def test_run_worker_starts_several_workers_that_share_the_chunks(technician, invoices):
    """`manage.py run_worker --processes 2 --batch`, as real processes on this database:
    two workers start (a heartbeat each), take the queued chunks between them and finish
    the run with every notice once, in order."""
    run = notice_run_start(year=2027, user=technician, chunk_size=1)  # enqueued at commit
    assert len(queued(run)) == 5
    database = connections["default"].settings_dict
    url = f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
    env = {**os.environ, "DATABASE_URL": url}
    if database["PASSWORD"]:
        env["PGPASSWORD"] = database["PASSWORD"]
    manage = Path(settings.BASE_DIR) / "manage.py"
    connections.close_all()
    finished = subprocess.run(
        [sys.executable, str(manage), "run_worker", "--processes", "2", "--batch"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert "Started 2 workers" in finished.stdout
    assert WorkerHeartbeat.objects.count() == 2
    job = Job.objects.get(pk=run.job_id)
    assert job.status == "succeeded", job.message
    assert notice_numbers([pdf for _, pdf in zipped_pdfs(job)]) == [i.number for i in invoices]
    claimed = set(NoticeChunk.objects.filter(run=run).values_list("claimed_by", flat=True))
    pids = {f":{pid}" for pid in WorkerHeartbeat.objects.values_list("pid", flat=True)}
    assert all(any(c.endswith(pid) for pid in pids) for c in claimed)
