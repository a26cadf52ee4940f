"""The results table on the terminal and the JSON record in bench/results/."""

import json
import math
import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.registry import Result

RESULTS_DIR = Path(__file__).resolve().parent / "results"
HEADERS = ["benchmark", "measured", "limit", "ratio", "target", "result"]


def _number(value: float) -> str:
    if math.isnan(value):
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.2f}"


def row(name: str, result: Result | None, error: str | None = None) -> list[str]:
    if result is None:
        return [name, "-", "-", "-", "-", f"ERROR: {error}"]
    sign = ">=" if result.higher_is_better else "<="
    return [
        name,
        f"{_number(result.measured)} {result.units}",
        f"{_number(result.limit)} {result.units}",
        f"{result.ratio:.2f}",
        f"{sign} {result.target:.2f}",
        "pass" if result.passed else "FAIL",
    ]


def table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [HEADERS, *rows]) for i in range(len(HEADERS))]
    numeric = {1, 2, 3}

    def line(cells: list[str]) -> str:
        return " | ".join(
            cell.rjust(w) if i in numeric else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(cells, widths, strict=True))
        )

    rule = "-+-".join("-" * w for w in widths)
    return "\n".join([line(HEADERS), rule, *(line(r) for r in rows)])


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=RESULTS_DIR.parent,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip() or None


def write_json(entries: list[dict[str, Any]], *, started: datetime, meta: dict) -> Path:
    RESULTS_DIR.mkdir(exist_ok=True)
    record = {
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": _git_commit(),
        "host": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        **meta,
        "results": entries,
    }
    path = RESULTS_DIR / f"{started:%Y%m%d-%H%M%S}.json"
    text = json.dumps(record, indent=2, default=str)
    path.write_text(text)
    (RESULTS_DIR / "latest.json").write_text(text)
    return path


def entry(name: str, description: str, result: Result | None, error: str | None) -> dict:
    if result is None:
        return {"name": name, "description": description, "error": error, "passed": False}
    return {
        "name": name,
        "description": description,
        "measured": result.measured,
        "limit": result.limit,
        "units": result.units,
        "ratio": result.ratio,
        "target": result.target,
        "higher_is_better": result.higher_is_better,
        "passed": result.passed,
        "details": result.details,
    }
