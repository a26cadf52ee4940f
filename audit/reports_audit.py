"""The supervisor's audit reports, each a page, a PDF and a workbook from the same figures.

`REPORTS` (key -> AuditReport) is the one list of them: the pages are built from it, and a
scheduler can render any of them without a request:

    report = REPORTS["cashier-activity"]
    params = {"date_from": "2026-03-01", "date_to": "2026-03-31", "cashier": None}
    pdf_bytes, xlsx_bytes = report.pdf(params), report.xlsx(params)

`params` holds JSON values (dates as ISO text, the staff member's id or None for all).
"""

from collections.abc import Callable
from dataclasses import dataclass

from audit.report_common import Report, ReportParams
from audit.reports_access import (
    license_history,
    refunds_and_write_offs,
    role_changes,
    sign_ins,
)
from audit.reports_cashiering import (
    after_hours,
    cashier_activity,
    over_short_history,
    voids_and_reversals,
)
from kent_cs.reports import Sheet, render_pdf, xlsx_bytes

DOCUMENT_TEMPLATE = "audit/reports/document.html"


@dataclass(frozen=True)
class AuditReport:
    key: str
    title: str
    summary: str
    build: Callable[[ReportParams], Report]

    def run(self, params: ReportParams | dict) -> Report:
        if isinstance(params, dict):
            params = ReportParams.from_dict(params)
        return self.build(params)

    def pdf(self, params: ReportParams | dict) -> bytes:
        return render_pdf(DOCUMENT_TEMPLATE, document_context(self.run(params)))

    def xlsx(self, params: ReportParams | dict) -> bytes:
        return report_xlsx(self.run(params))


def document_context(report: Report) -> dict:
    return {
        "report": report,
        "document_title": f"{report.title}, {report.params.description}",
        "page_class": "landscape",
    }


def report_xlsx(report: Report) -> bytes:
    heading = [report.title, report.params.description, *report.notes]
    sheets = [
        Sheet(
            section.title,
            section.columns,
            section.rows,
            title_rows=heading if index == 0 else [report.title, section.title],
            total=section.total,
        )
        for index, section in enumerate(report.sections)
    ]
    return xlsx_bytes(sheets, title=f"{report.title}, {report.params.description}")


REPORTS: dict[str, AuditReport] = {
    report.key: report
    for report in [
        AuditReport(
            "cashier-activity",
            "Cashier activity",
            "Receipts, voids, reversals, reprints, overrides and training use per cashier.",
            cashier_activity,
        ),
        AuditReport(
            "over-short",
            "Over/short history",
            "Every count's over/short per cashier, a trend chart and repeat flags.",
            over_short_history,
        ),
        AuditReport(
            "voids-reversals",
            "Voids and reversals",
            "Each correction with its requester and approver; separation of duties flagged.",
            voids_and_reversals,
        ),
        AuditReport(
            "after-hours",
            "After-hours and closed-day activity",
            "Receipts and changes outside business hours, postings into closed days.",
            after_hours,
        ),
        AuditReport(
            "sign-ins",
            "Sign-ins and failed sign-ins",
            "Sign-ins, failures, lockouts and alerts per username.",
            sign_ins,
        ),
        AuditReport(
            "role-changes",
            "Role and permission changes",
            "Roles given and taken away, permissions granted and withdrawn, access flags.",
            role_changes,
        ),
        AuditReport(
            "license-history",
            "License history changes",
            "Every license status change with its reason and who made it.",
            license_history,
        ),
        AuditReport(
            "refunds-write-offs",
            "Refunds and write-offs",
            "Refunds requested, verified, approved or rejected, and invoices written off.",
            refunds_and_write_offs,
        ),
    ]
}
