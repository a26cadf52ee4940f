"""Run the benchmarks: python -m bench [--list] [-k TEXT] [--repeat N] [--scale F] [--keep-db]

Prints benchmark | measured | limit | ratio | target | result and writes the same as JSON
to bench/results/ (latest.json and a timestamped copy). Exits 1 when any benchmark fails
its target or errors.
"""

import argparse
import os
import sys
import traceback
from datetime import UTC, datetime

import django

from bench import report
from bench.registry import Context, discover


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bin/bench", description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="list the benchmarks and stop")
    parser.add_argument(
        "-k",
        dest="select",
        action="append",
        default=[],
        help="run benchmarks whose name contains TEXT (repeatable)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="repetitions; medians are reported")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiply workload sizes (0.1 for a quick run)"
    )
    parser.add_argument(
        "--keep-db", action="store_true", help="reuse the benchmark database, don't recreate it"
    )
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.repeat < 1 or args.scale <= 0:
        raise SystemExit("--repeat must be at least 1 and --scale positive")
    started = datetime.now(UTC)

    from bench import database

    if args.list:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kent_cs.settings")
        django.setup()
        for b in discover().values():
            print(f"{b.name:<36} {b.description}")
        return 0
    url = database.prepare(keep=args.keep_db)
    registry = discover()
    chosen = [
        b for b in registry.values() if not args.select or any(s in b.name for s in args.select)
    ]
    if not chosen:
        print("No benchmark matches.", file=sys.stderr)
        return 2
    ctx = Context(
        repeat=args.repeat, scale=args.scale, database_url=url, user=database.bench_user()
    )
    rows, entries = [], []
    for b in chosen:
        print(f"running {b.name} ...", file=sys.stderr, flush=True)
        result, error = None, None
        try:
            result = b.run(ctx)
        except Exception as exc:
            traceback.print_exc()
            error = f"{exc.__class__.__name__}: {exc}"
        rows.append(report.row(b.name, result, error))
        entries.append(report.entry(b.name, b.description, result, error))
    print()
    print(report.table(rows))
    meta = {
        "database": url.rsplit("/", 1)[-1],
        "postgres": database.server_version(),
        "repeat": args.repeat,
        "scale": args.scale,
    }
    path = report.write_json(entries, started=started, meta=meta)
    print(f"\nResults: {path.relative_to(path.parents[2])}")
    return 0 if all(e["passed"] for e in entries) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
