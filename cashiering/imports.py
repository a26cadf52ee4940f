"""Loading utility accounts and AR invoices from the billing systems' files.

A file is read by `kent_cs.uploads` (size, type by content, header found by name),
every line is checked before anything is written, and an import either changes the
records whole, in one transaction, or is refused with every bad line and its reason.

Balances. The billing system is the source of truth for what is owed *as of the file's
date*. A file "as of" a date includes every counter payment with a business date on or
before it: the day's payments are exported to billing at the end of that day. Payments
taken at the counter after that date are not in the file yet, so the balance kept here
is the file's balance less the counter payments (net of voids and reversals) dated
after it. That way a payment taken this morning is not owed again because last night's
file still shows it, and a later file that includes it does not take it off twice.
Importing the same file again therefore computes the same values and changes nothing.

Records that are not in a file are left as they are (a file may cover one billing cycle
or one route); the counter's payer index is updated for every record added or changed.
"""

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Model, Sum
from django.utils import timezone

from cashiering.models import ARInvoice, Receipt, ReceiptLine, UtilityAccount
from cashiering.payables import invoice_index_rows, utility_index_rows
from cashiering.targets import IndexRow, index_bulk_upsert
from kent_cs.audit import audit_actor
from kent_cs.money import ZERO
from kent_cs.uploads.cells import cell_date, cell_money, cell_text, parse_rows
from kent_cs.uploads.files import UploadSource
from kent_cs.uploads.results import Row, RowError, Table, UploadRefused
from kent_cs.uploads.tables import read_table

# Every bad line is listed (up to this many; a count says how many more).
MAX_LISTED_PROBLEMS = 1000
# How many changed records the summary describes one by one; the counts cover all.
MAX_LISTED_CHANGES = 500
_CHUNK = 5000


class ImportKind:
    UTILITY = "utility"
    INVOICE = "invoice"
    CHOICES = [(UTILITY, "Utility accounts"), (INVOICE, "AR invoices")]


@dataclass(frozen=True)
class Columns:
    required: tuple[str, ...]
    optional: tuple[str, ...]
    aliases: dict[str, tuple[str, ...]]


UTILITY_COLUMNS = Columns(
    required=("account_number", "name", "service_address", "balance"),
    optional=("balance_as_of",),
    aliases={
        "account_number": ("Account", "Account No", "Acct No", "Account #", "Acct #"),
        "name": ("Customer name", "Account name", "Customer"),
        "service_address": ("Service addr", "Address", "Location"),
        "balance": ("Balance due", "Current balance", "Amount owed"),
        "balance_as_of": ("As of", "Balance date", "As of date"),
    },
)
INVOICE_COLUMNS = Columns(
    required=("invoice_number", "customer_name", "amount", "amount_due"),
    optional=("customer_address", "description", "invoice_date", "due_date"),
    aliases={
        "invoice_number": ("Invoice", "Invoice No", "Invoice #", "Inv No", "Inv #"),
        "customer_name": ("Customer", "Name", "Bill to"),
        "customer_address": ("Address", "Billing address", "Customer addr"),
        "description": ("Memo", "Item", "Description of charges"),
        "invoice_date": ("Date", "Inv date", "Billed"),
        "due_date": ("Due", "Date due"),
        "amount": ("Invoice amount", "Original amount", "Billed amount"),
        "amount_due": ("Balance", "Balance due", "Open amount", "Amount outstanding"),
    },
)


def read_import_table(kind: str, source: UploadSource) -> Table:
    """The upload as a table with the columns of `kind`; UploadRefused otherwise."""
    columns = UTILITY_COLUMNS if kind == ImportKind.UTILITY else INVOICE_COLUMNS
    return read_table(
        source,
        required_columns=columns.required,
        optional_columns=columns.optional,
        column_aliases=columns.aliases,
    )


# --- the summary ----------------------------------------------------------------------


@dataclass(frozen=True)
class FieldChange:
    label: str
    old: str
    new: str


@dataclass(frozen=True)
class RecordChange:
    line: int
    number: str
    name: str
    is_new: bool
    changes: tuple[FieldChange, ...] = ()


@dataclass
class ImportSummary:
    kind: str
    label: str  # "utility accounts" / "AR invoices"
    file_name: str
    dry_run: bool
    rows: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    changes: list[RecordChange] = field(default_factory=list)  # the first MAX_LISTED_CHANGES
    warnings: list[str] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return self.new + self.updated

    @property
    def changes_not_listed(self) -> int:
        return self.changed - len(self.changes)


# --- shared mechanics -------------------------------------------------------------------


@dataclass
class _Planned:
    line: int
    number: str
    name: str
    values: dict[str, Any]  # the model's fields as they should be after the import


@dataclass(frozen=True)
class _Spec:
    kind: str
    label: str
    model: type[UtilityAccount] | type[ARInvoice]
    fields: tuple[tuple[str, str], ...]  # (field, label) the file sets
    index_rows: Callable[[Iterable[Any]], Iterable[IndexRow]]


_UTILITY = _Spec(
    kind=ImportKind.UTILITY,
    label="utility accounts",
    model=UtilityAccount,
    fields=(
        ("name", "Name"),
        ("service_address", "Service address"),
        ("balance", "Balance"),
        ("balance_as_of", "Balance as of"),
    ),
    index_rows=utility_index_rows,
)
_INVOICE = _Spec(
    kind=ImportKind.INVOICE,
    label="AR invoices",
    model=ARInvoice,
    fields=(
        ("customer_name", "Customer"),
        ("customer_address", "Address"),
        ("description", "Description"),
        ("invoice_date", "Invoice date"),
        ("due_date", "Due date"),
        ("amount", "Amount"),
        ("amount_due", "Amount due"),
    ),
    index_rows=invoice_index_rows,
)


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _unique_numbers(table: Table, column: str, label: str) -> Callable[[str, Row], None]:
    seen: dict[str, int] = {}
    unit = table.unit.lower()

    def check(number: str, row: Row) -> None:
        first = seen.setdefault(number, row.line)
        if first != row.line:
            raise RowError(f"{label} {number} is also on {unit} {first}.", column=column)

    return check


def _counter_payments_after(kind: str, refs: Sequence[str], since: date) -> dict[str, list]:
    """{ref: [(business date, net amount), ...]} of live counter payments dated after
    `since`: voided receipts are left out (the void took them off), reversals are
    negative lines and so count against the payment they undo."""
    found: dict[str, list] = defaultdict(list)
    for chunk in _chunks(refs):
        lines = (
            ReceiptLine.objects.filter(
                target_kind=kind,
                target_ref__in=chunk,
                receipt__is_training=False,
                receipt__status=Receipt.Status.POSTED,
                receipt__business_date__gt=since,
            )
            .values_list("target_ref", "receipt__business_date")
            .annotate(total=Sum("amount"))
            .order_by()
        )
        for ref, day, total in lines:
            found[ref].append((day, total))
    return found


def _paid_after(payments: dict[str, list], ref: str, as_of: date) -> Decimal:
    return sum((amount for day, amount in payments.get(ref, ()) if day > as_of), ZERO)


def _lock_for_import(model: type[Model]) -> None:
    """Counter payments on this kind of record wait while the import runs, and two
    imports of it run one after the other. Without it, a payment posted between reading
    the counter's payments and writing the new balance would be lost. EXCLUSIVE mode
    still lets pages and searches read; a payment's SELECT ... FOR UPDATE waits."""
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")


def _shown(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _apply(
    spec: _Spec,
    table: Table,
    parse: Callable[[Row], _Planned],
    *,
    user: Any,
    file_name: str,
    dry_run: bool,
    reconcile: Callable[[_Planned, dict[str, list], ImportSummary], None],
    earliest_as_of: Callable[[list[_Planned]], date | None],
) -> ImportSummary:
    """Check every row of `table` with `parse` (raising UploadRefused listing the bad
    lines), then add and update the records, each planned row first reconciled with the
    counter's payments since its balance date."""
    planned = parse_rows(table, parse, max_errors=MAX_LISTED_PROBLEMS)
    summary = ImportSummary(kind=spec.kind, label=spec.label, file_name=file_name, dry_run=dry_run)
    summary.rows = len(planned)
    since = earliest_as_of(planned)
    numbers = [p.number for p in planned]
    with transaction.atomic():
        if not dry_run:
            _lock_for_import(spec.model)
        existing: dict[str, Any] = {}
        for chunk in _chunks(numbers):
            existing.update(
                (record.number, record)
                for record in spec.model._default_manager.filter(number__in=chunk)
            )
        payments = (
            _counter_payments_after(spec.kind, [n for n in numbers if n in existing], since)
            if since is not None
            else {}
        )
        to_create: list[Any] = []
        to_update: list[Any] = []
        for plan in planned:
            reconcile(plan, payments, summary)
            record = existing.get(plan.number)
            if record is None:
                if not dry_run:
                    to_create.append(spec.model(number=plan.number, **plan.values))
                summary.new += 1
                if len(summary.changes) < MAX_LISTED_CHANGES:
                    summary.changes.append(
                        RecordChange(plan.line, plan.number, plan.name, is_new=True)
                    )
                continue
            changes = tuple(
                FieldChange(label, _shown(getattr(record, name)), _shown(plan.values[name]))
                for name, label in spec.fields
                if getattr(record, name) != plan.values[name]
            )
            if not changes:
                summary.unchanged += 1
                continue
            for name, _ in spec.fields:
                setattr(record, name, plan.values[name])
            to_update.append(record)
            summary.updated += 1
            if len(summary.changes) < MAX_LISTED_CHANGES:
                summary.changes.append(
                    RecordChange(plan.line, plan.number, plan.name, is_new=False, changes=changes)
                )
        if dry_run or not (to_create or to_update):
            return summary
        with audit_actor(user, source="import", reason=f"Import of {file_name}"):
            spec.model._default_manager.bulk_create(to_create, batch_size=1000)
            spec.model._default_manager.bulk_update(
                to_update, [name for name, _ in spec.fields], batch_size=500
            )
            index_bulk_upsert(spec.index_rows([*to_create, *to_update]))
    return summary


# --- utility accounts -------------------------------------------------------------------


def utility_accounts_import(
    *,
    table: Table,
    user: Any,
    as_of: date | None,
    dry_run: bool,
    file_name: str = "",
) -> ImportSummary:
    """Add and update utility accounts from the billing system's file.

    `as_of` is the date the file's balances are as of; a "balance as of" column, where
    filled, overrides it for its line. The balance kept is the file's less the counter
    payments dated after that date (see the module's docstring). Raises UploadRefused
    listing every bad line; writes nothing when `dry_run`.
    """
    today = timezone.localdate()
    has_date_column = "balance_as_of" in table.columns
    if as_of is None and not has_date_column:
        raise UploadRefused(
            'Enter the date the balances are as of, or add a "balance as of" column to the file.'
        )
    if as_of is not None and as_of > today:
        raise UploadRefused(f"The balance date {as_of.isoformat()} is in the future.")
    unique = _unique_numbers(table, "account_number", "Account")

    def parse(row: Row) -> _Planned:
        number = cell_text(row, "account_number", max_length=20)
        unique(number, row)
        name = cell_text(row, "name", max_length=120)
        balance = cell_money(row, "balance")
        line_as_of = cell_date(row, "balance_as_of", required=False) if has_date_column else None
        line_as_of = line_as_of or as_of
        if line_as_of is None:
            raise RowError("Enter the date the balance is as of.", column="balance_as_of")
        if line_as_of > today:
            raise RowError(
                f"{line_as_of.isoformat()} is in the future; balances are as of a past date.",
                column="balance_as_of",
            )
        return _Planned(
            line=row.line,
            number=number,
            name=name,
            values={
                "name": name,
                "service_address": cell_text(row, "service_address", max_length=200),
                "balance": balance,
                "balance_as_of": line_as_of,
            },
        )

    def reconcile(plan: _Planned, payments: dict[str, list], summary: ImportSummary) -> None:
        values = plan.values
        # An overpayment leaves a credit, as at the counter: the balance may go negative.
        values["balance"] -= _paid_after(payments, plan.number, values["balance_as_of"])

    return _apply(
        _UTILITY,
        table,
        parse,
        user=user,
        file_name=file_name,
        dry_run=dry_run,
        reconcile=reconcile,
        earliest_as_of=lambda planned: min(
            (p.values["balance_as_of"] for p in planned), default=None
        ),
    )


# --- AR invoices ------------------------------------------------------------------------


def invoices_import(
    *,
    table: Table,
    user: Any,
    as_of: date | None,
    dry_run: bool,
    file_name: str = "",
) -> ImportSummary:
    """Add and update AR invoices from the AR system's file.

    An invoice's amount due may not exceed its amount, nor be negative. The amount due
    kept is the file's less the counter payments dated after `as_of` (the file's date;
    see the module's docstring), so an invoice partly paid at the counter since the file
    was made keeps its lower amount due, and one whose payment the file already includes
    is not reduced twice. If the counter took more since then than the file says is due
    (AR adjusted the invoice meanwhile), the amount due stops at zero and the summary
    says so, for AR to look at.
    """
    if as_of is None:
        raise UploadRefused("Enter the date the AR system made the file (amounts due as of).")
    if as_of > timezone.localdate():
        raise UploadRefused(f"The date {as_of.isoformat()} is in the future.")
    unique = _unique_numbers(table, "invoice_number", "Invoice")

    def parse(row: Row) -> _Planned:
        number = cell_text(row, "invoice_number", max_length=20)
        unique(number, row)
        name = cell_text(row, "customer_name", max_length=120)
        amount = cell_money(row, "amount")
        amount_due = cell_money(row, "amount_due")
        invoice_date = cell_date(row, "invoice_date", required=False)
        due_date = cell_date(row, "due_date", required=False)
        if amount is not None and amount <= 0:
            raise RowError("The invoice amount must be more than zero.", column="amount")
        if amount_due is not None and amount_due < 0:
            raise RowError("The amount due cannot be negative.", column="amount_due")
        if amount is not None and amount_due is not None and amount_due > amount:
            raise RowError(
                f"The amount due ({amount_due}) is more than the invoice amount ({amount}).",
                column="amount_due",
            )
        if invoice_date and due_date and due_date < invoice_date:
            raise RowError(
                f"The due date {due_date.isoformat()} is before the invoice date "
                f"{invoice_date.isoformat()}.",
                column="due_date",
            )
        return _Planned(
            line=row.line,
            number=number,
            name=name,
            values={
                "customer_name": name,
                "customer_address": cell_text(
                    row, "customer_address", required=False, max_length=200
                ),
                "description": cell_text(row, "description", required=False, max_length=200),
                "invoice_date": invoice_date,
                "due_date": due_date,
                "amount": amount,
                "amount_due": amount_due,
            },
        )

    def reconcile(plan: _Planned, payments: dict[str, list], summary: ImportSummary) -> None:
        values = plan.values
        paid = _paid_after(payments, plan.number, as_of)
        due = values["amount_due"] - paid
        if due < 0:
            summary.warnings.append(
                f"Invoice {plan.number} ({table.unit.lower()} {plan.line}): the counter took "
                f"{paid} since {as_of.isoformat()}, more than the {values['amount_due']} the "
                "file says is due; its amount due is set to 0.00. Ask AR to check the invoice."
            )
            due = ZERO
        elif due > values["amount"]:
            summary.warnings.append(
                f"Invoice {plan.number} ({table.unit.lower()} {plan.line}): payments reversed at "
                f"the counter since {as_of.isoformat()} would make more due than the invoice "
                "amount; its amount due is set to the invoice amount. Ask AR to check the invoice."
            )
            due = values["amount"]
        values["amount_due"] = due

    return _apply(
        _INVOICE,
        table,
        parse,
        user=user,
        file_name=file_name,
        dry_run=dry_run,
        reconcile=reconcile,
        earliest_as_of=lambda planned: as_of,
    )


IMPORTERS: dict[str, Callable[..., ImportSummary]] = {
    ImportKind.UTILITY: utility_accounts_import,
    ImportKind.INVOICE: invoices_import,
}
