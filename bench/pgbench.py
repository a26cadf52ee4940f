"""pgbench on the benchmark server: the limit for payment posting benchmarks.

A receipt posting is a short read-write transaction much like pgbench's TPC-B-like script
(a few UPDATEs and an INSERT), so pgbench's rate on the same server, measured in the same
run, is what the hardware allows for such transactions.
"""

import glob
import os
import re
import shutil
import subprocess

from bench.database import libpq_url, recreate_database

PGBENCH_DATABASE = "kent_cs_pgbench"
TPS_LINE = re.compile(r"^tps = ([0-9.]+) \((?:without initial connection time|excluding)", re.M)


def find_pgbench() -> str:
    candidates = []
    if os.environ.get("PG_BIN"):
        candidates.append(os.path.join(os.environ["PG_BIN"], "pgbench"))
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin/pgbench"), reverse=True)
    candidates.append(shutil.which("pgbench") or "")
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise FileNotFoundError(
        "pgbench was not found: install PostgreSQL's server package or set PG_BIN."
    )


def pgbench_tps(
    database_url: str,
    clients: int,
    seconds: int,
    *,
    scale: int = 1,
    database: str = PGBENCH_DATABASE,
    initialize: bool = True,
) -> float:
    """Transactions per second of pgbench's TPC-B-like script with `clients` connections.

    Runs in its own database (recreated when `initialize`) on the server of `database_url`,
    so its tables never mix with the application's.
    """
    if clients < 1 or seconds < 1:
        raise ValueError("clients and seconds must be at least 1")
    pgbench = find_pgbench()
    target = libpq_url(recreate_database(database_url, database, keep=not initialize))
    if initialize:
        subprocess.run(
            [pgbench, "-i", "-q", "-s", str(scale), target],
            check=True,
            capture_output=True,
            text=True,
        )
    threads = min(2, clients)
    done = subprocess.run(
        [pgbench, "-c", str(clients), "-j", str(threads), "-T", str(seconds), "-n", target],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"pgbench failed ({done.returncode}): {done.stderr.strip()}")
    match = TPS_LINE.search(done.stdout)
    if match is None:
        raise RuntimeError(f"pgbench printed no tps line:\n{done.stdout}")
    return float(match.group(1))
