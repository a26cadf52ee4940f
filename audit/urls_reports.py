"""Audit report URLs, under /audit/reports/."""

from django.urls import path

from audit import views_reports

urlpatterns = [
    path("reports/", views_reports.report_index, name="reports"),
    path("reports/<slug:key>/", views_reports.report_page, name="report"),
    path("reports/<slug:key>/pdf/", views_reports.report_pdf, name="report-pdf"),
    path("reports/<slug:key>/xlsx/", views_reports.report_xlsx, name="report-xlsx"),
]
