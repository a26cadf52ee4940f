# ruff: noqa: RUF003 - en dashes and × are what users read (25–49 FTE)
"""Application and review reads: lookups that authorize (404 otherwise), the review
queue, and what an approved application produced."""

from typing import Any

from django.db.models import (
    QuerySet,
)
from django.shortcuts import get_object_or_404

from licensing.models import (
    Application,
    License,
    Review,
)


def application_get(*, pk: int) -> Application:
    return get_object_or_404(
        Application.objects.select_related("business", "license_type").prefetch_related(
            "reviews__reviewer"
        ),
        pk=pk,
    )


def applications_in_review(*, department: str | None = None) -> QuerySet[Application]:
    """Open applications, oldest first; with `department`, those awaiting its review."""
    applications = Application.objects.filter(status=Application.Status.IN_REVIEW)
    if department:
        applications = applications.filter(
            reviews__department=department, reviews__status=Review.Status.PENDING
        )
    return (
        applications.select_related("business", "license_type")
        .prefetch_related("reviews")
        .order_by("received_on", "number")
    )


def review_get(*, pk: int) -> Review:
    return get_object_or_404(Review.objects.select_related("application"), pk=pk)


def application_result(application) -> dict[str, Any]:
    """For an approved application: its license and the license's first invoice."""
    license = License.objects.filter(application=application).select_related("license_type").first()
    invoice = None
    if license is not None:
        invoice = license.invoices.order_by("year", "seq").first()
    return {"license": license, "invoice": invoice}
