"""Audit and supervision URLs, under /audit/: one list per part of the app."""

from django.urls import include, path

app_name = "audit"

urlpatterns: list = [
    path("", include("audit.urls_chain")),
]
