"""Timing helpers: wall-clock rates, medians, and running work on several threads."""

import math
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile: the smallest value that `fraction` of the values do not
    exceed (0.95: the p95 of latencies)."""
    if not values or not 0 < fraction <= 1:
        raise ValueError("percentile needs values and a fraction in (0, 1]")
    ordered = sorted(values)
    rank = math.ceil(len(ordered) * fraction)
    return float(ordered[rank - 1])


def timed(work: Callable[[], Any]) -> float:
    """Seconds `work()` took."""
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def run_on_threads(work: Callable[[int], Any], threads: int) -> float:
    """Run `work(thread_index)` on `threads` threads released together; return the seconds
    from the release until the last one finished.

    Each thread closes its Django connections when done (returning them to the pool), and
    an exception in any thread is raised here after all have stopped.
    """
    from django.db import connections

    if threads == 1:
        return timed(lambda: work(0))
    barrier = threading.Barrier(threads + 1)
    errors: list[BaseException] = []

    def body(index: int) -> None:
        try:
            barrier.wait()
            work(index)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(threads)]
    for worker in workers:
        worker.start()
    barrier.wait()
    start = time.perf_counter()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise errors[0]
    return elapsed


def split(indexes: range, parts: int) -> list[range]:
    """`indexes` cut into `parts` contiguous, nearly equal ranges."""
    size, extra = divmod(len(indexes), parts)
    ranges, start = [], indexes.start
    for index in range(parts):
        end = start + size + (1 if index < extra else 0)
        ranges.append(range(start, end))
        start = end
    return ranges
