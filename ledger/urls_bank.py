"""URLs of bank statements and reconciliation (joined into the ledger namespace)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
