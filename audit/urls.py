"""Audit and supervision URLs, under /audit/: one list per part of the app."""

from audit import urls_reports

app_name = "audit"

urlpatterns: list = [*urls_reports.urlpatterns]
