"""Ledger documents and spreadsheets: the trial balance as XLSX, PDF and print view."""

from collections.abc import Callable
from itertools import batched

from kent_cs.reports import DATE, INTEGER, MONEY, TEXT, Column, XlsxWorkbook
from ledger.models import AccountingPeriod
from ledger.selectors import TrialBalance, period_lines

ACCOUNT_BATCH = 100
LINE_CHUNK = 2000

TRIAL_BALANCE_COLUMNS = [
    Column("Account", TEXT, width=16),
    Column("Account name", TEXT, width=44),
    Column("Type", TEXT, width=13),
    Column("Opening balance", MONEY, width=16),
    Column("Period debits", MONEY, width=16),
    Column("Period credits", MONEY, width=16),
    Column("Closing balance", MONEY, width=16),
]
LINE_COLUMNS = [
    Column("Entry", INTEGER, width=10),
    Column("Date", DATE, width=12),
    Column("Account", TEXT, width=16),
    Column("Account name", TEXT, width=40),
    Column("Debit", MONEY, width=14),
    Column("Credit", MONEY, width=14),
    Column("Memo", TEXT, width=50),
    Column("Source", TEXT, width=12),
]

Progress = Callable[[int], None]


def trial_balance_title(period: AccountingPeriod) -> str:
    return f"Trial balance {period}"


def trial_balance_filename(period: AccountingPeriod, extension: str) -> str:
    return f"trial-balance-{period.year}-{period.month:02d}.{extension}"


def write_trial_balance_sheet(
    book: XlsxWorkbook, tb: TrialBalance, *, progress: Progress | None = None
) -> None:
    """The trial balance sheet: one row per account and a total row, header frozen."""
    period = tb.period
    sheet = book.add_sheet(f"Trial balance {period.year}-{period.month:02d}", TRIAL_BALANCE_COLUMNS)
    for batch in batched(tb.rows, ACCOUNT_BATCH):
        sheet.write_rows(
            (
                row.account.full_code,
                row.account.name,
                row.account.get_account_type_display(),
                row.opening,
                row.debits,
                row.credits,
                row.closing,
            )
            for row in batch
        )
        if progress:
            progress(len(batch))
    sheet.write_row(
        (
            "Total",
            f"{len(tb.rows)} accounts",
            "",
            tb.total_opening,
            tb.total_debits,
            tb.total_credits,
            tb.total_closing,
        ),
        bold=True,
    )


def write_period_lines_sheet(
    book: XlsxWorkbook, period: AccountingPeriod, *, progress: Progress | None = None
) -> int:
    """Every journal line of the period, streamed from the database chunk by chunk."""
    sheet = book.add_sheet("Lines", LINE_COLUMNS)
    written = 0
    for chunk in batched(period_lines(period=period, chunk_size=LINE_CHUNK), LINE_CHUNK):
        sheet.write_rows(chunk)
        written += len(chunk)
        if progress:
            progress(len(chunk))
    return written


def trial_balance_xlsx(tb: TrialBalance) -> bytes:
    """The quick download: the trial balance sheet alone (the lines go in the background
    export, which can be large)."""
    with XlsxWorkbook(title=trial_balance_title(tb.period)) as book:
        write_trial_balance_sheet(book, tb)
        return book.to_bytes()


def trial_balance_document(tb: TrialBalance) -> dict:
    """Context for templates/ledger/trial_balance_document.html (PDF and print view)."""
    return {
        "tb": tb,
        "period": tb.period,
        "document_title": trial_balance_title(tb.period),
        "page_class": "landscape",
    }
