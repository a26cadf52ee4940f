"""The report schedule form. Recipients are checked address by address: a malformed one
or one outside the city's domains is named in the field's error."""

import re

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from audit.models import ReportSchedule
from audit.report_catalog import catalog_reports
from audit.schedules import allowed_domains, split_recipients


class RecipientsField(forms.CharField):
    """Addresses separated by commas, semicolons or new lines."""

    widget = forms.Textarea(attrs={"rows": 3})

    def to_python(self, value) -> list[str]:
        text = super().to_python(value)
        return [part for part in re.split(r"[\s,;]+", text) if part]

    def validate(self, value: list[str]) -> None:
        if not value:
            raise ValidationError("Give at least one recipient.", code="required")
        malformed = []
        for address in value:
            try:
                validate_email(address)
            except ValidationError:
                malformed.append(address)
        if malformed:
            raise ValidationError(f"Not an email address: {', '.join(malformed)}.")
        _, refused = split_recipients(value)
        if refused:
            raise ValidationError(
                f"{', '.join(refused)}: reports can be sent only to the city's addresses "
                f"({', '.join('@' + d for d in allowed_domains())})."
            )


class ReportScheduleForm(forms.Form):
    name = forms.CharField(
        label="Name",
        max_length=120,
        help_text='What the recipients know it by, e.g. "Daily cash report for Finance".',
    )
    report_key = forms.ChoiceField(label="Report")
    format = forms.ChoiceField(label="Format", choices=ReportSchedule.Format.choices)
    frequency = forms.ChoiceField(label="Frequency", choices=ReportSchedule.Frequency.choices)
    send_at = forms.TimeField(
        label="Send at",
        widget=forms.TimeInput(attrs={"type": "time"}),
        help_text="Local time on the first day after the period.",
    )
    recipients = RecipientsField(
        label="Recipients",
        help_text="City addresses, separated by commas or new lines.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["report_key"].choices = [
            (
                r.key,
                f"{r.area}: {r.title} ({', '.join(f.upper() for f in r.formats)}"
                + ("" if len(r.frequencies) == 3 else f"; {', '.join(r.frequencies)} only")
                + ")",
            )
            for r in catalog_reports()
        ]
        self.fields["send_at"].initial = "07:00"

    @staticmethod
    def initial_for(schedule: ReportSchedule) -> dict:
        return {
            "name": schedule.name,
            "report_key": schedule.report_key,
            "format": schedule.format,
            "frequency": schedule.frequency,
            "send_at": schedule.send_at,
            "recipients": "\n".join(schedule.recipients),
        }
