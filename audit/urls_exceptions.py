"""The exceptions dashboard, under /audit/exceptions/."""

from django.urls import path

from audit import views_exceptions

urlpatterns = [
    path("exceptions/", views_exceptions.exceptions_page, name="exceptions"),
    path("exceptions/badge/", views_exceptions.exceptions_badge, name="exceptions-badge"),
]
