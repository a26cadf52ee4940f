"""Bank statement import: a 50,000-line BAI2 file, parsed only vs imported whole.

The file is one account's day from `ledger.bankfiles.bai2_sample` (credits and debits,
88 continuation records, funds-availability fields, correct trailers). "Parse" is
`parse_statement_file` on its bytes: reading, decoding, every record checked against the
group and file control totals. "Import" is `ledger.services_bank.bank_statement_import`: the same
parse, plus the content hash and its look-up, the account and duplicate-statement checks,
and writing the import, the statement and every line in one transaction (lines through
COPY). So the ratio import/parse is what writing costs on top of reading: the measure that
a change to the write path (row-by-row INSERTs, a trigger on bank lines, an index too
many) would move.

Each repetition imports a different file (another business date and seed), since the same
file is refused the second time; parse and import take turns going first. Also reported,
once: the import with the lines written by `bulk_create` instead of COPY, for the record
of why COPY is used.
"""

import time
from datetime import date, timedelta

from bench.registry import Context, Result, benchmark
from bench.timing import median
from ledger import services_bank
from ledger.bankfiles import bai2_sample, parse_statement_file
from ledger.models import BankAccount, BankStatementImport, BankTransaction, GLAccount

LINES = 50_000
ACCOUNT_NUMBER = "991000777"
FIRST_DAY = date(2026, 1, 5)
# A loose bound, not a time: with COPY the import measured 2.2-3.3x the parse alone on the
# development machine (2 CPUs, shared, fsync on; about half of the extra is the commit:
# the deferred foreign-key checks of 50,000 lines and the WAL flush). With the lines
# written by bulk_create it measured 14x, and row-by-row INSERTs would be far past that.
RATIO_TARGET = 4.0


def _account() -> BankAccount:
    account, _ = BankAccount.objects.get_or_create(
        number=ACCOUNT_NUMBER,
        defaults={
            "name": "Benchmark account",
            "gl_account": GLAccount.objects.get(fund__code="001", code="101.10"),
        },
    )
    return account


def _seconds(work) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


@benchmark(
    "ledger.bank_import_50k",
    "seconds to import a 50,000-line BAI2 statement vs parsing it only (ratio import/parse)",
)
def bank_import(ctx: Context) -> Result:
    lines = ctx.count(LINES, minimum=100)
    account = _account()
    # A kept benchmark database already holds earlier runs' files: start after them.
    offset = BankStatementImport.objects.count() + 1

    def sample(index: int) -> bytes:
        return bai2_sample(
            lines=lines,
            account_number=account.number,
            business_date=FIRST_DAY + timedelta(days=offset + index),
            seed=offset + index,
        )

    parse_times, import_times = [], []
    size = 0
    for index in range(ctx.repeat):
        data = sample(index)
        size = len(data)

        def parse(data: bytes = data) -> None:
            parse_statement_file(data)

        def full_import(data: bytes = data, index: int = index) -> None:
            services_bank.bank_statement_import(
                source=data, file_name=f"bench-{offset + index}.bai2", user=ctx.user
            )

        if index % 2:
            import_times.append(_seconds(full_import))
            parse_times.append(_seconds(parse))
        else:
            parse_times.append(_seconds(parse))
            import_times.append(_seconds(full_import))

    # The same import with the lines written by bulk_create, once.
    data = sample(ctx.repeat)
    threshold = services_bank.COPY_THRESHOLD
    services_bank.COPY_THRESHOLD = lines + 1
    try:
        bulk_create_time = _seconds(
            lambda: services_bank.bank_statement_import(
                source=data, file_name="bench-bulk-create.bai2", user=ctx.user
            )
        )
    finally:
        services_bank.COPY_THRESHOLD = threshold

    written = BankTransaction.objects.filter(bank_account=account).count()
    expected = lines * (ctx.repeat + 1)
    if written < expected:
        raise AssertionError(f"{written} bank lines written, expected at least {expected}.")

    parse_s, import_s = median(parse_times), median(import_times)
    print(
        f"  bank import, {lines:,} lines ({size / 1e6:.1f} MB): parse {parse_s:.2f} s "
        f"({lines / parse_s:,.0f} lines/s), import {import_s:.2f} s "
        f"({lines / import_s:,.0f} lines/s), import/parse {import_s / parse_s:.2f}; "
        f"with bulk_create instead of COPY {bulk_create_time:.2f} s"
    )
    return Result(
        measured=import_s,
        limit=parse_s,
        units="s",
        target=RATIO_TARGET,
        higher_is_better=False,
        details={
            "lines": lines,
            "file_bytes": size,
            "parse_s": round(parse_s, 3),
            "import_s": round(import_s, 3),
            "parse_lines_per_s": round(lines / parse_s),
            "import_lines_per_s": round(lines / import_s),
            "import_with_bulk_create_s": round(bulk_create_time, 3),
            "parse_runs_s": [round(t, 3) for t in parse_times],
            "import_runs_s": [round(t, 3) for t in import_times],
        },
    )
