"""The audit reports' filter: a date range and one staff member or everyone."""

from datetime import timedelta

from django import forms
from django.contrib.auth import get_user_model

from audit.report_common import ReportParams, name

MAX_DAYS = 366


class StaffChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        full = name(obj)
        return full if full == obj.get_username() else f"{full} ({obj.get_username()})"


class ReportFilterForm(forms.Form):
    date_from = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}))
    cashier = StaffChoiceField(
        label="Cashier or staff member",
        queryset=get_user_model().objects.order_by("username"),
        required=False,
        empty_label="All staff",
    )

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", "The end date is before the start date.")
        elif start and end and end - start > timedelta(days=MAX_DAYS - 1):
            self.add_error("date_to", f"Choose at most {MAX_DAYS} days.")
        return cleaned

    def params(self) -> ReportParams:
        data = self.cleaned_data
        return ReportParams(data["date_from"], data["date_to"], data.get("cashier"))
