"""Counter forms: opening a session, and the receipt entry form with its lines and tenders.

The receipt form is posted as parallel lists (one value per line or tender row, in row
order), so rows can be added and removed in the browser without renumbering:

    idempotency_key   uuid4 rendered with the page
    payer_name        required
    memo              optional
    line_kind, line_ref, line_amount, line_quantity, line_unit_price   one per line
    tender_type (a TenderType code: CASH, CHECK, ...), tender_amount, tender_check_number,
    tender_check_payer, tender_account_last4, tender_card_brand, tender_card_last4,
    tender_auth_code, tender_reference                                 one per tender

Every list of a group must have the same length as the group's first list (line_kind,
tender_type), or be left out entirely (read as blanks). Errors are keyed like the
service's (`line 1 amount`, `tender 2 card last4`, `payer name`, `tenders`) so a message
from either lands at the same field.
"""

import re
import uuid
from dataclasses import dataclass, field, make_dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils import timezone

from cashiering.denominations import DENOMINATIONS, count_total
from cashiering.models import CashierSession, Drawer, TenderType
from cashiering.selectors import deposits as deposits_selectors
from cashiering.services.receipt_inputs import (
    MAX_LINES,
    MAX_TENDERS,
    TENDER_DETAIL_FIELDS,
    LineInput,
    TenderInput,
)
from cashiering.targets import TargetError, TargetItem, get_target_type
from cashiering.validators import CARD_NUMBER_MESSAGE, contains_card_number
from kent_cs import dates
from kent_cs.money import ZERO, MoneyError, parse_money, to_money
from ledger.models import BankAccount

CARD_BRANDS = ["Visa", "Mastercard", "American Express", "Discover", "Other"]
# Larger than any payment the counter takes, well inside the database's 14 digits.
MAX_AMOUNT = Decimal("99999999.99")
MAX_QUANTITY = Decimal("100000")


def denomination_field_name(key: str) -> str:
    """'20.00' -> 'count_20_00', 'coin-1.00' -> 'count_coin_1_00' (safe in ids and CSS)."""
    return "count_" + re.sub(r"[^0-9a-z]", "_", key)


def add_denomination_fields(form: forms.Form) -> None:
    """Give `form` a count field per bill and coin (`denomination_field_name`), and
    `form.denominations`: (key, field name, is coin) in the order they are shown."""
    form.denominations = []
    for key, label, value, is_coin in DENOMINATIONS:
        name = denomination_field_name(key)
        form.fields[name] = forms.IntegerField(
            required=False,
            min_value=0,
            max_value=100_000,
            label=label,
            widget=forms.NumberInput(
                attrs={
                    "inputmode": "numeric",
                    "min": "0",
                    "step": "1",
                    "data-denomination": str(value),
                    "class": "form-control form-control-sm text-end",
                }
            ),
        )
        form.denominations.append((key, name, is_coin))


class SessionOpenForm(forms.Form):
    drawer = forms.ModelChoiceField(
        queryset=Drawer.objects.none(),
        empty_label=None,
        help_text="Only drawers nobody has open are listed.",
    )
    business_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    is_training = forms.BooleanField(
        required=False,
        label="Training session",
        help_text="Practice receipts: numbered T-…, never posted to the ledger or deposited.",
    )
    # Only for a business date before today: the supervisor signs the approval here.
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
        label="Reason for the earlier date",
        help_text="For example: the counter ran on paper while the system was down.",
    )

    def __init__(self, *args, drawers, today: date | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today or dates.business_today()
        self.fields["drawer"].queryset = drawers
        self.fields["business_date"].initial = self.today
        self.fields["business_date"].widget.attrs["max"] = self.today.isoformat()
        self.fields["business_date"].widget.attrs["data-business-date"] = ""
        add_denomination_fields(self)

    def is_earlier_date(self) -> bool:
        """Whether the date asked for (posted, or the initial one) is before today."""
        value = self["business_date"].value()
        try:
            day = self.fields["business_date"].to_python(value)
        except ValidationError:
            return False
        return day is not None and day < self.today

    def denomination_rows(self):
        return [(self[name], is_coin) for _key, name, is_coin in self.denominations]

    def clean(self):
        cleaned = super().clean()
        try:
            total, counts = count_total(
                {key: cleaned.get(name) or 0 for key, name, _coin in self.denominations}
            )
        except ValidationError as exc:
            raise ValidationError(exc.messages) from None
        cleaned["opening_count"] = counts
        cleaned["opening_float"] = total
        return cleaned


class SessionFilterForm(forms.Form):
    business_date = forms.DateField(
        required=False, label="Business date", widget=forms.DateInput(attrs={"type": "date"})
    )
    status = forms.ChoiceField(
        required=False, choices=[("", "Any status"), *CashierSession.Status.choices]
    )


class CorrectionForm(forms.Form):
    """The void / reversal request forms shown on a receipt (posted to their own views)."""

    reason = forms.CharField(max_length=300, widget=forms.TextInput())


# --- receipt entry --------------------------------------------------------------------

LINE_FIELDS = ("kind", "ref", "amount", "quantity", "unit_price")
TENDER_FIELDS = ("type", "amount", *TENDER_DETAIL_FIELDS)
_LINE_KEY = re.compile(r"^line (\d+)(?: (.+))?$")
_TENDER_KEY = re.compile(r"^tender (\d+)(?: (.+))?$")


@dataclass
class LineRow:
    """One receipt line as typed, with the item it pays and any errors at its fields."""

    index: int
    kind: str
    ref: str
    amount: str = ""
    quantity: str = ""
    unit_price: str = ""
    item: TargetItem | None = None
    kind_label: str = ""
    priced_by_quantity: bool = False
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def line_error(self) -> str:
        return self.errors.get("line", "")

    @property
    def computed_amount(self) -> Decimal | None:
        """The line's amount as typed, for the server-rendered totals (None: not valid)."""
        try:
            if self.priced_by_quantity:
                quantity = Decimal(self.quantity or "1")
                price = (
                    parse_money(self.unit_price)
                    if self.unit_price
                    else (self.item.default_amount if self.item else None)
                )
                return to_money(quantity * price) if price is not None else None
            return parse_money(self.amount) if self.amount else None
        except (MoneyError, InvalidOperation, TypeError):
            return None


# One tender as typed: its index, type and amount, the tender's detail fields (one
# definition, TenderInput's), what kind it is, and any errors at its fields.
TenderRow = make_dataclass(
    "TenderRow",
    [
        ("index", int),
        ("type", str, ""),
        ("amount", str, ""),
        *[(name, str, "") for name in TENDER_DETAIL_FIELDS],
        ("kind", str, ""),
        ("auto", bool, False),  # the amount follows the total until the cashier types one
        ("errors", dict[str, str], field(default_factory=dict)),
    ],
)


def line_row_for(item: TargetItem, index: int = 0) -> LineRow:
    """A new line for `item`: balance items prefilled with the amount due, fee items with
    quantity 1 at the default price."""
    target_type = get_target_type(item.kind)
    row = LineRow(
        index=index,
        kind=item.kind,
        ref=item.ref,
        item=item,
        kind_label=target_type.label,
        priced_by_quantity=target_type.priced_by_quantity,
    )
    if row.priced_by_quantity:
        row.quantity = "1"
        row.unit_price = f"{item.default_amount:.2f}" if item.default_amount is not None else ""
    elif item.amount_due > 0:
        row.amount = f"{item.amount_due:.2f}"
    return row


class ReceiptEntryForm:
    """Parses the posted receipt into the service's inputs, and holds what to show again
    (rows as typed, errors at their fields) when the post is refused."""

    def __init__(self, data=None, *, tender_types: list[TenderType]):
        self.data = data
        self.tender_types = {t.code: t for t in tender_types}
        self.default_tender = next(
            (t for t in tender_types if t.kind == TenderType.Kind.CASH), None
        ) or (tender_types[0] if tender_types else None)
        self.errors: dict[str, str] = {}
        self.lines: list[LineRow] = []
        self.tenders: list[TenderRow] = []
        self.idempotency_key = str(uuid.uuid4())
        self.key_valid = True
        self.payer_name = ""
        self.memo = ""
        self.line_inputs: list[LineInput] = []
        self.tender_inputs: list[TenderInput] = []
        if data is None:
            self.tenders = [self._blank_tender()]
        else:
            self._read(data)

    # -- reading ---------------------------------------------------------------------

    def _blank_tender(self) -> TenderRow:
        tender_type = self.default_tender
        return TenderRow(
            index=1,
            type=tender_type.code if tender_type else "",
            kind=tender_type.kind if tender_type else "",
            auto=True,
        )

    @staticmethod
    def _group(data, prefix: str, names: tuple[str, ...]) -> list[dict[str, str]] | None:
        first = data.getlist(f"{prefix}_{names[0]}")
        columns = {}
        for name in names:
            values = data.getlist(f"{prefix}_{name}")
            if values and len(values) != len(first):
                return None
            columns[name] = values or [""] * len(first)
        return [
            {name: (columns[name][i] or "").strip() for name in names} for i in range(len(first))
        ]

    def _read(self, data) -> None:
        self.payer_name = (data.get("payer_name") or "").strip()
        self.memo = (data.get("memo") or "").strip()
        key = (data.get("idempotency_key") or "").strip()
        try:
            self.idempotency_key = str(uuid.UUID(key))
            self.key_valid = True
        except ValueError:
            self.key_valid = False
        lines = self._group(data, "line", LINE_FIELDS)
        tenders = self._group(data, "tender", TENDER_FIELDS)
        if lines is None or tenders is None:
            self.add_error(None, "The form arrived incomplete. Reload the page and try again.")
            lines, tenders = lines or [], tenders or []
        self.lines = [LineRow(index=i, **values) for i, values in enumerate(lines, start=1)]
        self.tenders = []
        for i, values in enumerate(tenders, start=1):
            tender_type = self.tender_types.get(values["type"])
            self.tenders.append(
                TenderRow(index=i, kind=tender_type.kind if tender_type else "", **values)
            )

    def offer_tender_types(self, tender_types: list[TenderType]) -> None:
        """Every tender type the page offers, when it is shown again (a post reads only
        the ones it was paid with)."""
        self.tender_types = {t.code: t for t in tender_types}

    def attach_items(self, items: dict[tuple[str, str], TargetItem]) -> None:
        """Describe each line from the registry (to show it again, with its amount due)."""
        for row in self.lines:
            row.item = items.get((row.kind, row.ref))
            try:
                target_type = get_target_type(row.kind)
            except TargetError:
                continue
            row.kind_label = target_type.label
            row.priced_by_quantity = target_type.priced_by_quantity

    # -- errors ----------------------------------------------------------------------

    def add_error(self, key: str | None, message: str) -> None:
        """File `message` under a service-style key; the first message per place wins."""
        key = key or NON_FIELD_ERRORS
        line = _LINE_KEY.match(key)
        tender = _TENDER_KEY.match(key)
        if line and 1 <= int(line.group(1)) <= len(self.lines):
            name = (line.group(2) or "line").replace(" ", "_")
            self.lines[int(line.group(1)) - 1].errors.setdefault(name, message)
        elif tender and 1 <= int(tender.group(1)) <= len(self.tenders):
            name = (tender.group(2) or "amount").replace(" ", "_")
            self.tenders[int(tender.group(1)) - 1].errors.setdefault(name, message)
        self.errors.setdefault(key, message)

    def add_service_error(self, exc: ValidationError) -> None:
        if hasattr(exc, "error_dict"):
            for key, messages in exc.message_dict.items():
                for message in messages:
                    self.add_error(key, message)
        else:
            for message in exc.messages:
                self.add_error(None, message)

    @property
    def non_field_errors(self) -> list[str]:
        return [self.errors[NON_FIELD_ERRORS]] if NON_FIELD_ERRORS in self.errors else []

    def error(self, key: str) -> str:
        return self.errors.get(key, "")

    @property
    def payer_name_error(self) -> str:
        return self.error("payer name")

    @property
    def memo_error(self) -> str:
        return self.error("memo")

    @property
    def lines_error(self) -> str:
        return self.error("lines")

    @property
    def tenders_error(self) -> str:
        return self.error("tenders")

    @property
    def error_count(self) -> int:
        return len(self.errors)

    # -- validation ------------------------------------------------------------------

    def _text(self, key: str, value: str) -> bool:
        if contains_card_number(value):
            self.add_error(key, CARD_NUMBER_MESSAGE)
            return False
        return True

    def _money(self, key: str, text: str, *, required_message: str) -> Decimal | None:
        if not text:
            self.add_error(key, required_message)
            return None
        if not self._text(key, text):
            return None
        try:
            amount = parse_money(text)
        except MoneyError:
            self.add_error(key, "Enter an amount like 25.00.")
            return None
        if amount <= 0:
            self.add_error(key, "Enter an amount greater than zero.")
            return None
        if amount > MAX_AMOUNT:
            self.add_error(key, "That amount is too large for one payment.")
            return None
        return amount

    def is_valid(self) -> bool:
        """Turn the rows into LineInput/TenderInput. Checks only what the service cannot
        (text that is not a number, a damaged form); the rules are the service's."""
        if self.data is None:
            return False
        if not self.key_valid:
            self.add_error(None, "This form has expired. Start a new receipt.")
        self._text("payer name", self.payer_name)
        self._text("memo", self.memo)
        if len(self.lines) > MAX_LINES:
            self.add_error("lines", f"A receipt takes at most {MAX_LINES} items.")
        if len(self.tenders) > MAX_TENDERS:
            self.add_error("tenders", f"A receipt takes at most {MAX_TENDERS} tenders.")
        self.line_inputs = [self._line_input(row) for row in self.lines]
        self.tender_inputs = [self._tender_input(row) for row in self.tenders]
        self._scrub_card_numbers()
        return not self.errors

    def _scrub_card_numbers(self) -> None:
        """Never send a card number back to the browser: the refused field is shown
        empty, with the message saying why."""
        if contains_card_number(self.payer_name):
            self.payer_name = ""
        if contains_card_number(self.memo):
            self.memo = ""
        for row, names in [(row, LINE_FIELDS[2:]) for row in self.lines] + [
            (row, TENDER_FIELDS[1:]) for row in self.tenders
        ]:
            for name in names:
                if contains_card_number(getattr(row, name)):
                    setattr(row, name, "")

    def _line_input(self, row: LineRow) -> LineInput | None:
        prefix = f"line {row.index}"
        for name in LINE_FIELDS:
            self._text(f"{prefix} {name.replace('_', ' ')}", getattr(row, name))
        try:
            target_type = get_target_type(row.kind)
        except TargetError as exc:
            self.add_error(prefix, str(exc))
            return None
        if target_type.priced_by_quantity:
            quantity = Decimal(1)
            if row.quantity:
                try:
                    quantity = Decimal(row.quantity.replace(",", ""))
                except InvalidOperation:
                    quantity = Decimal(-1)
                if not quantity.is_finite() or quantity <= 0 or quantity > MAX_QUANTITY:
                    self.add_error(f"{prefix} quantity", "Enter a quantity greater than zero.")
                    return None
            unit_price = None
            if row.unit_price:
                unit_price = self._money(
                    f"{prefix} unit price", row.unit_price, required_message="Enter the price."
                )
                if unit_price is None:
                    return None
            return LineInput(kind=row.kind, ref=row.ref, quantity=quantity, unit_price=unit_price)
        amount = self._money(
            f"{prefix} amount", row.amount, required_message="Enter the amount paid."
        )
        if amount is None:
            return None
        return LineInput(kind=row.kind, ref=row.ref, amount=amount)

    def _tender_input(self, row: TenderRow) -> TenderInput | None:
        prefix = f"tender {row.index}"
        tender_type = self.tender_types.get(row.type)
        if tender_type is None:
            self.add_error(f"{prefix} type", "Choose how this part is paid.")
            return None
        amount = self._money(
            f"{prefix} amount", row.amount, required_message="Enter the amount tendered."
        )
        # Only the reference fields of the chosen kind are kept: a value typed into a
        # field that was hidden when the type changed is not sent to the service.
        kind = tender_type.kind
        keep = {
            TenderType.Kind.CHECK: ("check_number", "check_payer", "account_last4"),
            TenderType.Kind.CARD: ("card_brand", "card_last4", "auth_code"),
            TenderType.Kind.MONEY_ORDER: ("reference",),
            TenderType.Kind.ACH: ("reference",),
        }.get(kind, ())
        values = {name: getattr(row, name) if name in keep else "" for name in TENDER_FIELDS[2:]}
        ok = all(
            [
                self._text(f"{prefix} {name.replace('_', ' ')}", value)
                for name, value in values.items()
            ]
        )
        if amount is None or not ok:
            return None
        return TenderInput(tender_type=tender_type, amount=amount, **values)

    # -- display ---------------------------------------------------------------------

    @property
    def total(self) -> Decimal:
        return sum((row.computed_amount or ZERO for row in self.lines), ZERO)


class DepositForm(forms.Form):
    sessions = forms.ModelMultipleChoiceField(
        queryset=CashierSession.objects.none(),
        widget=forms.MultipleHiddenInput,
        error_messages={"required": "Choose at least one balanced session to deposit."},
    )
    idempotency_key = forms.UUIDField(widget=forms.HiddenInput)
    deposit_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    bank_account = forms.ModelChoiceField(
        queryset=BankAccount.objects.none(),
        empty_label=None,
        error_messages={"required": "Choose the bank account the deposit goes to."},
    )
    coin_total = forms.DecimalField(
        required=False,
        min_value=Decimal("0"),
        max_digits=9,
        decimal_places=2,
        label="Coin as a total (rolled coin)",
        help_text="Leave empty when coin is counted by kind above.",
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0", "inputmode": "decimal"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Any session: the service says why one cannot be deposited (already deposited
        # by someone else meanwhile, not balanced) better than "not a valid choice".
        self.fields["sessions"].queryset = CashierSession.objects.all()
        accounts = deposits_selectors.bank_accounts_active()
        self.fields["bank_account"].queryset = accounts
        default = deposits_selectors.default_bank_account()
        self.fields["bank_account"].initial = default.pk if default else None
        self.fields["deposit_date"].initial = timezone.localdate()
        self.fields["idempotency_key"].initial = uuid.uuid4()
        add_denomination_fields(self)

    def bill_rows(self):
        return [self[name] for _key, name, is_coin in self.denominations if not is_coin]

    def coin_rows(self):
        return [self[name] for _key, name, is_coin in self.denominations if is_coin]

    def currency_count(self) -> dict[str, int]:
        data = self.cleaned_data
        return {key: data.get(name) or 0 for key, name, _coin in self.denominations}
