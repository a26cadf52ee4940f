"""Fee preview: what a license would cost, component by component, with the rule behind
each amount (the same pricing code as applications and renewal runs)."""

from django.contrib.auth.decorators import permission_required
from django.shortcuts import render

from licensing.fees import BusinessFacts, FeeError, fee_preview, renewal_fee_date
from licensing.forms import FeePreviewForm, add_service_errors
from licensing.models import OwnershipType
from licensing.selectors import businesses as business_selectors


@permission_required("licensing.view_feeschedule", raise_exception=True)
def fee_preview_view(request):
    initial = {}
    business = None
    if request.GET.get("business", "").isdigit():
        business = business_selectors.business_get(pk=int(request.GET["business"]))
        initial["ubi"] = business.ubi
    form = FeePreviewForm(request.GET if "license_type" in request.GET else None, initial=initial)
    quote = None
    priced_on = None
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        business = None
        facts: BusinessFacts | None = None
        if data["ubi"]:
            business = business_selectors.business_by_ubi(data["ubi"])
            if business is None:
                form.add_error("ubi", "No business on file has this UBI.")
            else:
                facts = BusinessFacts.of(business)
        else:
            facts = BusinessFacts(
                fte=data["fte"] or 0,
                ownership_type=data["ownership_type"] or OwnershipType.OTHER,
                inside_city_limits=data["inside_city_limits"],
                gross_receipts=data["gross_receipts"],
            )
        if facts is not None:
            priced_on = (
                data["issue_date"] if form.is_new else renewal_fee_date(data["issue_date"].year)
            )
            try:
                quote = fee_preview(
                    license_type=data["license_type"],
                    business=facts,
                    issue_date=priced_on,
                    is_new=form.is_new,
                    units=data["units"],
                )
            except FeeError as exc:
                add_service_errors(form, exc)
    return render(
        request,
        "licensing/fees/preview.html",
        {
            "form": form,
            "quote": quote,
            "business": business,
            "priced_on": priced_on,
            "breadcrumbs": [("Fee preview", None)],
        },
    )
