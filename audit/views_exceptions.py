"""The exceptions dashboard's pages: every line with its items, and the navigation badge
(loaded by htmx after the page, so that no other page pays for the count)."""

from django.contrib.auth.decorators import permission_required
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from audit.exceptions import PERMISSION, exceptions_summary


@require_GET
@permission_required(PERMISSION, raise_exception=True)
def exceptions_page(request):
    return render(
        request,
        "audit/exceptions/page.html",
        {
            "summary": exceptions_summary(user=request.user),
            "breadcrumbs": [("Exceptions", None)],
        },
    )


@require_GET
@never_cache
@permission_required(PERMISSION, raise_exception=True)
def exceptions_badge(request):
    return render(
        request, "audit/exceptions/badge.html", {"summary": exceptions_summary(user=request.user)}
    )
