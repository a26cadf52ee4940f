"""Businesses: search, details with contacts, licenses, invoices and history; registering
and correcting a business (with duplicate checks), closing and reopening it, its
contacts, its history for records requests and its renewal notices."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from kent_cs.money import ZERO
from kent_cs.reports import pdf_response, print_response
from licensing import documents
from licensing.forms import (
    BusinessCloseForm,
    BusinessEditForm,
    BusinessForm,
    BusinessSearchForm,
    ContactForm,
    ContactRemoveForm,
    ReasonForm,
    add_service_errors,
)
from licensing.models import TERMINAL_STATUSES, LicenseInvoice
from licensing.selectors import businesses as business_selectors
from licensing.selectors import history as history_selectors
from licensing.services.businesses import (
    BUSINESS_FIELDS,
    CONTACT_FIELDS,
    DuplicateBusiness,
    business_close,
    business_create,
    business_reopen,
    business_update,
    contact_add,
    contact_remove,
    contact_update,
)
from licensing.services.common import LicensingError
from licensing.views.common import (
    CHANGE_BUSINESS,
    VIEW_BUSINESS,
    business_crumbs,
    businesses_crumb,
    paginate,
)

TIMELINE_SHOWN = 30


@permission_required(VIEW_BUSINESS, raise_exception=True)
def business_search(request):
    form = BusinessSearchForm(request.GET or None)
    filters = form.cleaned_data if form.is_bound and form.is_valid() else {}
    query = filters.get("q") or ""
    businesses = business_selectors.business_search(
        query=query, include_closed=filters.get("include_closed") or False
    )
    return render(
        request,
        "licensing/businesses/search.html",
        {
            "form": form,
            "query": query,
            "page": paginate(businesses, request),
            "breadcrumbs": [("Businesses", None)],
        },
    )


@permission_required(VIEW_BUSINESS, raise_exception=True)
def business_detail(request, pk: int):
    data = business_selectors.business_detail(pk=pk)
    business = data["business"]
    timeline = history_selectors.business_history(business)
    open_invoices = data["open_invoices"]
    return render(
        request,
        "licensing/businesses/detail.html",
        {
            **data,
            "invoices": business_selectors.business_invoices(business),
            "amount_due": sum((i.amount_due for i in open_invoices), ZERO),
            "has_notices": any(i.kind == LicenseInvoice.Kind.RENEWAL for i in open_invoices),
            "timeline": timeline[:TIMELINE_SHOWN],
            "timeline_more": max(len(timeline) - TIMELINE_SHOWN, 0),
            "breadcrumbs": [businesses_crumb(), (business.legal_name, None)],
        },
    )


def _business_form_page(request, template: str, form, *, duplicate=None, business=None):
    crumbs = (
        business_crumbs(business, ("Edit", None))
        if business is not None
        else [businesses_crumb(), ("Register a business", None)]
    )
    return render(
        request,
        template,
        {"form": form, "duplicate": duplicate, "business": business, "breadcrumbs": crumbs},
    )


@permission_required("licensing.add_business", raise_exception=True)
def business_create_view(request):
    form = BusinessForm(request.POST or None)
    duplicate = None
    if request.method == "POST" and form.is_valid():
        try:
            business = business_create(
                data=form.business_data(),
                user=request.user,
                confirm_duplicate=form.cleaned_data["confirm_duplicate"],
            )
        except DuplicateBusiness as exc:
            duplicate = exc
        except LicensingError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Registered {business} (UBI {business.ubi_display}).")
            return redirect(business)
    return _business_form_page(request, "licensing/businesses/form.html", form, duplicate=duplicate)


@permission_required(CHANGE_BUSINESS, raise_exception=True)
def business_edit(request, pk: int):
    business = business_selectors.business_get(pk=pk)
    initial = {name: getattr(business, name) for name in BUSINESS_FIELDS}
    initial["ubi"] = business.ubi + business.ubi_branch + business.ubi_location
    form = BusinessEditForm(request.POST or None, initial=initial)
    duplicate = None
    if request.method == "POST" and form.is_valid():
        try:
            business = business_update(
                business=business,
                data=form.business_data(),
                user=request.user,
                reason=form.cleaned_data["reason"],
                confirm_duplicate=form.cleaned_data["confirm_duplicate"],
            )
        except DuplicateBusiness as exc:
            duplicate = exc
        except LicensingError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Saved the changes to {business}.")
            return redirect(business)
    return _business_form_page(
        request, "licensing/businesses/form.html", form, duplicate=duplicate, business=business
    )


@permission_required(CHANGE_BUSINESS, raise_exception=True)
def business_close_view(request, pk: int):
    business = business_selectors.business_get(pk=pk)
    if not business.is_open:
        messages.info(request, f"{business} is already closed.")
        return redirect(business)
    form = BusinessCloseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            business_close(
                business=business,
                user=request.user,
                closed_on=form.cleaned_data["closed_on"],
                reason=form.cleaned_data["reason"],
            )
        except LicensingError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(
                request,
                f"{business} is closed. Its licenses are closed, unpaid invoices with nothing "
                "paid on them are cancelled, and applications in review are withdrawn.",
            )
            return redirect(business)
    return render(
        request,
        "licensing/businesses/close.html",
        {
            "form": form,
            "business": business,
            "licenses": list(business.licenses.exclude(status__in=TERMINAL_STATUSES)),
            "breadcrumbs": business_crumbs(business, ("Close", None)),
        },
    )


@permission_required(CHANGE_BUSINESS, raise_exception=True)
def business_reopen_view(request, pk: int):
    business = business_selectors.business_get(pk=pk)
    if business.is_open:
        messages.info(request, f"{business} is open.")
        return redirect(business)
    form = ReasonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            business_reopen(
                business=business, user=request.user, reason=form.cleaned_data["reason"]
            )
        except LicensingError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(
                request,
                f"{business} is open again. Its licenses stay closed: take a new application "
                "for each license it needs.",
            )
            return redirect(business)
    return render(
        request,
        "licensing/businesses/reopen.html",
        {
            "form": form,
            "business": business,
            "breadcrumbs": business_crumbs(business, ("Reopen", None)),
        },
    )


# --- contacts -------------------------------------------------------------------------


def _contact_page(request, *, business, contact, form, save, saved, crumb: str):
    """The contact form page: on a valid POST `save(data)` writes and the page returns to
    the business with the message `saved(contact)`; otherwise the form again."""
    if request.method == "POST" and form.is_valid():
        try:
            contact = save(form.contact_data())
        except LicensingError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, saved(contact))
            return redirect(business)
    context = {
        "form": form,
        "business": business,
        "contact": contact,
        "breadcrumbs": business_crumbs(business, (crumb, None)),
    }
    if contact is not None:
        context["remove_form"] = ContactRemoveForm()
    return render(request, "licensing/businesses/contact_form.html", context)


@permission_required("licensing.add_contact", raise_exception=True)
def contact_add_view(request, pk: int):
    business = business_selectors.business_get(pk=pk)
    return _contact_page(
        request,
        business=business,
        contact=None,
        form=ContactForm(request.POST or None),
        save=lambda data: contact_add(business=business, data=data, user=request.user),
        saved=lambda added: f"Added {added} to {business}.",
        crumb="Add a contact",
    )


@permission_required("licensing.change_contact", raise_exception=True)
def contact_edit(request, pk: int):
    contact = business_selectors.contact_get(pk=pk)
    initial = {name: getattr(contact, name) for name in CONTACT_FIELDS}
    return _contact_page(
        request,
        business=contact.business,
        contact=contact,
        form=ContactForm(request.POST or None, initial=initial),
        save=lambda data: contact_update(contact=contact, data=data, user=request.user),
        saved=lambda saved: f"Saved {saved}.",
        crumb=f"Contact {contact.name}",
    )


@require_POST
@permission_required("licensing.change_contact", raise_exception=True)
def contact_remove_view(request, pk: int):
    contact = business_selectors.contact_get(pk=pk)
    form = ContactRemoveForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    if not contact.is_active:
        messages.info(request, f"{contact.name} was already removed.")
    else:
        contact_remove(contact=contact, user=request.user, reason=reason)
        messages.success(
            request, f"Removed {contact.name}. The contact stays in the business's history."
        )
    return redirect(contact.business)


# --- documents ------------------------------------------------------------------------


def _history(request, pk: int):
    business = business_selectors.business_get(pk=pk)
    return business, documents.history_context(business)


@permission_required(VIEW_BUSINESS, raise_exception=True)
def business_history_pdf(request, pk: int):
    business, context = _history(request, pk)
    return pdf_response(
        documents.HISTORY_TEMPLATE,
        context,
        filename=documents.history_filename(business),
        request=request,
    )


@permission_required(VIEW_BUSINESS, raise_exception=True)
def business_history_print(request, pk: int):
    business, context = _history(request, pk)
    context.update(
        pdf_url=reverse("licensing:business-history-pdf", args=[business.pk]),
        back_url=business.get_absolute_url(),
        breadcrumbs=business_crumbs(business, ("History", None)),
    )
    return print_response(request, documents.HISTORY_TEMPLATE, context)


def _business_notices(request, pk: int):
    business = business_selectors.business_get(pk=pk)
    ids = list(documents.notice_invoices(business=business).values_list("pk", flat=True))
    return business, ids


@permission_required("licensing.view_licenseinvoice", raise_exception=True)
@permission_required(VIEW_BUSINESS, raise_exception=True)
def business_notices_pdf(request, pk: int):
    business, ids = _business_notices(request, pk)
    if not ids:
        messages.info(request, f"{business} has no unpaid renewal invoice to send a notice for.")
        return redirect(business)
    return pdf_response(
        documents.NOTICES_TEMPLATE,
        documents.notices_context(ids, title=documents.notices_title(business=business)),
        filename=documents.notices_filename(business=business),
        request=request,
    )


@permission_required("licensing.view_licenseinvoice", raise_exception=True)
@permission_required(VIEW_BUSINESS, raise_exception=True)
def business_notices_print(request, pk: int):
    business, ids = _business_notices(request, pk)
    if not ids:
        messages.info(request, f"{business} has no unpaid renewal invoice to send a notice for.")
        return redirect(business)
    context = documents.notices_context(ids, title=documents.notices_title(business=business))
    context.update(
        pdf_url=reverse("licensing:business-notices-pdf", args=[business.pk]),
        back_url=business.get_absolute_url(),
        breadcrumbs=business_crumbs(business, ("Renewal notices", None)),
    )
    return print_response(request, documents.NOTICES_TEMPLATE, context)
