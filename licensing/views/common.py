"""Small helpers shared by the licensing views."""

from django.core.paginator import Page, Paginator
from django.urls import reverse

PAGE_SIZE = 50

VIEW_BUSINESS = "licensing.view_business"
CHANGE_BUSINESS = "licensing.change_business"
VIEW_LICENSE = "licensing.view_license"
RUN_RENEWALS = "licensing.run_renewals"
ASSESS_PENALTIES = "licensing.assess_penalties"


def paginate(queryset, request, per_page: int = PAGE_SIZE) -> Page:
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))


def businesses_crumb() -> tuple[str, str]:
    return ("Businesses", reverse("licensing:business-search"))


def business_crumbs(business, *tail) -> list:
    return [businesses_crumb(), (business.legal_name, business.get_absolute_url()), *tail]


def renewals_crumb(year: int | None = None) -> tuple[str, str]:
    url = reverse("licensing:renewals")
    return ("Renewals", f"{url}?year={year}" if year else url)
