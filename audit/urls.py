"""Audit and supervision URLs, under /audit/: one list per part of the app."""

from audit import urls_exceptions

app_name = "audit"

urlpatterns: list = []
urlpatterns += urls_exceptions.urlpatterns
