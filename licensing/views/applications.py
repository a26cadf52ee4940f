"""Applications: intake, the list of those in review, department reviews, and the
decision (approve once every review is approved, deny, or withdraw)."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from licensing.fees import FeeError, fee_preview
from licensing.forms import (
    ApplicationFilterForm,
    ApplicationForm,
    DenyForm,
    ReviewDecisionForm,
    WithdrawForm,
    add_service_errors,
)
from licensing.models import Application, LicenseInvoice, Review
from licensing.selectors import applications as application_selectors
from licensing.selectors import businesses as business_selectors
from licensing.services.applications import (
    application_approve,
    application_deny,
    application_submit,
    application_withdraw,
    review_decide,
)
from licensing.services.common import LicensingError
from licensing.views.common import business_crumbs, paginate

VIEW = "licensing.view_application"
DECIDE = "licensing.decide_application"
REVIEW = "licensing.record_review"


def _applications_crumb():
    return ("Applications in review", reverse("licensing:application-list"))


@permission_required(VIEW, raise_exception=True)
def application_list(request):
    form = ApplicationFilterForm(request.GET or None)
    department = form.cleaned_data["department"] if form.is_bound and form.is_valid() else ""
    applications = application_selectors.applications_in_review(department=department or None)
    return render(
        request,
        "licensing/applications/list.html",
        {
            "form": form,
            "department": dict(Review.Department.choices).get(department, ""),
            "page": paginate(applications, request),
            "breadcrumbs": [("Applications in review", None)],
        },
    )


@permission_required("licensing.add_application", raise_exception=True)
def application_create(request, pk: int):
    business = business_selectors.business_get(pk=pk)
    form = ApplicationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            application = application_submit(
                business=business,
                license_type=data["license_type"],
                requested_start=data["requested_start"],
                received_on=data["received_on"],
                units=data["units"],
                notes=data["notes"],
                user=request.user,
            )
        except LicensingError as exc:
            add_service_errors(form, exc)
        else:
            departments = [
                str(Review.Department(d).label) for d in application.license_type.review_departments
            ]
            reviews = (
                f"waiting on reviews by {', '.join(departments)}"
                if departments
                else "no department review is needed"
            )
            messages.success(request, f"{application} received for {business}: {reviews}.")
            return redirect(application)
    return render(
        request,
        "licensing/applications/form.html",
        {
            "form": form,
            "business": business,
            "breadcrumbs": business_crumbs(business, ("New application", None)),
        },
    )


def _estimate(application: Application):
    """What approval today would invoice (None when it cannot be priced)."""
    if application.status != Application.Status.IN_REVIEW:
        return None, ""
    issue_date = max(timezone.localdate(), application.requested_start)
    try:
        quote = fee_preview(
            license_type=application.license_type,
            business=application.business,
            issue_date=issue_date,
            is_new=True,
            units=application.units,
        )
    except FeeError as exc:
        return None, " ".join(exc.messages)
    return quote, ""


def _application_page(request, application: Application, *, failed=None, status: int = 200):
    """The application page; `failed` is (form name, bound form) for a refused action,
    the form name being "deny", "withdraw" or the review's prefix."""
    failed_name, failed_form = failed or (None, None)
    reviews = []
    for review in application.reviews.all():
        prefix = f"review-{review.pk}"
        form = failed_form if failed_name == prefix else ReviewDecisionForm(review=review)
        reviews.append((review, form))
    in_review = application.status == Application.Status.IN_REVIEW
    waiting = [r for r, _ in reviews if r.status != Review.Status.APPROVED]
    quote, quote_error = _estimate(application)
    result = application_selectors.application_result(application) if not in_review else {}
    return render(
        request,
        "licensing/applications/detail.html",
        {
            "application": application,
            "business": application.business,
            "reviews": reviews,
            "in_review": in_review,
            "waiting": waiting,
            "quote": quote,
            "quote_error": quote_error,
            "deny_form": failed_form if failed_name == "deny" else DenyForm(prefix="deny"),
            "withdraw_form": (
                failed_form if failed_name == "withdraw" else WithdrawForm(prefix="withdraw")
            ),
            "license": result.get("license"),
            "invoice": result.get("invoice"),
            "invoice_open": result.get("invoice") is not None
            and result["invoice"].status == LicenseInvoice.Status.OPEN,
            "breadcrumbs": [_applications_crumb(), (str(application), None)],
        },
        status=status,
    )


@permission_required(VIEW, raise_exception=True)
def application_detail(request, pk: int):
    return _application_page(request, application_selectors.application_get(pk=pk))


def _decide_review(request, pk: int, *, approved: bool):
    review = application_selectors.review_get(pk=pk)
    form = ReviewDecisionForm(request.POST, review=review)
    prefix = form.prefix
    if form.is_valid():
        try:
            review = review_decide(
                review=review,
                user=request.user,
                approved=approved,
                notes=form.cleaned_data["notes"],
            )
        except LicensingError as exc:
            add_service_errors(form, exc)
        else:
            verdict = "approved" if approved else "rejected"
            messages.success(request, f"{review.get_department_display()} review {verdict}.")
            return redirect(review.application)
    application = application_selectors.application_get(pk=review.application_id)
    return _application_page(request, application, failed=(prefix, form))


@require_POST
@permission_required(REVIEW, raise_exception=True)
def review_approve(request, pk: int):
    return _decide_review(request, pk, approved=True)


@require_POST
@permission_required(REVIEW, raise_exception=True)
def review_reject(request, pk: int):
    return _decide_review(request, pk, approved=False)


@require_POST
@permission_required(DECIDE, raise_exception=True)
def application_approve_view(request, pk: int):
    application = application_selectors.application_get(pk=pk)
    try:
        license = application_approve(application=application, user=request.user)
    except LicensingError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(application)
    invoice = license.invoices.order_by("year", "seq").first()
    if invoice is not None and invoice.status == LicenseInvoice.Status.OPEN:
        messages.success(
            request,
            f"{application} approved. License {license.display_number} is pending payment of "
            f"${invoice.amount_due:,.2f}, payable at the counter under invoice number "
            f"{invoice.number}.",
        )
    else:
        messages.success(
            request,
            f"{application} approved. License {license.display_number} is issued: there is "
            "nothing to pay.",
        )
    return redirect(application)


def _close_application(request, pk: int, *, form_class, prefix: str, service, done: str):
    application = application_selectors.application_get(pk=pk)
    form = form_class(request.POST, prefix=prefix)
    if form.is_valid():
        try:
            service(application=application, user=request.user, reason=form.cleaned_data["reason"])
        except LicensingError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"{application} {done}.")
            return redirect(application)
    return _application_page(request, application, failed=(prefix, form))


@require_POST
@permission_required(DECIDE, raise_exception=True)
def application_deny_view(request, pk: int):
    return _close_application(
        request, pk, form_class=DenyForm, prefix="deny", service=application_deny, done="denied"
    )


@require_POST
@permission_required("licensing.change_application", raise_exception=True)
def application_withdraw_view(request, pk: int):
    return _close_application(
        request,
        pk,
        form_class=WithdrawForm,
        prefix="withdraw",
        service=application_withdraw,
        done="withdrawn",
    )
