"""URLs of the deposits pages and the day's reports (joined into the cashiering namespace
by cashiering/urls.py)."""

from django.urls import path

from cashiering.views import deposits, reports

urlpatterns: list = [
    # Bank deposits from balanced sessions, and their slips.
    path("deposits/", deposits.deposit_list, name="deposits"),
    path("deposits/prepare/", deposits.deposit_prepare, name="deposit-prepare"),
    path("deposits/<int:pk>/", deposits.deposit_detail, name="deposit-detail"),
    path("deposits/<int:pk>/slip/", deposits.deposit_slip_print, name="deposit-slip-print"),
    path("deposits/<int:pk>/slip.pdf", deposits.deposit_slip_pdf, name="deposit-slip-pdf"),
    # The day's reports: daily cash report and audit report.
    path("reports/daily/", reports.daily_reports, name="daily-reports"),
    path(
        "reports/daily/<str:business_date>/cash/",
        reports.daily_cash_print,
        name="daily-cash-report-print",
    ),
    path(
        "reports/daily/<str:business_date>/cash.pdf",
        reports.daily_cash_pdf,
        name="daily-cash-report-pdf",
    ),
    path("reports/daily/<str:business_date>/audit/", reports.audit_report, name="audit-report"),
    path(
        "reports/daily/<str:business_date>/audit/print/",
        reports.audit_report_print,
        name="audit-report-print",
    ),
    path(
        "reports/daily/<str:business_date>/audit.csv",
        reports.audit_report_csv,
        name="audit-report-csv",
    ),
]
