"""Runs the background-task workers, each with a heartbeat that /healthz reports.

    manage.py run_worker [--processes N] [--batch] [--interval SECONDS]

With one process (`--processes 1`), a thread records a heartbeat row every few seconds
and, once a minute, lets each app recover work whose worker died (an app's
`worker_recover()` hook: licensing hands out again the notice chunks of a dead worker),
while django_tasks_db's `db_worker` processes the queue in the main thread.

With more (the default is `KENT_WORKERS`), this process starts that many single workers
and waits for them; SIGTERM or Ctrl-C is passed on, so each finishes its task first.
django_tasks_db claims each task with `SELECT ... FOR UPDATE SKIP LOCKED`, so the workers
take distinct tasks.
"""

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import uuid
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections
from django.utils import timezone

from kent_cs.models import WorkerHeartbeat

HEARTBEAT_SECONDS = 10
RECOVER_EVERY_BEATS = 6  # once a minute
logger = logging.getLogger(__name__)


def recover_work() -> None:
    """Call every app's `worker_recover()` hook (work whose worker died)."""
    for config in apps.get_app_configs():
        hook = getattr(config, "worker_recover", None)
        if hook is None:
            continue
        try:
            hook()
        except Exception:  # one app's failure must not stop the heartbeat
            logger.warning("Recovering %s work failed", config.label, exc_info=True)


def beat_forever(worker_id: str, started_at, stop: threading.Event) -> None:
    beats = 0
    while not stop.is_set():
        try:
            close_old_connections()
            WorkerHeartbeat.objects.update_or_create(
                worker_id=worker_id,
                defaults={
                    "hostname": socket.gethostname()[:200],
                    "pid": os.getpid(),
                    "started_at": started_at,
                    "last_seen": timezone.now(),
                },
            )
            if beats % RECOVER_EVERY_BEATS == 0:
                recover_work()
        except Exception:  # the database may be restarting; try again next beat
            logger.warning("Worker heartbeat failed", exc_info=True)
        finally:
            close_old_connections()
        beats += 1
        stop.wait(HEARTBEAT_SECONDS)


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

    def handle(self, *args, **options):
        processes = options["processes"] or settings.KENT_WORKERS
        if processes < 1:
            raise CommandError("--processes must be at least 1.")
        if processes == 1:
            self._work(batch=options["batch"], interval=options["interval"])
        else:
            self._supervise(processes, batch=options["batch"], interval=options["interval"])

    def _work(self, *, batch: bool, interval: float) -> None:
        # db_worker takes ids of at most 64 characters; the heartbeat row uses the same
        # id, so a task's worker can be looked up by it.
        worker_id = f"{socket.gethostname()[:40]}-{os.getpid()}-{uuid.uuid4().hex[:6]}"[:64]
        stop = threading.Event()
        thread = threading.Thread(
            target=beat_forever, args=(worker_id, timezone.now(), stop), daemon=True
        )
        thread.start()
        try:
            worker_args = ["--no-reload", "--worker-id", worker_id, "--interval", str(interval)]
            if batch:
                worker_args.append("--batch")
            call_command("db_worker", *worker_args)
        finally:
            stop.set()

    def _supervise(self, processes: int, *, batch: bool, interval: float) -> None:
        manage = Path(settings.BASE_DIR) / "manage.py"
        command = [sys.executable, str(manage), "run_worker", "--processes", "1"]
        command += ["--interval", str(interval)] + (["--batch"] if batch else [])
        # Each in its own process group: a Ctrl-C reaches this process only, which passes it
        # on once (a second SIGINT would make a worker drop its task). The command is this
        # interpreter and this project's manage.py, with no outside input.
        children = [
            subprocess.Popen(command, process_group=0)  # noqa: S603
            for _ in range(processes)
        ]
        self.stdout.write(f"Started {processes} workers: {', '.join(str(c.pid) for c in children)}")

        def pass_on(signum, _frame) -> None:
            for child in children:
                if child.poll() is None:
                    child.send_signal(signum)

        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, pass_on)
        codes = [child.wait() for child in children]
        if any(codes):
            raise CommandError(f"A worker exited with status {max(codes)}.")
