"""Renewal notices on several workers: pages per second with 1, 2 and 4 worker processes.

Measured: a notice run as "Renewal notices (PDF)" starts it (`licensing.services.notices.
notice_run_create`, its chunks enqueued by `licensing.notice_runs.notice_chunks_enqueue`)
over one renewal run's unpaid invoices, split into chunks, taken from the database queue
by real worker processes (`manage.py run_worker --processes N`, against the benchmark
database), rendered, stored and zipped onto the job by the last chunk. The clock runs
from the start to the job's success, as a technician waits for it; pages are the stored
chunks' pages.

The workers are started before the clock, beat once (their heartbeat rows) and warm up
on a small run of one-notice chunks (fonts, stylesheets, templates load once per
process); so the measured run is the rendering, not Python starting.

Limit, measured in the same run: the same notices on one worker. The result is the
speed-up of two workers over one (target 1.7 on a 2-core machine: the chunks render in
parallel, the database work per chunk is small); four workers are reported as a detail
(on 2 cores they cannot beat two by much). Each worker count renders the same invoices,
in the same chunks; one and two workers twice each, symmetrically in time (1, 2, 4, 2,
1), and the medians compared: five renders of 96 pages, with the workers' start and
warm-up, take one to two minutes here.
"""

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.db.models import Sum
from django.utils import timezone

from bench.benchmarks import licensing_fixtures as fixtures
from bench.benchmarks.licensing_renewals import run_task
from bench.registry import Context, Result, benchmark
from bench.timing import median
from kent_cs.models import Job, WorkerHeartbeat
from licensing.documents import notice_invoices
from licensing.models import NoticeChunk, NoticeRun
from licensing.notice_runs import notice_chunks_enqueue
from licensing.services.notices import notice_run_create

NOTICES = 96
CHUNK_SIZE = 6  # 16 chunks: an even share for 1, 2 and 4 workers
# The machine is shared: one and two workers are measured twice, symmetrically in time
# (1, 2, 4, 2, 1), so a load that rises or falls through the run weighs on both alike.
SCHEDULE = (1, 2, 4, 2, 1)
TARGET_SPEEDUP = 1.7
TIMEOUT_SECONDS = 300


class Workers:
    """`manage.py run_worker --processes N` on the benchmark database, stopped on exit."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.process: subprocess.Popen | None = None
        self.pids: set[int] = set()

    def __enter__(self) -> "Workers":
        since = timezone.now()
        manage = Path(settings.BASE_DIR) / "manage.py"
        command = [sys.executable, str(manage), "run_worker", "--processes", str(self.count)]
        command += ["--interval", "0.05"]
        # The bench process points DATABASE_URL at the benchmark database already.
        self.process = subprocess.Popen(command, env=dict(os.environ), stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while len(self.pids) < self.count:
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise AssertionError(f"{self.count} workers did not start")
            time.sleep(0.1)
            beats = WorkerHeartbeat.objects.filter(started_at__gte=since)
            self.pids = set(beats.values_list("pid", flat=True))
        return self

    def warm_up(self, run, ids: list[int], user) -> int:
        """Small runs of one-notice chunks until every worker has rendered one; the runs."""
        warmed: set[int] = set()
        for attempt in range(1, 6):
            _seconds, _pages, job = render(run, ids[: self.count * 2], user, chunk_size=1)
            claims = NoticeRun.objects.get(job=job).chunk_set.values_list("claimed_by", flat=True)
            warmed |= {int(claim.rsplit(":", 1)[1]) for claim in claims}
            if warmed >= self.pids:
                return attempt
        return attempt

    def __exit__(self, *exc) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def render(run, ids: list[int], user, *, chunk_size: int) -> tuple[float, int, Job]:
    """Start a notice run of `ids` for the workers and wait for it: (seconds, pages, job)."""
    start = time.perf_counter()
    notice_run = notice_run_create(
        year=run.year,
        renewal_run=run,
        invoice_ids=ids,
        title=f"Renewal notices for {run.year}",
        user=user,
        chunk_size=chunk_size,
    )
    notice_chunks_enqueue(list(notice_run.chunk_set.defer("pdf").order_by("number")))
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while True:
        status, message = (
            Job.objects.filter(pk=notice_run.job_id).values_list("status", "message").get()
        )
        if status in (Job.Status.SUCCEEDED, Job.Status.FAILED):
            break
        if time.monotonic() > deadline:
            raise AssertionError(f"Notice run {notice_run.pk} did not finish: {message}")
        time.sleep(0.05)
    seconds = time.perf_counter() - start
    if status != Job.Status.SUCCEEDED:
        raise AssertionError(f"Notice run {notice_run.pk} failed: {message}")
    pages = NoticeChunk.objects.filter(run=notice_run).aggregate(p=Sum("pages"))["p"]
    return seconds, pages, Job.objects.get(pk=notice_run.job_id)


@benchmark(
    "licensing.renewal_notices_workers",
    "renewal notice pages/s with 1, 2 and 4 worker processes; speed-up of 2 over 1",
)
def renewal_notices_workers(ctx: Context) -> Result:
    count = ctx.count(NOTICES, minimum=CHUNK_SIZE * 4)
    user = ctx.user
    year = fixtures.next_free_year()
    population = fixtures.population(count, license_year=year, seed=year, contacts=True)
    run = run_task(population.renewal_year, user).run
    ids = list(notice_invoices(year=run.year, run=run).values_list("pk", flat=True))
    rates: dict[int, list[float]] = {}
    seconds: dict[int, list[float]] = {}
    pages_seen: set[int] = set()
    chunks_per_worker: dict[int, list[int]] = {}
    warm_ups: dict[int, list[int]] = {}
    busy: dict[int, list[float]] = {}
    per_chunk: dict[int, list[float]] = {}
    for workers in SCHEDULE:
        with Workers(workers) as pool:
            warm_ups.setdefault(workers, []).append(pool.warm_up(run, ids, user))
            took, pages, job = render(run, ids, user, chunk_size=CHUNK_SIZE)
        if pages < len(ids):
            raise AssertionError(f"{len(ids)} notices on {pages} pages")
        pages_seen.add(pages)
        notice_run = NoticeRun.objects.get(job=job)
        shares: dict[str, int] = {}
        for worker in notice_run.chunk_set.values_list("claimed_by", flat=True):
            shares[worker] = shares.get(worker, 0) + 1
        chunks_per_worker[workers] = sorted(shares.values())
        renders = [
            (c.finished_at - c.claimed_at).total_seconds()
            for c in notice_run.chunk_set.only("claimed_at", "finished_at")
        ]
        # Time the workers spent rendering, of the time they were there for: near 1, they
        # never waited for work, locks or each other, and a speed-up short of the worker
        # count is CPU time the machine did not give (each render took longer).
        busy.setdefault(workers, []).append(sum(renders) / (workers * took))
        per_chunk.setdefault(workers, []).append(sum(renders) / len(renders))
        seconds.setdefault(workers, []).append(took)
        rates.setdefault(workers, []).append(pages / took)
        print(
            f"  {workers} worker{'s' if workers > 1 else ''}: {pages} pages in {took:.1f} s "
            f"({pages / took:.1f} pages/s), chunks per worker {sorted(shares.values())}",
            file=sys.stderr,
        )
    if len(pages_seen) > 1:
        raise AssertionError(f"The same notices gave different page counts: {pages_seen}")
    rate = {n: median(values) for n, values in rates.items()}
    return Result(
        measured=rate[2],
        limit=rate[1],
        units="pages/s",
        target=TARGET_SPEEDUP,
        details={
            "limit_is": "the same notices on one worker (the ratio is the speed-up)",
            "notices": len(ids),
            "chunk_size": CHUNK_SIZE,
            "chunks": -(-len(ids) // CHUNK_SIZE),
            "pages": pages_seen.pop(),
            "schedule": list(SCHEDULE),
            "pages_per_s": {str(n): [round(r, 2) for r in v] for n, v in rates.items()},
            "seconds": {str(n): [round(s, 1) for s in v] for n, v in seconds.items()},
            "speedup_2_over_1": round(rate[2] / rate[1], 2),
            "speedup_4_over_1": round(rate[4] / rate[1], 2),
            "busy_fraction": {str(n): [round(b, 2) for b in v] for n, v in busy.items()},
            "seconds_per_chunk": {str(n): [round(c, 2) for c in v] for n, v in per_chunk.items()},
            "chunks_per_worker": {str(n): v for n, v in chunks_per_worker.items()},
            "warm_up_runs": {str(n): v for n, v in warm_ups.items()},
            "cpus": os.cpu_count(),
            "load_average": [round(v, 1) for v in os.getloadavg()],
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        },
    )
