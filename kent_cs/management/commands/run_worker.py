"""Runs the background-task worker with a heartbeat that /healthz reports.

    manage.py run_worker [db_worker options...]

A thread records a heartbeat row every few seconds while django_tasks_db's `db_worker`
processes the queue in the main thread.
"""

import logging
import os
import socket
import threading
import uuid

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import close_old_connections
from django.utils import timezone

from kent_cs.models import WorkerHeartbeat

HEARTBEAT_SECONDS = 10
logger = logging.getLogger(__name__)


def beat_forever(worker_id: str, started_at, stop: threading.Event) -> None:
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
        except Exception:  # the database may be restarting; try again next beat
            logger.warning("Worker heartbeat failed", exc_info=True)
        finally:
            close_old_connections()
        stop.wait(HEARTBEAT_SECONDS)


class Command(BaseCommand):
    help = "Run the background-task worker (django_tasks_db db_worker) with a heartbeat."

    def add_arguments(self, parser):
        parser.add_argument("--batch", action="store_true", help="Exit when the queue is empty.")

    def handle(self, *args, **options):
        worker_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"[:100]
        stop = threading.Event()
        thread = threading.Thread(
            target=beat_forever, args=(worker_id, timezone.now(), stop), daemon=True
        )
        thread.start()
        try:
            worker_args = ["--no-reload", "--worker-id", worker_id[:64]]
            if options["batch"]:
                worker_args.append("--batch")
            call_command("db_worker", *worker_args)
        finally:
            stop.set()
