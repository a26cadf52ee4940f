"""URLs of the closing pages (joined into the cashiering namespace by cashiering/urls.py)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
