"""The job watchdog and a worker that stays up.

A running job holds a lease its worker refreshes; a worker that dies stops refreshing it,
and the sweep every worker runs fails the job with where it stopped. Retry runs it again
without writing twice what was written. The worker reconnects when its database
connection is terminated, the supervisor restarts a worker that exits, and /healthz
says so when no worker is beating.

The process tests start real `manage.py run_worker` processes on the test database with
short timings (a 1-second heartbeat and sweep, a 3-second lease) and poll with a
deadline."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, connections
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from kent_cs.jobs import job_error_message, job_retry, jobs_recover
from kent_cs.management.commands.run_worker import backoff
from kent_cs.models import Job, WorkerHeartbeat
from licensing.documents import notice_invoices
from licensing.models import (
    License,
    LicenseInvoice,
    LicenseType,
    NoticeChunk,
    NoticeRun,
    RenewalRun,
)
from licensing.notice_runs import notice_run_start
from licensing.renewal_runs import renewal_run_start
from licensing.renewals import renewal_invoice_create
from tests.licensing.factories import defaults, make_business, make_license

DATABASE_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
FAST = {
    "KENT_WORKER_HEARTBEAT_SECONDS": "1",
    "KENT_WORKER_RECOVER_SECONDS": "1",
    "KENT_JOB_LEASE_SECONDS": "3",
    # Longer than the lease: the chunk sweep does not hand the dead worker's chunk out
    # before the job watchdog has failed the job (what a run with no worker left sees).
    "KENT_WORKER_STALE_SECONDS": "30",
}


@pytest.fixture(autouse=True)
def _database_tasks(settings):
    settings.TASKS = DATABASE_TASKS


@pytest.fixture(autouse=True)
def _licensing_defaults(request):
    """Kent's license types, which a previous `transaction=True` test truncated away."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None:
        return
    request.getfixturevalue("transactional_db" if marker.kwargs.get("transaction") else "db")
    if not LicenseType.objects.exists():
        defaults()


def make_invoices(user, count: int) -> list[LicenseInvoice]:
    for index in range(count):
        business = make_business(
            legal_name=f"Watchdog Supply {index:02d} LLC",
            location_line1=f"{400 + index} Central Ave S",
            fte_employees=Decimal(5),
        )
        license = make_license(business, year=2026)
        renewal_invoice_create(license=license, year=2027, user=user)
    return list(notice_invoices(year=2027))


def wait_for(what: str, check: Callable[[], object], *, seconds: float = 60) -> object:
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what}: not within {seconds:.0f} s"
        time.sleep(0.05)


def run_worker(*args: str, log: Path, extra_env: dict | None = None) -> subprocess.Popen:
    """A real `manage.py run_worker` on the test database, with the short timings."""
    database = connections["default"].settings_dict
    url = f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
    env = {**os.environ, "DATABASE_URL": url, **FAST, **(extra_env or {})}
    if database["PASSWORD"]:
        env["PGPASSWORD"] = database["PASSWORD"]
    manage = Path(settings.BASE_DIR) / "manage.py"
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, str(manage), "run_worker", *args, "--interval", "0.1"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


@contextmanager
def outside_connection() -> Iterator[psycopg.Connection]:
    """A connection to the maintenance database, from which the test database can be
    closed to new connections (as during a restart) and opened again."""
    database = connections["default"].settings_dict
    with psycopg.connect(
        host=database["HOST"],
        port=database["PORT"],
        user=database["USER"],
        password=database["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    ) as outside:
        yield outside


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def work_queued() -> int:
    """What a worker does with each queued task (django_tasks_db's own task runner, in
    this test's transaction); the number run."""
    worker = Worker(
        queue_names=["default"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="test-worker",
        excluded_queue_names=[],
    )
    ran = 0
    while (task := DBTaskResult.objects.ready().order_by("enqueued_at").first()) is not None:
        task.claim(worker.worker_id)
        worker.run_task(task)
        ran += 1
    return ran


def job_state(pk: int) -> Job:
    return Job.objects.defer("result_data").get(pk=pk)


# --- the lease and the sweep -------------------------------------------------------------


@pytest.mark.django_db
def test_a_job_whose_lease_expired_is_failed_with_where_it_stopped(technician, settings):
    settings.JOB_LEASE_SECONDS = 30
    now = timezone.now()
    stopped = now - timedelta(seconds=31)
    lost = Job.objects.create(
        kind="test",
        title="Renewal notices",
        created_by=technician,
        status=Job.Status.RUNNING,
        progress_done=50,
        progress_total=268,
        worker="web1-4242-abcdef",
        heartbeat_at=stopped,
    )
    alive = Job.objects.create(
        kind="test",
        title="Trial balance",
        created_by=technician,
        status=Job.Status.RUNNING,
        heartbeat_at=now - timedelta(seconds=5),
    )
    assert jobs_recover(now=now) == [lost.pk]
    lost.refresh_from_db()
    alive.refresh_from_db()
    at = timezone.localtime(stopped).strftime("%H:%M")
    assert lost.status == "failed"
    assert lost.message == (
        f"The worker running it stopped at 50 of 268 at {at}. Retry carries on from there."
    )
    assert lost.finished_at == now
    assert alive.status == "running"
    assert jobs_recover(now=now) == []  # a second sweep changes nothing


def test_the_message_for_an_error_is_the_rules_words_or_a_plain_sentence():
    job = Job(progress_done=3, progress_total=10)
    refused = ValidationError("No fee schedule is in effect for Rental housing on 2027-01-01.")
    assert job_error_message(job, refused) == (
        "Failed at 3 of 10: No fee schedule is in effect for Rental housing on 2027-01-01."
    )
    assert job_error_message(job, KeyError("run")) == (
        "Failed at 3 of 10: an unexpected error (KeyError) stopped it; the details are in "
        "the worker's log. Retry it, or tell the technician if it fails again."
    )


def test_the_restart_backoff_doubles_to_thirty_seconds():
    assert [backoff(n) for n in (1, 2, 3, 4, 5, 6, 7)] == [1, 2, 4, 8, 16, 30, 30]


# --- the job page: the error, and Retry --------------------------------------------------


@pytest.mark.django_db
def test_a_failed_job_shows_its_reason_and_retry_to_its_starter(client, technician):
    job = Job.objects.create(
        kind="test",
        title="Renewal invoices for 2027",
        created_by=technician,
        status=Job.Status.FAILED,
        progress_done=50,
        progress_total=268,
        message="The worker running it stopped at 50 of 268 at 09:15. Retry carries on from there.",
        task_path="licensing.tasks.renewal_run_task",
    )
    client.force_login(technician)
    page = client.get(reverse("job-detail", args=[job.pk])).content.decode()
    assert "The worker running it stopped at 50 of 268 at 09:15." in page
    assert 'class="alert alert-danger' in page
    assert f'action="{reverse("job-retry", args=[job.pk])}"' in page
    assert ">Retry</button>" in page
    assert "Traceback" not in page


@pytest.mark.django_db
def test_a_job_that_raises_shows_the_error_on_its_page(
    client, technician, django_capture_on_commit_callbacks
):
    """A renewal run whose run row is gone raises inside the task: the job says so in a
    sentence, and the page shows it with Retry."""
    with django_capture_on_commit_callbacks(execute=True):
        run = renewal_run_start(year=2027, user=technician)
    job_pk = run.job_id
    RenewalRun.objects.filter(pk=run.pk).update(job=None)
    Job.objects.filter(pk=job_pk).update(params={"run": 0})
    work_queued()
    job = job_state(job_pk)
    assert job.status == "failed"
    assert job.message.startswith("Failed: an unexpected error (DoesNotExist) stopped it;")
    client.force_login(technician)
    page = client.get(reverse("job-detail", args=[job_pk])).content.decode()
    assert "an unexpected error (DoesNotExist) stopped it" in page
    assert ">Retry</button>" in page


@pytest.mark.django_db
def test_retrying_a_renewal_run_invoices_only_the_licenses_still_due(
    client, technician, supervisor, django_capture_on_commit_callbacks
):
    """The run's worker died after invoicing two of five licenses: the sweep fails the job
    (and the run), a supervisor retries it, and each license ends with one invoice."""
    for index in range(5):
        make_license(make_business(legal_name=f"Retry Tools {index} LLC"), year=2026)
    with django_capture_on_commit_callbacks(execute=True):
        run = renewal_run_start(year=2027, user=technician)
    DBTaskResult.objects.get().claim("web1-4242-abcdef")  # the worker that then died
    first_two = License.objects.order_by("pk")[:2]
    for license in first_two:
        renewal_invoice_create(license=license, year=2027, user=technician)
    past = timezone.now() - timedelta(seconds=settings.JOB_LEASE_SECONDS + 1)
    Job.objects.filter(pk=run.job_id).update(
        status="running", progress_done=2, progress_total=5, heartbeat_at=past
    )
    RenewalRun.objects.filter(pk=run.pk).update(status="running")
    from kent_cs.management.commands.run_worker import recover_work

    recover_work()
    assert job_state(run.job_id).status == "failed"
    run.refresh_from_db()
    assert run.status == "failed"
    assert run.message.startswith("The worker running it stopped at 2 of 5")

    client.force_login(supervisor)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("job-retry", args=[run.job_id]))
    assert response.status_code == 302
    job = job_state(run.job_id)
    assert (job.status, job.attempts, job.message) == ("queued", 2, "Retried by supervisor")
    work_queued()
    job = job_state(run.job_id)
    assert job.status == "succeeded", job.message
    invoices = LicenseInvoice.objects.filter(year=2027)
    assert invoices.count() == License.objects.count() == 5
    assert invoices.values("license").distinct().count() == 5
    run.refresh_from_db()
    assert (run.status, run.already_invoiced, run.invoices_created) == ("succeeded", 2, 3)
    # A second click on a job that is no longer failed is refused with the reason.
    with pytest.raises(ValidationError, match="Only a failed job can be retried"):
        job_retry(job=job, user=supervisor)


# --- real worker processes ---------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_notices_fails_the_job_and_retry_finishes_it_once(technician, tmp_path):
    """kill -9 during a notices run: the job is failed within the lease with where it
    stopped; Retry renders only the chunks not stored; every notice is printed once."""
    invoices = make_invoices(technician, 8)
    run = notice_run_start(year=2027, user=technician, chunk_size=1)  # enqueued at commit
    log = tmp_path / "worker.log"
    connections.close_all()
    first = run_worker("--single", log=log)
    try:
        chunks = NoticeChunk.objects.filter(run=run)
        wait_for(
            "a chunk stored and the next one rendering",
            lambda: (
                chunks.filter(finished_at__isnull=False).exists()
                and chunks.filter(claimed_at__isnull=False, finished_at__isnull=True).exists()
            ),
            seconds=120,
        )
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        stop(first)
    killed_at = job_state(run.job_id)
    assert killed_at.status == "running"
    stored_before = set(
        NoticeChunk.objects.filter(run=run, finished_at__isnull=False).values_list("pk", "pdf")
    )
    assert 1 <= len(stored_before) < 8, log.read_text()[-2000:]

    # A new worker comes up; its sweep fails the job once the lease (3 s) has run out.
    second = run_worker("--single", log=log)
    try:
        failed = wait_for(
            "the job failed",
            lambda: (j := job_state(run.job_id)).status == "failed" and j,
            seconds=30,
        )
        assert isinstance(failed, Job)
        assert failed.finished_at - failed.heartbeat_at <= timedelta(seconds=3 + 3)
        done = failed.progress_done
        assert f"The worker running it stopped at {done} of 8 at " in failed.message
        # Failed, its chunks wait for a person: the sweep does not hand them out.
        time.sleep(2)
        assert job_state(run.job_id).status == "failed"
        assert NoticeChunk.objects.filter(run=run, finished_at__isnull=False).count() == done

        job_retry(job=failed, user=technician)
        finished = wait_for(
            "the retried job finished",
            lambda: (j := job_state(run.job_id)).is_finished and j,
            seconds=120,
        )
        assert isinstance(finished, Job)
        assert finished.status == "succeeded", finished.message
    finally:
        stop(second)
    chunks = NoticeChunk.objects.filter(run=run)
    assert chunks.count() == 8
    assert chunks.filter(finished_at__isnull=False).count() == 8
    # The chunks stored before the kill were not rendered again: same PDFs, attempt 1.
    after = set(chunks.filter(pk__in=[pk for pk, _ in stored_before]).values_list("pk", "pdf"))
    assert after == stored_before
    assert set(
        chunks.filter(pk__in=[pk for pk, _ in stored_before]).values_list("attempt", flat=True)
    ) == {1}
    assert sum(len(c.invoice_ids) for c in chunks) == len(invoices) == 8
    assert NoticeRun.objects.get(pk=run.pk).finished_at is not None
    assert job_state(run.job_id).message.startswith("8 notices on ")


@pytest.mark.django_db(transaction=True)
def test_a_worker_survives_its_connections_terminated_and_the_database_refusing_them(
    technician, tmp_path
):
    """What a database restart looks like to a worker: every connection terminated
    (pg_terminate_backend), then no new connection for a few seconds. The worker
    reconnects with its backoff and processes the next task."""
    make_invoices(technician, 1)
    name = connection.settings_dict["NAME"]
    log = tmp_path / "worker.log"
    connections.close_all()
    worker = run_worker("--single", log=log, extra_env={"KENT_DB_POOL_TIMEOUT": "1"})
    try:
        wait_for("a heartbeat", lambda: WorkerHeartbeat.objects.exists(), seconds=60)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            (mine,) = cursor.fetchone()
        with outside_connection() as outside:
            outside.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            terminated = outside.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> %s",
                [name, mine],
            ).fetchone()[0]
            assert terminated >= 1
            wait_for("the worker noticed", lambda: "lost the database" in log.read_text())
            outside.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        assert worker.poll() is None, log.read_text()[-3000:]
        run = notice_run_start(year=2027, user=technician, chunk_size=5)
        job = wait_for(
            "the job after the database came back",
            lambda: (j := job_state(run.job_id)).is_finished and j,
            seconds=120,
        )
        assert isinstance(job, Job)
        assert job.status == "succeeded", job.message
        assert worker.poll() is None, log.read_text()[-3000:]
    finally:
        with outside_connection() as outside:
            outside.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        stop(worker)


@pytest.mark.django_db(transaction=True)
def test_the_supervisor_restarts_a_worker_that_exits(tmp_path):
    log = tmp_path / "worker.log"
    connections.close_all()
    supervisor = run_worker("--processes", "1", log=log)
    try:
        beat = wait_for("a heartbeat", lambda: WorkerHeartbeat.objects.first(), seconds=60)
        assert isinstance(beat, WorkerHeartbeat)
        os.kill(beat.pid, signal.SIGKILL)
        restarted = wait_for(
            "a restarted worker",
            lambda: WorkerHeartbeat.objects.exclude(pid=beat.pid).first(),
            seconds=60,
        )
        assert isinstance(restarted, WorkerHeartbeat)
        assert supervisor.poll() is None
        assert f"Worker {beat.pid} exited with status -9; restarting it" in log.read_text()
    finally:
        stop(supervisor)
    assert supervisor.returncode == 0, log.read_text()[-2000:]


@pytest.mark.django_db(transaction=True)
def test_healthz_goes_unhealthy_soon_after_the_worker_is_gone(client, settings, tmp_path):
    settings.WORKER_HEARTBEAT_STALE_SECONDS = 3
    log = tmp_path / "worker.log"
    connections.close_all()
    worker = run_worker("--single", log=log)
    try:
        wait_for("healthy", lambda: client.get(reverse("healthz")).status_code == 200, seconds=60)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
        killed = time.monotonic()
        wait_for(
            "unhealthy",
            lambda: client.get(reverse("healthz")).json()["worker"] == "stale",
            seconds=20,
        )
        # Within the stale threshold and a beat of the kill.
        assert time.monotonic() - killed <= 3 + 1 + 2
        response = client.get(reverse("healthz"))
        assert response.status_code == 503
    finally:
        stop(worker)


@pytest.mark.django_db
def test_retrying_a_job_that_did_not_fail_is_refused_with_the_reason(client, technician):
    job = Job.objects.create(
        kind="test",
        title="Trial balance",
        created_by=technician,
        status=Job.Status.SUCCEEDED,
        task_path="licensing.tasks.renewal_run_task",
    )
    client.force_login(technician)
    page = client.post(reverse("job-retry", args=[job.pk]), follow=True).content.decode()
    assert "Only a failed job can be retried; this one is not failed." in page
    assert ">Retry</button>" not in page
    job.refresh_from_db()
    assert (job.status, job.attempts) == ("succeeded", 1)
    assert not DBTaskResult.objects.exists()
