"""Forms of the ledger pages: date ranges, period choice, entry reversal,
period close and reopen."""

from django import forms
from django.utils import timezone

from ledger.models import AccountingPeriod
from ledger.services import LedgerError, period_for_date

DATE_INPUT = {"type": "date", "class": "form-control"}


class DateRangeForm(forms.Form):
    date_from = forms.DateField(required=False, label="From", widget=forms.DateInput(DATE_INPUT))
    date_to = forms.DateField(required=False, label="To", widget=forms.DateInput(DATE_INPUT))

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", "The end date is before the start date.")
        return cleaned


class PeriodChoiceForm(forms.Form):
    period = forms.ModelChoiceField(
        queryset=AccountingPeriod.objects.none(),
        label="Period",
        empty_label=None,
        widget=forms.Select(attrs={"class": "form-select"}),
    )

    def __init__(self, *args, periods, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["period"].queryset = periods


class ReverseEntryForm(forms.Form):
    reason = forms.CharField(
        max_length=250,
        label="Reason for the reversal",
        error_messages={"required": "Enter the reason for the reversal."},
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Kept with the reversing entry and in the audit trail.",
    )
    entry_date = forms.DateField(
        label="Date of the reversing entry",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Must fall in an open accounting period.",
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("entry_date", timezone.localdate())
        super().__init__(*args, **kwargs)

    def clean_entry_date(self):
        day = self.cleaned_data["entry_date"]
        try:
            period = period_for_date(day)
        except LedgerError as exc:
            raise forms.ValidationError(exc.messages) from None
        if not period.is_open:
            raise forms.ValidationError(f"The {period} accounting period is closed.")
        return day


class PeriodCloseForm(forms.Form):
    reason = forms.CharField(
        max_length=250, required=False, label="Note (optional)", widget=forms.TextInput()
    )


class PeriodReopenForm(forms.Form):
    reason = forms.CharField(
        max_length=250,
        label="Reason for reopening",
        error_messages={"required": "Enter the reason for reopening the period."},
    )
