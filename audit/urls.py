"""Audit and supervision URLs, under /audit/: one list per part of the app."""

from django.urls import include, path

from audit import urls_exceptions, urls_reports, urls_schedules, urls_training

app_name = "audit"

urlpatterns: list = [*urls_reports.urlpatterns, path("", include("audit.urls_chain"))]
urlpatterns += urls_schedules.urlpatterns
urlpatterns += urls_exceptions.urlpatterns
urlpatterns += urls_training.urlpatterns
