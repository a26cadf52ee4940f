"""Forms of the licensing screens. They check what a person typed; the rules (duplicates,
allowed status changes, reviews before approval) stay in licensing.services, whose
refusals `add_service_errors` puts beside the field they concern."""

from datetime import date

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.forms.models import fields_for_model
from django.utils import timezone

from licensing.import_checks import ImportChoices
from licensing.models import (
    LICENSE_TRANSITIONS,
    Business,
    Contact,
    LicenseImport,
    LicenseStatus,
    LicenseType,
    OwnershipType,
    Review,
)
from licensing.reports.common import MAX_YEARS
from licensing.services.businesses import BUSINESS_FIELDS, CONTACT_FIELDS
from licensing.validators import normalise_naics, normalise_ubi, split_ubi

DATE_WIDGET = {"type": "date"}


def date_input() -> forms.DateInput:
    return forms.DateInput(attrs=DATE_WIDGET, format="%Y-%m-%d")


def add_service_errors(form: forms.Form, exc: ValidationError) -> None:
    """Show a service's refusal on the form: a message about a field the form has goes
    beside it, anything else above the form."""
    if hasattr(exc, "error_dict"):
        for name, errors in exc.error_dict.items():
            field = name if name in form.fields and name != NON_FIELD_ERRORS else None
            for error in errors:
                form.add_error(field, error)
    else:
        form.add_error(None, exc)


# --- businesses and contacts ------------------------------------------------------------


class BusinessSearchForm(forms.Form):
    q = forms.CharField(
        label="Search",
        required=False,
        max_length=100,
        help_text="Name or trade name, UBI, license number, street address, or an owner's name.",
    )
    include_closed = forms.BooleanField(label="Include closed businesses", required=False)


class BusinessForm(forms.Form):
    """The business's details, as registered (create) or corrected (edit)."""

    confirm_duplicate = forms.BooleanField(
        label="This is a different business",
        required=False,
        help_text="Tick after checking the businesses listed above are not this one.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        fields = fields_for_model(Business, fields=BUSINESS_FIELDS)
        # UBI and NAICS are typed as people write them ("602 123 456"), then normalised.
        fields["ubi"] = forms.CharField(
            label="UBI",
            max_length=20,
            help_text="Washington Unified Business Identifier: nine digits, like 602 123 456, "
            "or all sixteen with the branch and location, like 602 123 456 001 0001.",
        )
        fields["naics_code"] = forms.CharField(
            label="NAICS code", max_length=10, help_text="2 to 6 digits, like 722511."
        )
        fields["opened_on"].widget = date_input()
        fields["opened_on"].label = "Opened on"
        fields["location_state"].initial = "WA"
        fields["location_city"].initial = "Kent"
        fields["inside_city_limits"].initial = True
        fields["mailing_city"].label = "Mailing city"
        fields["mailing_state"].label = "Mailing state"
        fields["mailing_zip"].label = "Mailing ZIP"
        fields["trade_name"].label = "Trade name (DBA)"
        fields["fte_employees"].label = "FTE employees"
        for name in ("location_line1", "location_line2", "location_city"):
            fields[name].label = {
                "location_line1": "Street address",
                "location_line2": "Suite, unit",
                "location_city": "City",
            }[name]
        fields["location_state"].label = "State"
        fields["location_zip"].label = "ZIP"
        confirm = self.fields.pop("confirm_duplicate")
        self.fields.update(fields)
        self.fields["confirm_duplicate"] = confirm

    def clean_ubi(self) -> str:
        # Checked here for the message at the field; the service splits the parts.
        try:
            split_ubi(self.cleaned_data["ubi"])
        except ValidationError as exc:
            raise ValidationError(exc.messages) from None
        return self.cleaned_data["ubi"]

    def clean_naics_code(self) -> str:
        return normalise_naics(self.cleaned_data["naics_code"])

    def business_data(self) -> dict:
        return {name: self.cleaned_data[name] for name in BUSINESS_FIELDS}


class BusinessEditForm(BusinessForm):
    reason = forms.CharField(
        label="Reason for the change",
        required=False,
        max_length=300,
        help_text="Kept in the business's history, e.g. 'Moved to a new address'.",
    )


class BusinessCloseForm(forms.Form):
    closed_on = forms.DateField(label="Closed on", widget=date_input())
    reason = forms.CharField(
        label="Reason",
        max_length=300,
        help_text="Kept with the business, e.g. 'Owner retired; letter of March 3'.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["closed_on"].initial = timezone.localdate()


class ReasonForm(forms.Form):
    reason = forms.CharField(label="Reason", max_length=300)


class DenyForm(ReasonForm):
    reason = forms.CharField(label="Reason for denying", max_length=300)


class WithdrawForm(ReasonForm):
    reason = forms.CharField(label="Reason for withdrawing", max_length=300)


class ContactForm(forms.Form):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields.update(fields_for_model(Contact, fields=CONTACT_FIELDS))
        self.fields["is_primary"].label = "Primary contact"
        self.fields["is_primary"].help_text = "The one renewal notices are addressed to."

    def contact_data(self) -> dict:
        return {name: self.cleaned_data[name] for name in CONTACT_FIELDS}


class ContactRemoveForm(forms.Form):
    reason = forms.CharField(label="Reason", max_length=300, required=False)


# --- fees -----------------------------------------------------------------------------


class FeePreviewForm(forms.Form):
    NEW, RENEWAL = "new", "renewal"

    license_type = forms.ModelChoiceField(
        label="License type", queryset=LicenseType.objects.none(), empty_label=None
    )
    kind = forms.ChoiceField(
        label="New license or renewal",
        choices=[(NEW, "New license"), (RENEWAL, "Renewal")],
        initial=NEW,
        widget=forms.RadioSelect,
    )
    issue_date = forms.DateField(
        label="Issue date",
        widget=date_input(),
        help_text="Renewals are priced by the schedule in effect on January 1 of this date's year.",
    )
    ubi = forms.CharField(
        label="Business UBI",
        required=False,
        max_length=20,
        help_text="Give a business on file to use its FTE, ownership and location; "
        "or leave blank and describe the business below.",
    )
    fte = forms.DecimalField(
        label="FTE employees", required=False, min_value=0, max_digits=8, decimal_places=2
    )
    ownership_type = forms.ChoiceField(
        label="Ownership type", choices=OwnershipType.choices, initial=OwnershipType.LLC
    )
    inside_city_limits = forms.BooleanField(
        label="Inside city limits", required=False, initial=True
    )
    gross_receipts = forms.DecimalField(
        label="Annual gross receipts", required=False, min_value=0, max_digits=14, decimal_places=2
    )
    units = forms.IntegerField(
        label="Units", required=False, min_value=0, help_text="For per-unit licenses only."
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["license_type"].queryset = LicenseType.objects.filter(is_active=True)
        self.fields["issue_date"].initial = timezone.localdate()

    def clean_ubi(self) -> str:
        text = self.cleaned_data["ubi"].strip()
        if not text:
            return ""
        try:
            return normalise_ubi(text)
        except ValidationError as exc:
            raise ValidationError(exc.messages) from None

    @property
    def is_new(self) -> bool:
        return self.cleaned_data["kind"] == self.NEW


# --- applications ---------------------------------------------------------------------


class ApplicationForm(forms.Form):
    license_type = forms.ModelChoiceField(label="License type", queryset=LicenseType.objects.none())
    units = forms.IntegerField(
        label="Units",
        required=False,
        min_value=0,
        help_text="Per-unit licenses only, e.g. the number of rental housing units.",
    )
    requested_start = forms.DateField(label="Requested start", widget=date_input())
    received_on = forms.DateField(label="Received on", widget=date_input())
    notes = forms.CharField(label="Notes", required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["license_type"].queryset = LicenseType.objects.filter(is_active=True)
        today = timezone.localdate()
        self.fields["requested_start"].initial = today
        self.fields["received_on"].initial = today

    def clean(self):
        cleaned = super().clean()
        license_type = cleaned.get("license_type")
        if license_type is not None and license_type.unit_label and cleaned.get("units") is None:
            self.add_error("units", f"Enter the number of {license_type.unit_label}.")
        received = cleaned.get("received_on")
        if received is not None and received > timezone.localdate():
            self.add_error("received_on", "An application cannot be received in the future.")
        return cleaned


class ApplicationFilterForm(forms.Form):
    department = forms.ChoiceField(
        label="Awaiting the review of",
        required=False,
        choices=[("", "Any department"), *Review.Department.choices],
    )


class ReviewDecisionForm(forms.Form):
    notes = forms.CharField(
        label="Notes",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required to reject: say why.",
    )

    def __init__(self, *args, review: Review, **kwargs):
        kwargs.setdefault("prefix", f"review-{review.pk}")
        super().__init__(*args, **kwargs)
        self.fields["notes"].label = f"{review.get_department_display()} review notes"


# --- licenses -------------------------------------------------------------------------


def manual_transitions(from_status: str) -> list[tuple[str, str]]:
    """(status, label) a person may move a license in `from_status` to."""
    return [
        (str(new), f"{LicenseStatus(new).label} ({transition.action})")
        for (old, new), transition in LICENSE_TRANSITIONS.items()
        if old == from_status and transition.manual
    ]


class LicenseStatusForm(forms.Form):
    to_status = forms.ChoiceField(label="New status", choices=LicenseStatus.choices)
    reason = forms.CharField(
        label="Reason",
        max_length=300,
        help_text="Kept with the license's history, e.g. 'Fire code violation, case 26-114'.",
    )
    effective_on = forms.DateField(
        label="Effective on", required=False, widget=date_input(), help_text="Blank: today."
    )

    def __init__(self, *args, license, **kwargs):
        super().__init__(*args, **kwargs)
        self.license = license
        # Every status is accepted, so that a change no longer allowed (the license moved
        # on meanwhile) is refused with the reason rather than "not a valid choice".
        self.fields["to_status"].widget.choices = [
            ("", "Choose a status"),
            *manual_transitions(license.status),
        ]


# --- renewals and imports -------------------------------------------------------------


def default_renewal_year(today: date | None = None) -> int:
    """Renewals for next year are run in the autumn; before that, this year's are current."""
    today = today or timezone.localdate()
    return today.year + 1 if today.month >= 9 else today.year


class RenewalYearForm(forms.Form):
    year = forms.IntegerField(label="License year", min_value=2000, max_value=2200)


class DelinquencyForm(forms.Form):
    as_of = forms.DateField(label="As of", required=False, widget=date_input())


class _Confirmations(forms.MultipleChoiceField):
    """The defaults and warnings a technician ticked; which ones an import needs is only
    known once the file is read, so any value is accepted here and the import compares."""

    widget = forms.CheckboxSelectMultiple

    def valid_value(self, value) -> bool:
        return len(str(value)) <= 100


class LicenseImportForm(forms.Form):
    file = forms.FileField(
        label="File of license records",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx"}),
    )
    # "Check file" sends dry_run=1 and "Import" does not: both read and check the whole
    # file the same way, one of them without writing, so they share a URL and a view.
    dry_run = forms.BooleanField(required=False)
    mode = forms.ChoiceField(
        label="If some lines have problems",
        choices=[
            (LicenseImport.Mode.ALL, "Import nothing until every line is correct"),
            (
                LicenseImport.Mode.GOOD_ROWS,
                "Import the good lines only, and give me the refused ones back as a file",
            ),
        ],
        initial=LicenseImport.Mode.ALL,
        required=False,  # not sent: all or nothing
        widget=forms.RadioSelect,
    )
    inside_city = forms.ChoiceField(
        label="Where the file does not say, businesses are",
        choices=[("inside", "Inside city limits"), ("outside", "Outside city limits")],
        initial="inside",
        required=False,  # not sent: inside
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    issued_on = forms.DateField(
        label="Where the file gives no issue date, licenses were issued on",
        required=False,
        widget=date_input(),
        help_text="Leave blank for January 1 of each license's year.",
    )
    confirm = _Confirmations(required=False)

    @property
    def import_mode_value(self) -> str:
        """The mode as sent, for the radio buttons (all or nothing unless chosen)."""
        return (self.data.get("mode") if self.is_bound else "") or LicenseImport.Mode.ALL

    @property
    def import_mode(self) -> str:
        return self.cleaned_data["mode"] or LicenseImport.Mode.ALL

    def import_choices(self) -> ImportChoices:
        return ImportChoices(
            inside_city=self.cleaned_data["inside_city"] != "outside",
            issued_on=self.cleaned_data["issued_on"],
        )


class YearRangeForm(forms.Form):
    first_year = forms.IntegerField(label="From year", min_value=1990, max_value=2200)
    last_year = forms.IntegerField(label="To year", min_value=1990, max_value=2200)

    def clean(self):
        data = super().clean()
        first, last = data.get("first_year"), data.get("last_year")
        if first is not None and last is not None:
            if first > last:
                raise forms.ValidationError("The first year comes before the last one.")
            if last - first >= MAX_YEARS:
                raise forms.ValidationError(f"Choose at most {MAX_YEARS} years.")
        return data
