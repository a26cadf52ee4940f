"""Audit and supervision URLs, under /audit/: one list per part of the app."""

app_name = "audit"

urlpatterns: list = []
