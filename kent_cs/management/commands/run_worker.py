"""Runs the background-task workers, each with a heartbeat that /healthz reports, and
keeps them running.

    manage.py run_worker [--processes N] [--batch] [--interval SECONDS]

This process is a supervisor: it starts N single workers (default `KENT_WORKERS`) and
starts again any that exits (with a backoff of 1, 2, 4 … up to 30 seconds, back to 1
once a worker has run a minute); SIGTERM or Ctrl-C is passed on, so each finishes its
task first, and nothing is restarted after it. With `--batch` the workers exit when the
queue is empty and only one that failed is started again.

A single worker (`--single`, what the supervisor starts) runs django_tasks_db's worker
loop in the main thread; a lost database connection or a database restart does not end
it: it reconnects with a backoff (1 s doubling to 30 s) and carries on. A thread records
its heartbeat row and refreshes the lease of the job it runs every
KENT_WORKER_HEARTBEAT_SECONDS, and every KENT_WORKER_RECOVER_SECONDS sweeps: jobs whose
lease expired are failed (`kent_cs.jobs.jobs_recover`), then each app's
`worker_recover()` hook recovers its own work (licensing hands out again the notice
chunks of a dead worker). django_tasks_db claims each task with
`SELECT ... FOR UPDATE SKIP LOCKED`, so the workers take distinct tasks.
"""

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, InterfaceError, close_old_connections, connections
from django.utils import timezone
from django_tasks_db.compat import DEFAULT_TASK_BACKEND_ALIAS, DEFAULT_TASK_QUEUE_NAME
from django_tasks_db.management.commands.db_worker import Worker

from kent_cs.jobs import jobs_heartbeat, jobs_recover, worker_id_set
from kent_cs.models import WorkerHeartbeat

BACKOFF_FIRST_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 30.0
# A worker that ran this long before it exited is restarted without waiting.
HEALTHY_RUN_SECONDS = 60.0
logger = logging.getLogger(__name__)


def backoff(failures: int) -> float:
    """Seconds to wait after this many failures in a row: 1, 2, 4 … 30."""
    return min(BACKOFF_MAX_SECONDS, BACKOFF_FIRST_SECONDS * 2 ** max(0, failures - 1))


def recover_work() -> None:
    """Fail the jobs whose lease expired, then call every app's `worker_recover()` hook
    (work whose worker died). The jobs go first: a run none of whose workers is left
    fails before an app could hand its work out again."""
    try:
        jobs_recover()
    except Exception:  # the database may be restarting; the next sweep tries again
        logger.warning("Failing jobs whose worker stopped failed", exc_info=True)
    for config in apps.get_app_configs():
        hook = getattr(config, "worker_recover", None)
        if hook is None:
            continue
        try:
            hook()
        except Exception:  # one app's failure must not stop the heartbeat
            logger.warning("Recovering %s work failed", config.label, exc_info=True)


def beat_forever(worker_id: str, started_at, stop: threading.Event) -> None:
    next_sweep = time.monotonic()
    while not stop.is_set():
        try:
            close_old_connections()
            now = timezone.now()
            WorkerHeartbeat.objects.update_or_create(
                worker_id=worker_id,
                defaults={
                    "hostname": socket.gethostname()[:200],
                    "pid": os.getpid(),
                    "started_at": started_at,
                    "last_seen": now,
                },
            )
            jobs_heartbeat(worker_id=worker_id, now=now)
            if time.monotonic() >= next_sweep:
                next_sweep = time.monotonic() + settings.WORKER_RECOVER_SECONDS
                recover_work()
        except Exception:  # the database may be restarting; try again next beat
            logger.warning("Worker heartbeat failed", exc_info=True)
            # A broken connection is not reused next beat.
            connections.close_all()
        finally:
            close_old_connections()
        stop.wait(settings.WORKER_HEARTBEAT_SECONDS)


def work_until_stopped(worker: Worker) -> None:
    """django_tasks_db's worker loop, reconnecting with a backoff when the database
    connection is lost (the database restarted, or the connection was terminated) instead
    of exiting. Returns when the loop ends by itself (`--batch`: queue empty) or by a
    signal (SystemExit passes through)."""
    failures = 0
    while True:
        try:
            worker.run()
            return
        except (DatabaseError, InterfaceError) as exc:
            if not worker.running:
                return  # stopping anyway
            failures += 1
            wait = backoff(failures)
            logger.warning(
                "Worker %s lost the database (%s); reconnecting in %.0f s",
                worker.worker_id,
                exc.__class__.__name__,
                wait,
            )
            connections.close_all()
            time.sleep(wait)
            # Back to a short wait once the database answers again.
            try:
                with connections["default"].cursor() as cursor:
                    cursor.execute("SELECT 1")
                failures = 0
            except (DatabaseError, InterfaceError):
                connections.close_all()


class Command(BaseCommand):
    help = "Run the background-task workers (django_tasks_db db_worker) with heartbeats."

    def add_arguments(self, parser):
        parser.add_argument(
            "--processes",
            type=int,
            default=None,
            help="Worker processes to run (default: KENT_WORKERS, one per core).",
        )
        parser.add_argument("--batch", action="store_true", help="Exit when the queue is empty.")
        parser.add_argument(
            "--interval",
            type=float,
            default=1.0,
            help="Seconds between looks at an empty queue (default 1).",
        )
        parser.add_argument(
            "--single",
            action="store_true",
            help="Run one worker in this process, without a supervisor.",
        )

    def handle(self, *args, **options):
        processes = options["processes"] or settings.KENT_WORKERS
        if processes < 1:
            raise CommandError("--processes must be at least 1.")
        if options["single"]:
            self._work(batch=options["batch"], interval=options["interval"])
        else:
            self._supervise(processes, batch=options["batch"], interval=options["interval"])

    def _work(self, *, batch: bool, interval: float) -> None:
        # db_worker takes ids of at most 64 characters; the heartbeat row uses the same
        # id, so a task's worker can be looked up by it.
        worker_id = f"{socket.gethostname()[:40]}-{os.getpid()}-{uuid.uuid4().hex[:6]}"[:64]
        worker_id_set(worker_id)
        stop = threading.Event()
        thread = threading.Thread(
            target=beat_forever, args=(worker_id, timezone.now(), stop), daemon=True
        )
        thread.start()
        worker = Worker(
            queue_names=[DEFAULT_TASK_QUEUE_NAME],
            interval=interval,
            batch=batch,
            backend_name=DEFAULT_TASK_BACKEND_ALIAS,
            startup_delay=not batch,
            max_tasks=None,
            worker_id=worker_id,
            excluded_queue_names=[],
        )
        worker.configure_signals()
        self.stdout.write(f"Worker {worker_id} started")
        self.stdout.flush()
        try:
            work_until_stopped(worker)
        finally:
            stop.set()

    def _supervise(self, processes: int, *, batch: bool, interval: float) -> None:
        manage = Path(settings.BASE_DIR) / "manage.py"
        command = [sys.executable, str(manage), "run_worker", "--single"]
        command += ["--interval", str(interval)] + (["--batch"] if batch else [])
        stopping = threading.Event()

        def start() -> subprocess.Popen:
            # Each in its own process group: a Ctrl-C reaches this process only, which
            # passes it on once (a second SIGINT would make a worker drop its task). The
            # command is this interpreter and this project's manage.py, no outside input.
            return subprocess.Popen(command, process_group=0)  # noqa: S603

        slots = [start() for _ in range(processes)]
        started = [time.monotonic()] * processes
        failures = [0] * processes
        restart_at: list[float | None] = [None] * processes
        self.stdout.write(f"Started {processes} workers: {', '.join(str(c.pid) for c in slots)}")
        self.stdout.flush()

        def pass_on(signum, _frame) -> None:
            stopping.set()
            for child in slots:
                if child.poll() is None:
                    child.send_signal(signum)

        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, pass_on)
        worst = 0
        done = [False] * processes
        while not all(done):
            for i, child in enumerate(slots):
                if done[i]:
                    continue
                code = child.poll()
                if code is None:
                    continue
                if stopping.is_set() or (batch and code == 0):
                    done[i] = True
                    worst = max(worst, code if code > 0 else 0)
                    continue
                now = time.monotonic()
                if restart_at[i] is None:
                    ran = now - started[i]
                    failures[i] = 1 if ran >= HEALTHY_RUN_SECONDS else failures[i] + 1
                    restart_at[i] = now + (0 if failures[i] == 1 else backoff(failures[i] - 1))
                    self.stderr.write(
                        f"Worker {child.pid} exited with status {code}; restarting it"
                        f" in {restart_at[i] - now:.0f} s"
                    )
                if now >= (restart_at[i] or 0):
                    slots[i] = start()
                    started[i] = now
                    restart_at[i] = None
                    self.stdout.write(f"Restarted worker: {slots[i].pid}")
                    self.stdout.flush()
            stopping.wait(0.5)
        if worst:
            raise CommandError(f"A worker exited with status {worst}.")
