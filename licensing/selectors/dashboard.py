# ruff: noqa: RUF003 - en dashes and × are what users read (25–49 FTE)
"""The licensing cards of the home page."""

from django.urls import reverse
from django.utils import timezone

from licensing.models import (
    Application,
    Review,
)
from licensing.selectors.renewals import renewals_summary


def dashboard_cards(user) -> list[dict]:
    """Home page cards for licensing staff: this year's renewals and the review queue."""
    if not user.has_perm("licensing.view_license"):
        return []
    year = timezone.localdate().year
    summary = renewals_summary(year=year)
    in_review = Application.objects.filter(status=Application.Status.IN_REVIEW)
    reviews = Review.objects.filter(
        application__status=Application.Status.IN_REVIEW, status=Review.Status.PENDING
    ).count()
    return [
        {
            "title": f"{year} renewals outstanding",
            "value": f"{summary.outstanding:,}",
            "note": (
                f"${summary.amount_outstanding:,.2f} due; {summary.percent_paid}% of "
                f"{summary.invoiced:,} paid"
            ),
            "url": f"{reverse('licensing:renewals-outstanding')}?year={year}",
            "link_text": "Renewals outstanding",
        },
        {
            "title": "Applications in review",
            "value": f"{in_review.count():,}",
            "note": f"{reviews:,} department reviews pending",
            "url": reverse("licensing:application-list"),
            "link_text": "Applications in review",
        },
    ]
