"""Forms of the bank statement import and reconciliation pages."""

from django import forms

from ledger.bankfiles import MAX_STATEMENT_BYTES, CsvMapping
from ledger.forms import DateRangeForm
from ledger.models import BankAccount

_TEXT = {"class": "form-control"}


COLUMN_FIELDS = (
    "date",
    "amount",
    "credit",
    "debit",
    "description",
    "reference",
    "account_number",
    "date_format",
)


class StatementImportForm(forms.Form):
    """The file, and for a CSV or Excel export, which column holds what.

    BAI2, camt.053 and OFX files are recognised by their content; the column fields are
    only read when a date column is given.
    """

    file = forms.FileField(
        label="Statement file",
        help_text=(
            f"BAI2, ISO 20022 camt.053 or OFX, or a CSV/Excel export with its columns "
            f"named below; up to {MAX_STATEMENT_BYTES // (1024 * 1024)} MB."
        ),
    )
    csv_account = forms.ModelChoiceField(
        queryset=BankAccount.objects.filter(is_active=True),
        required=False,
        label="Bank account (CSV)",
        help_text="The account the CSV rows are for, when the file has no account column.",
    )
    csv_date = forms.CharField(required=False, max_length=60, label="Date column")
    csv_amount = forms.CharField(required=False, max_length=60, label="Amount column (+ in, - out)")
    csv_credit = forms.CharField(required=False, max_length=60, label="Credit column")
    csv_debit = forms.CharField(required=False, max_length=60, label="Debit column")
    csv_description = forms.CharField(required=False, max_length=60, label="Description column")
    csv_reference = forms.CharField(required=False, max_length=60, label="Reference column")
    csv_account_number = forms.CharField(
        required=False, max_length=60, label="Account number column"
    )
    csv_date_format = forms.CharField(
        required=False,
        max_length=30,
        label="Date format",
        help_text="For example %m/%d/%Y; leave empty to read the usual date formats.",
    )

    # Only for a file that does not add up: a supervisor signs the approval here, for the
    # file whose discrepancies were shown (its SHA-256).
    supervisor = forms.CharField(
        required=False,
        max_length=150,
        label="Supervisor's username",
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "none"}),
    )
    supervisor_password = forms.CharField(
        required=False,
        label="Supervisor's password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
    )
    approval_reason = forms.CharField(
        required=False,
        max_length=300,
        label="Reason for importing it as it is",
        help_text="For example: the bank confirmed by phone that the trailer count is wrong "
        "and the transactions are complete.",
    )
    approved_sha256 = forms.RegexField(
        required=False, regex=r"^[0-9a-f]{64}$", widget=forms.HiddenInput
    )

    APPROVAL_FIELDS = ("supervisor", "supervisor_password", "approval_reason", "approved_sha256")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        accounts = list(self.fields["csv_account"].queryset)
        # Each account's columns from its last CSV import, for the page to fill in when
        # the account is chosen; the default account's are filled in from the start.
        self.saved_columns = {
            str(account.pk): {f"csv_{k}": v for k, v in account.csv_columns.items()}
            for account in accounts
            if account.csv_columns
        }
        if not self.is_bound:
            default = next((a for a in accounts if a.is_default and a.csv_columns), None)
            if default is not None:
                self.initial.update(csv_account=default.pk, **self.saved_columns[str(default.pk)])

    def csv_fields(self):
        return [self[name] for name in self.fields if name.startswith("csv_")]

    def approval_fields(self):
        return [self[name] for name in self.APPROVAL_FIELDS if name != "approved_sha256"]

    def signs_approval(self) -> bool:
        """Whether a supervisor's name was given to approve the file's discrepancies."""
        return bool(self.cleaned_data.get("supervisor"))

    def columns(self) -> dict[str, str]:
        """The column fields as typed, to remember for the account ({'date': ...})."""
        return {
            name: self.cleaned_data[f"csv_{name}"]
            for name in COLUMN_FIELDS
            if self.cleaned_data.get(f"csv_{name}")
        }

    def clean(self):
        cleaned = super().clean()
        self.csv_mapping = None
        if not cleaned.get("csv_date"):
            return cleaned
        account = cleaned.get("csv_account")
        if account is None and not cleaned.get("csv_account_number"):
            self.add_error(
                "csv_account", "Choose the bank account, or name the account number column."
            )
            return cleaned
        try:
            self.csv_mapping = CsvMapping(
                date=cleaned["csv_date"],
                amount=cleaned.get("csv_amount") or None,
                credit=cleaned.get("csv_credit") or None,
                debit=cleaned.get("csv_debit") or None,
                description=cleaned.get("csv_description") or None,
                reference=cleaned.get("csv_reference") or None,
                account_number=cleaned.get("csv_account_number") or None,
                default_account_number=account.number if account else "",
                currency=account.currency if account else "USD",
                date_format=cleaned.get("csv_date_format") or None,
            )
        except ValueError as exc:
            self.add_error("csv_amount", str(exc))
        return cleaned


class ReconcileFilterForm(DateRangeForm):
    pass


class StatementExplainForm(forms.Form):
    note = forms.CharField(
        max_length=500,
        label="What explains the discrepancies",
        help_text="For example: the bank's file had a wrong trailer count; the lines were "
        "checked against the online statement.",
        widget=forms.TextInput(attrs=_TEXT),
    )


class IdListField(forms.Field):
    """The ids of the ticked checkboxes; the service checks what they are."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value):
        try:
            return [int(item) for item in value or []]
        except (TypeError, ValueError) as exc:
            raise forms.ValidationError("Choose lines from the lists on this page.") from exc


class ManualMatchForm(forms.Form):
    bank = IdListField(required=False, label="Bank lines")
    book = IdListField(required=False, label="Book lines")
    note = forms.CharField(
        max_length=300,
        required=False,
        label="Note",
        widget=forms.TextInput(attrs=_TEXT),
    )


class MatchUndoForm(forms.Form):
    reason = forms.CharField(
        max_length=300, label="Reason for undoing", widget=forms.TextInput(attrs=_TEXT)
    )
