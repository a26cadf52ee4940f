"""The supervisor's audit chain page: does every chain verify, where is the first broken
link; and the daily digest of the chain heads, written on demand, printed or exported."""

from datetime import date

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from audit import reports_chain
from audit.selectors_chain import chain_verify, digest_days, digest_for_day
from audit.services_chain import chain_digest_write
from kent_cs.reports import csv_response, pdf_response, print_response

VERIFY = "audit.verify_audit_chain"


def _day(request) -> date:
    raw = request.GET.get("day") or request.POST.get("day")
    if not raw:
        return timezone.localdate()
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise Http404("Not a date") from None


@permission_required(VERIFY, raise_exception=True)
def chain(request):
    day = _day(request)
    verification = chain_verify()
    return render(
        request,
        "audit/chain/chain.html",
        {
            "verification": verification,
            "day": day,
            "digest": digest_for_day(day=day),
            "days": digest_days(),
            "breadcrumbs": [("Audit chain", None)],
        },
    )


@require_POST
@permission_required(VERIFY, raise_exception=True)
def digest_write(request):
    day = _day(request)
    if day > timezone.localdate():
        messages.error(request, "A digest can be written for today or an earlier day only.")
    else:
        records = chain_digest_write(day=day, user=request.user)
        messages.success(
            request, f"Daily digest for {day:%Y-%m-%d} written: {len(records)} chain heads."
        )
    return redirect(f"{reverse('audit:chain')}?day={day.isoformat()}")


@permission_required(VERIFY, raise_exception=True)
def digest_csv(request):
    day = _day(request)
    return csv_response(
        reports_chain.digest_csv(digest_for_day(day=day)),
        reports_chain.digest_filename(day, "csv"),
    )


@permission_required(VERIFY, raise_exception=True)
def digest_pdf(request):
    day = _day(request)
    return pdf_response(
        reports_chain.DIGEST_DOCUMENT,
        reports_chain.digest_document(day, digest_for_day(day=day)),
        filename=reports_chain.digest_filename(day, "pdf"),
        request=request,
    )


@permission_required(VERIFY, raise_exception=True)
def digest_print(request):
    day = _day(request)
    context = reports_chain.digest_document(day, digest_for_day(day=day))
    chain_url = f"{reverse('audit:chain')}?day={day.isoformat()}"
    context.update(
        pdf_url=f"{reverse('audit:chain-digest-pdf')}?day={day.isoformat()}",
        back_url=chain_url,
        breadcrumbs=[("Audit chain", chain_url), ("Daily digest", None)],
    )
    return print_response(request, reports_chain.DIGEST_DOCUMENT, context)
