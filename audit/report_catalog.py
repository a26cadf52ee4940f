"""The report catalog: every report that can be scheduled and sent, by key.

An entry names the formats it renders and a function that renders it for a period
(first and last day, both included) as bytes of that format:

register("cashiering.daily-cash", "Daily cash report", formats=(PDF,), render=fn)

where `fn(start, end, fmt) -> bytes`. A report that only makes sense for some periods
(the trial balance is a month's) names the frequencies it takes. Registering is one call
per report; `register_all(reports)` takes a list of `CatalogReport` at once.

The reports registered at the end of this module are the apps' own: the daily cash and
audit reports (cashiering), the trial balance (ledger), the licensing tables and
growth workbook, and the supervisor's audit reports (`audit.reports_audit`, for all
cashiers). Rendering reads the database as the apps' pages do; it runs in the worker,
without a request.
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from django.utils import timezone

from audit.report_common import ReportParams as AuditReportParams
from audit.reports_audit import REPORTS as AUDIT_REPORTS
from audit.reports_audit import AuditReport
from cashiering import reports_daily
from kent_cs.reports import (
    PDF_CONTENT_TYPE,
    XLSX_CONTENT_TYPE,
    Sheet,
    pdf_html,
    xlsx_bytes,
)
from ledger.models import AccountingPeriod
from ledger.reports import trial_balance_document, trial_balance_xlsx
from ledger.selectors import trial_balance
from licensing.reports.common import ReportParams
from licensing.reports.downloads import REPORT_TABLES, ReportTable, growth_workbook

PDF = "pdf"
XLSX = "xlsx"
FORMATS = (PDF, XLSX)
CONTENT_TYPES = {PDF: PDF_CONTENT_TYPE, XLSX: XLSX_CONTENT_TYPE}
DAILY, WEEKLY, MONTHLY = "daily", "weekly", "monthly"
FREQUENCIES = (DAILY, WEEKLY, MONTHLY)

Render = Callable[[date, date, str], bytes]


class ReportUnavailable(Exception):
    """The report cannot be rendered for this period (e.g. no accounting period on file);
    the message says why and is shown in the delivery log."""


@dataclass(frozen=True)
class CatalogReport:
    key: str
    title: str
    formats: tuple[str, ...]
    render: Render
    frequencies: tuple[str, ...] = FREQUENCIES
    area: str = ""  # the app it comes from, for grouping in the form

    def __post_init__(self) -> None:
        if not self.formats or set(self.formats) - set(FORMATS):
            raise ValueError(f"{self.key}: formats must be among {FORMATS}.")
        if not self.frequencies or set(self.frequencies) - set(FREQUENCIES):
            raise ValueError(f"{self.key}: frequencies must be among {FREQUENCIES}.")

    def filename(self, start: date, end: date, fmt: str) -> str:
        period = start.isoformat() if start == end else f"{start.isoformat()}_{end.isoformat()}"
        return f"{self.key.replace('.', '-')}-{period}.{fmt}"

    def render_file(self, start: date, end: date, fmt: str) -> bytes:
        if fmt not in self.formats:
            raise ReportUnavailable(f"{self.title} is not available as {fmt.upper()}.")
        return self.render(start, end, fmt)


CATALOG: dict[str, CatalogReport] = {}


def register(
    key: str,
    title: str,
    *,
    formats: Sequence[str],
    render: Render,
    frequencies: Sequence[str] = FREQUENCIES,
    area: str = "",
) -> CatalogReport:
    """Add a report to the catalog; a key registered twice is a programming error."""
    report = CatalogReport(
        key=key,
        title=title,
        formats=tuple(formats),
        render=render,
        frequencies=tuple(frequencies),
        area=area or key.split(".")[0].title(),
    )
    if key in CATALOG:
        raise ValueError(f"Report {key!r} is already in the catalog.")
    CATALOG[key] = report
    return report


def register_all(reports: Iterable[CatalogReport]) -> None:
    for report in reports:
        if report.key in CATALOG:
            raise ValueError(f"Report {report.key!r} is already in the catalog.")
        CATALOG[report.key] = report


def catalog_report(key: str) -> CatalogReport | None:
    return CATALOG.get(key)


def catalog_reports() -> list[CatalogReport]:
    return sorted(CATALOG.values(), key=lambda r: (r.area, r.title))


# --- rendering helpers ------------------------------------------------------------------


def days_of(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def pdf_of_documents(documents: Sequence[tuple[str, dict]]) -> bytes:
    """One PDF of several documents (template, context) in order: each day of a week's
    daily report keeps its own pages."""
    rendered = [pdf_html(template, context).render() for template, context in documents]
    pages = [page for document in rendered for page in document.pages]
    return rendered[0].copy(pages).write_pdf()


# --- cashiering -------------------------------------------------------------------------


def _daily_cash(start: date, end: date, fmt: str) -> bytes:
    documents = []
    reports = [reports_daily.daily_cash_report(day) for day in days_of(start, end)]
    with_activity = [r for r in reports if r.sessions or r.business_day] or reports[-1:]
    for report in with_activity:
        documents.append(
            (
                "cashiering/reports/daily_cash.html",
                {
                    "report": report,
                    "document_title": f"Daily cash report {report.business_date:%Y-%m-%d}",
                    "page_class": "landscape",
                },
            )
        )
    return pdf_of_documents(documents)


def _audit_report(start: date, end: date, fmt: str) -> bytes:
    by_day = [(day, reports_daily.audit_events(day)) for day in days_of(start, end)]
    if fmt == XLSX:
        rows = [
            [timezone.localtime(e.at), e.event, e.reference, e.actor, e.amount, e.detail]
            for _, events in by_day
            for e in events
        ]
        title = f"Audit report {_period_text(start, end)}"
        return xlsx_bytes(
            [Sheet("Audit report", reports_daily.AUDIT_COLUMNS, rows, title_rows=[title])],
            title=title,
        )
    with_events = [(day, events) for day, events in by_day if events] or by_day[-1:]
    return pdf_of_documents(
        [
            (
                "cashiering/reports/audit_document.html",
                {"day": day, "events": events, "document_title": f"Audit report {day:%Y-%m-%d}"},
            )
            for day, events in with_events
        ]
    )


# --- ledger -----------------------------------------------------------------------------


def _trial_balance(start: date, end: date, fmt: str) -> bytes:
    period = AccountingPeriod.objects.filter(year=start.year, month=start.month).first()
    if period is None or (period.start_date, period.end_date) != (start, end):
        raise ReportUnavailable(f"No accounting period runs from {start} to {end}.")
    tb = trial_balance(period=period)
    if fmt == XLSX:
        return trial_balance_xlsx(tb)
    return pdf_of_documents([("ledger/trial_balance_document.html", trial_balance_document(tb))])


# --- licensing --------------------------------------------------------------------------


def _licensing_params(start: date, end: date) -> ReportParams:
    """The license years the period touches, the license year it ends in, and its last
    day as the as-of date."""
    return ReportParams(first_year=start.year, last_year=end.year, year=end.year, as_of=end)


def _licensing_table(table: ReportTable) -> Render:
    def render(start: date, end: date, fmt: str) -> bytes:
        return xlsx_bytes(
            table.sheets(_licensing_params(start, end), detail=True), title=table.title
        )

    return render


GROWTH_YEARS = 5


def _growth(start: date, end: date, fmt: str) -> bytes:
    """The growth workbook of the five license years up to the period's end."""
    return growth_workbook(first_year=end.year - GROWTH_YEARS + 1, last_year=end.year, as_of=end)


def _audit(report: AuditReport) -> Render:
    """A supervisor's audit report for the period, for every cashier."""

    def render(start: date, end: date, fmt: str) -> bytes:
        params = AuditReportParams(start, end, None)
        return report.pdf(params) if fmt == PDF else report.xlsx(params)

    return render


def _period_text(start: date, end: date) -> str:
    return start.isoformat() if start == end else f"{start.isoformat()} to {end.isoformat()}"


register("cashiering.daily-cash", "Daily cash report", formats=(PDF,), render=_daily_cash)
register("cashiering.audit-report", "Audit report", formats=(PDF, XLSX), render=_audit_report)
register(
    "ledger.trial-balance",
    "Trial balance",
    formats=(PDF, XLSX),
    render=_trial_balance,
    frequencies=(MONTHLY,),
)
for _table in REPORT_TABLES.values():
    register(
        f"licensing.{_table.slug}", _table.title, formats=(XLSX,), render=_licensing_table(_table)
    )
register("licensing.growth", "Business license growth workbook", formats=(XLSX,), render=_growth)
for _audit_report_entry in AUDIT_REPORTS.values():
    register(
        f"audit.{_audit_report_entry.key}",
        _audit_report_entry.title,
        formats=(PDF, XLSX),
        render=_audit(_audit_report_entry),
    )
