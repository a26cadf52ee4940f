"""Background work for the ledger, run by `manage.py run_worker`."""

from django.tasks import task

from kent_cs.jobs import job_progress, job_running, job_succeed
from kent_cs.reports import XLSX_CONTENT_TYPE, XlsxWorkbook
from ledger.models import AccountingPeriod
from ledger.reports import (
    trial_balance_filename,
    trial_balance_title,
    write_period_lines_sheet,
    write_trial_balance_sheet,
)
from ledger.selectors import period_line_count, trial_balance

TRIAL_BALANCE_EXPORT = "ledger.trial-balance-xlsx"


@task()
def export_trial_balance(job_id: int) -> None:
    """The trial balance of `job.params["period"]` with every journal line of the period,
    as an XLSX workbook written in write-only mode; progress is reported per batch."""
    with job_running(job_id) as job:
        period = AccountingPeriod.objects.get(pk=job.params["period"])
        tb = trial_balance(period=period)
        line_count = period_line_count(period=period)
        total = len(tb.rows) + line_count
        job_progress(job, done=0, total=total, message="Adding up the accounts")
        done = 0

        def advance(count: int, message: str) -> None:
            nonlocal done
            done += count
            job_progress(job, done=done, message=message)

        with XlsxWorkbook(title=trial_balance_title(period)) as book:
            write_trial_balance_sheet(book, tb, progress=lambda n: advance(n, "Writing accounts"))
            written = write_period_lines_sheet(
                book, period, progress=lambda n: advance(n, "Writing journal lines")
            )
            data = book.to_bytes()
        job_succeed(
            job,
            name=trial_balance_filename(period, "xlsx"),
            content_type=XLSX_CONTENT_TYPE,
            data=data,
            message=f"{len(tb.rows)} accounts and {written} journal lines",
        )
