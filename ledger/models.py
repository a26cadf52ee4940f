"""The general ledger: funds, accounts, fee codes, periods and immutable journal entries."""

from decimal import Decimal

import pghistory
import pgtrigger
from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse

from kent_cs.db import TransactionNow
from kent_cs.history import tracked
from kent_cs.money import ZERO, MoneyField, split_by_weights, to_money

PROTECT_DELETE = pgtrigger.Protect(name="protect_delete", operation=pgtrigger.Delete)
PROTECT_CHANGE = pgtrigger.Protect(
    name="protect_change", operation=pgtrigger.Update | pgtrigger.Delete
)


@tracked()
class Fund(models.Model):
    code = models.CharField(
        max_length=3,
        unique=True,
        validators=[RegexValidator(r"^\d{3}$", "A fund code is three digits, e.g. 001.")],
    )
    name = models.CharField(max_length=100)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]
        triggers = [PROTECT_DELETE]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


@tracked()
class GLAccount(models.Model):
    class Type(models.TextChoices):
        ASSET = "asset", "Asset"
        LIABILITY = "liability", "Liability"
        FUND_BALANCE = "fund_balance", "Fund balance"
        REVENUE = "revenue", "Revenue"
        EXPENDITURE = "expenditure", "Expenditure"

    fund = models.ForeignKey(Fund, on_delete=models.PROTECT, related_name="accounts")
    code = models.CharField(
        max_length=20,
        validators=[
            RegexValidator(
                r"^\d{3}(\.\d{2}){0,3}$",
                "Use a BARS-style code: three digits, then up to three .NN parts (321.10.00).",
            )
        ],
        help_text="BARS-style account code, e.g. 321.10.00 business licenses.",
    )
    name = models.CharField(max_length=150)
    account_type = models.CharField(max_length=12, choices=Type.choices)
    is_cash = models.BooleanField("cash", default=False, help_text="Cash on hand or in bank")
    is_clearing = models.BooleanField(
        "clearing", default=False, help_text="Should be zero once the day's deposit is made"
    )
    is_control = models.BooleanField(
        "control", default=False, help_text="Balanced against a subsidiary system"
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["fund__code", "code"]
        constraints = [
            models.UniqueConstraint(fields=["fund", "code"], name="glaccount_unique_code")
        ]
        triggers = [PROTECT_DELETE]
        verbose_name = "GL account"

    def __str__(self) -> str:
        return f"{self.full_code} {self.name}"

    def get_absolute_url(self) -> str:
        return reverse("ledger:account-detail", args=[self.pk])

    @property
    def full_code(self) -> str:
        return f"{self.fund.code}.{self.code}"

    @property
    def debit_normal(self) -> bool:
        return self.account_type in (self.Type.ASSET, self.Type.EXPENDITURE)


@tracked()
class FeeCode(models.Model):
    """What a payment line is for; its distribution says which GL accounts it credits."""

    code = models.CharField(
        max_length=20,
        unique=True,
        validators=[RegexValidator(r"^[A-Z0-9][A-Z0-9-]*$", "Use capitals, digits and dashes.")],
    )
    name = models.CharField(max_length=120)
    default_amount = MoneyField(null=True, blank=True, validators=[MinValueValidator(ZERO)])
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]
        triggers = [PROTECT_DELETE]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    def distribute(self, amount: Decimal) -> list[tuple["GLAccount", Decimal]]:
        """Split `amount` over the GL distribution: fixed amounts first, the rest by percent.

        A negative amount (a reversal) is split like its positive and negated, so a
        reversal undoes exactly what the original credited. When the amount is less than
        the fixed parts (a partial payment), it is shared in proportion to them.
        """
        prefetched = getattr(self, "_prefetched_objects_cache", {})
        if "distributions" in prefetched:  # a poster that loads many codes at once
            rows = list(prefetched["distributions"])
        else:
            rows = list(self.distributions.select_related("account__fund"))
        if not rows:
            raise ValueError(f"Fee code {self.code} has no GL distribution.")
        amount = to_money(amount)
        sign = -1 if amount < 0 else 1
        remaining = abs(amount)
        fixed = [r for r in rows if r.fixed_amount is not None]
        share = [r for r in rows if r.percent is not None]
        parts: list[tuple[GLAccount, Decimal]] = []
        fixed_total = sum((r.fixed_amount for r in fixed), ZERO)
        if fixed and (remaining <= fixed_total or not share):
            weights = [r.fixed_amount for r in fixed] if fixed_total else [Decimal(1)] * len(fixed)
            for row, part in zip(fixed, split_by_weights(remaining, weights), strict=True):
                parts.append((row.account, part))
            remaining = ZERO
        else:
            for row in fixed:
                parts.append((row.account, row.fixed_amount))
                remaining -= row.fixed_amount
        if share and remaining:
            weights = [r.percent for r in share]
            for row, part in zip(share, split_by_weights(remaining, weights), strict=True):
                parts.append((row.account, part))
        return [(account, sign * part) for account, part in parts if part]


@tracked(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())
class FeeDistribution(models.Model):
    fee_code = models.ForeignKey(FeeCode, on_delete=models.CASCADE, related_name="distributions")
    account = models.ForeignKey(GLAccount, on_delete=models.PROTECT, related_name="+")
    percent = models.DecimalField(
        max_digits=7,
        decimal_places=4,
        null=True,
        blank=True,
        help_text="Share of what is left after fixed amounts, in percent.",
    )
    fixed_amount = MoneyField(null=True, blank=True, help_text="Fixed amount taken first.")

    class Meta:
        ordering = ["fee_code", "id"]
        constraints = [
            models.UniqueConstraint(fields=["fee_code", "account"], name="feedist_unique_account"),
            models.CheckConstraint(
                condition=(
                    Q(percent__isnull=False, fixed_amount__isnull=True, percent__gt=0)
                    & Q(percent__lte=100)
                )
                | Q(percent__isnull=True, fixed_amount__isnull=False, fixed_amount__gt=0),
                name="feedist_percent_or_fixed",
            ),
        ]

    def __str__(self) -> str:
        share = f"{self.percent}%" if self.percent is not None else f"${self.fixed_amount}"
        return f"{self.fee_code.code} → {self.account.full_code} {share}"


@tracked()
class AccountingPeriod(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    year = models.PositiveSmallIntegerField()
    month = models.PositiveSmallIntegerField()
    start_date = models.DateField()
    end_date = models.DateField()
    status = models.CharField(max_length=6, choices=Status.choices, default=Status.OPEN)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    status_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-start_date"]
        constraints = [
            models.UniqueConstraint(fields=["year", "month"], name="period_unique_month"),
            models.CheckConstraint(condition=Q(month__gte=1, month__lte=12), name="period_month"),
            models.CheckConstraint(
                condition=Q(end_date__gte=models.F("start_date")), name="period_dates"
            ),
        ]
        triggers = [PROTECT_DELETE]
        permissions = [("close_accountingperiod", "Can close and reopen accounting periods")]

    def __str__(self) -> str:
        return self.start_date.strftime("%B %Y")

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN


@tracked(pghistory.InsertEvent())
class JournalEntry(models.Model):
    """A posted journal entry. Immutable: corrections are new, reversing entries."""

    number = models.PositiveBigIntegerField(unique=True)
    period = models.ForeignKey(AccountingPeriod, on_delete=models.PROTECT, related_name="entries")
    entry_date = models.DateField()
    memo = models.CharField(max_length=300)
    source = models.CharField(max_length=30, default="manual")
    source_ref = models.CharField(max_length=100, blank=True)
    reverses = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by"
    )
    posted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    # The database sets this to the posting transaction's start time; lines may only be
    # added in that same transaction (see JournalLine's triggers).
    posted_at = models.DateTimeField(db_default=TransactionNow(), editable=False)

    class Meta:
        ordering = ["-number"]
        verbose_name_plural = "journal entries"
        permissions = [("post_journalentry", "Can post and reverse journal entries")]
        indexes = [
            models.Index(fields=["entry_date", "number"], name="je_date_number"),
            # Entries are found by their source, never by a LIKE on it.
            models.Index(fields=["source"], name="je_source"),
        ]
        triggers = [
            PROTECT_CHANGE,
            pgtrigger.Trigger(
                name="post_only_into_open_period",
                operation=pgtrigger.Insert,
                when=pgtrigger.Before,
                func="""
                DECLARE
                    period_row ledger_accountingperiod%ROWTYPE;
                BEGIN
                    -- FOR SHARE: closing a period waits for postings in flight, and a
                    -- posting waits for a close in flight.
                    SELECT * INTO period_row FROM ledger_accountingperiod
                        WHERE id = NEW.period_id FOR SHARE;
                    IF period_row.status <> 'open' THEN
                        RAISE EXCEPTION 'accounting period % is closed', period_row.start_date
                            USING ERRCODE = 'check_violation';
                    END IF;
                    IF NEW.entry_date < period_row.start_date
                       OR NEW.entry_date > period_row.end_date THEN
                        RAISE EXCEPTION 'entry date % is outside its period', NEW.entry_date
                            USING ERRCODE = 'check_violation';
                    END IF;
                    RETURN NEW;
                END;
                """,
            ),
            pgtrigger.Trigger(
                name="entry_balances_at_commit",
                operation=pgtrigger.Insert,
                when=pgtrigger.After,
                timing=pgtrigger.Deferred,
                func="""
                DECLARE
                    total_debit numeric;
                    total_credit numeric;
                    line_count integer;
                BEGIN
                    SELECT coalesce(sum(debit), 0), coalesce(sum(credit), 0), count(*)
                        INTO total_debit, total_credit, line_count
                        FROM ledger_journalline WHERE entry_id = NEW.id;
                    IF line_count < 2 OR total_debit <> total_credit THEN
                        RAISE EXCEPTION
                            'journal entry % does not balance (debits %, credits %, % lines)',
                            NEW.number, total_debit, total_credit, line_count
                            USING ERRCODE = 'check_violation';
                    END IF;
                    RETURN NULL;
                END;
                """,
            ),
        ]

    def __str__(self) -> str:
        return f"JE {self.number}"

    def get_absolute_url(self) -> str:
        return reverse("ledger:entry-detail", args=[self.number])


# No event table: lines are written only in their entry's transaction (the
# lines_only_while_posting trigger) and never change, so the entry's event already holds
# their context and time, and an event would copy the row as it still is.
class JournalLine(models.Model):
    # Both keys are indexed as the first column of a two-column index: jl_unique_line_no
    # (entry, line_no) and jl_account_entry (account, entry).
    entry = models.ForeignKey(
        JournalEntry, on_delete=models.PROTECT, related_name="lines", db_index=False
    )
    line_no = models.PositiveSmallIntegerField()
    account = models.ForeignKey(
        GLAccount, on_delete=models.PROTECT, related_name="lines", db_index=False
    )
    debit = MoneyField(default=ZERO)
    credit = MoneyField(default=ZERO)
    memo = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["entry", "line_no"]
        constraints = [
            models.UniqueConstraint(fields=["entry", "line_no"], name="jl_unique_line_no"),
            models.CheckConstraint(
                condition=(Q(debit__gt=0) & Q(credit=0)) | (Q(credit__gt=0) & Q(debit=0)),
                name="jl_one_side_positive",
            ),
        ]
        indexes = [models.Index(fields=["account", "entry"], name="jl_account_entry")]
        triggers = [
            PROTECT_CHANGE,
            pgtrigger.Trigger(
                name="lines_only_while_posting",
                operation=pgtrigger.Insert,
                when=pgtrigger.Before,
                func="""
                BEGIN
                    IF (SELECT posted_at FROM ledger_journalentry WHERE id = NEW.entry_id)
                       <> now() THEN
                        RAISE EXCEPTION 'journal entry % is already posted; post a new entry',
                            NEW.entry_id USING ERRCODE = 'check_violation';
                    END IF;
                    RETURN NEW;
                END;
                """,
            ),
        ]

    def __str__(self) -> str:
        side = f"Dr {self.debit}" if self.debit else f"Cr {self.credit}"
        return f"{self.entry} #{self.line_no} {self.account.full_code} {side}"

    @property
    def amount(self) -> Decimal:
        """Signed amount: debit positive, credit negative."""
        return self.debit - self.credit


# --- bank accounts, statements and reconciliation ---------------------------------------


@tracked()
class BankAccount(models.Model):
    """A city bank account: statements are imported into it and matched to its GL account."""

    name = models.CharField(max_length=100)
    number = models.CharField(
        max_length=34, unique=True, help_text="Account number as the bank writes it in statements"
    )
    routing_number = models.CharField(max_length=9, blank=True)
    currency = models.CharField(max_length=3, default="USD")
    gl_account = models.ForeignKey(
        GLAccount,
        on_delete=models.PROTECT,
        related_name="bank_accounts",
        limit_choices_to={"is_cash": True},
        help_text="The cash account deposits are debited to",
    )
    is_default = models.BooleanField(
        default=False, help_text="Where counter deposits go unless chosen otherwise"
    )
    is_active = models.BooleanField(default=True)
    csv_columns = models.JSONField(
        default=dict,
        blank=True,
        help_text="The column mapping of the last CSV or Excel statement imported for this "
        "account ({'date': 'Posting Date', 'amount': 'Amount', ...}); offered next time.",
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="one_default_bank_account"
            ),
        ]
        triggers = [PROTECT_DELETE]

    def __str__(self) -> str:
        return f"{self.name} ({self.masked_number})"

    @property
    def masked_number(self) -> str:
        return f"…{self.number[-4:]}"


@tracked(pghistory.InsertEvent())
class BankStatementImport(models.Model):
    """One bank file taken in whole. The same file (by content hash) is never taken twice."""

    class Format(models.TextChoices):
        BAI2 = "bai2", "BAI2"
        CAMT053 = "camt053", "ISO 20022 camt.053"
        OFX = "ofx", "OFX"
        CSV = "csv", "Mapped CSV"

    file_name = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64, unique=True)
    format = models.CharField(max_length=8, choices=Format.choices)
    size_bytes = models.PositiveBigIntegerField()
    file_id = models.CharField(max_length=100, blank=True, help_text="The sender's file id")
    statement_count = models.PositiveIntegerField()
    transaction_count = models.PositiveIntegerField()
    total_credits = MoneyField()
    total_debits = MoneyField()
    imported_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    imported_at = models.DateTimeField(db_default=TransactionNow(), editable=False)
    # A file that reads but does not add up (trailer totals, balances) is taken only with
    # a supervisor's approval and reason; its statements are marked unbalanced.
    discrepancy_approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    discrepancy_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-imported_at"]
        triggers = [PROTECT_CHANGE]
        permissions = [
            ("import_bank_files", "Can import bank statement files"),
            ("reconcile_bank", "Can match bank lines to deposits and book entries"),
            (
                "approve_bank_discrepancy",
                "Can approve importing a bank file whose totals or balances do not add up",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(discrepancy_approved_by__isnull=True, discrepancy_reason="")
                | (Q(discrepancy_approved_by__isnull=False) & ~Q(discrepancy_reason="")),
                name="bankimport_discrepancy_approved_with_reason",
            ),
            models.CheckConstraint(
                condition=~Q(discrepancy_approved_by=models.F("imported_by")),
                name="bankimport_discrepancy_not_self_approved",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_format_display()} {self.file_name}"


class BankStatement(models.Model):
    """One account's statement in an imported file."""

    statement_import = models.ForeignKey(
        BankStatementImport, on_delete=models.PROTECT, related_name="statements"
    )
    bank_account = models.ForeignKey(
        BankAccount, on_delete=models.PROTECT, related_name="statements"
    )
    statement_id = models.CharField(max_length=120)
    start_date = models.DateField()
    end_date = models.DateField()
    currency = models.CharField(max_length=3)
    opening_balance = MoneyField(null=True, blank=True)
    closing_balance = MoneyField(null=True, blank=True)
    source_line = models.PositiveIntegerField()
    # Imported with discrepancies (BankDiscrepancy): its lines are never matched
    # automatically, and the reconciliation page lists it until someone explains it.
    is_unbalanced = models.BooleanField(default=False)

    class Meta:
        ordering = ["-end_date", "-id"]
        constraints = [
            # The same statement in a differently written file is still the same statement.
            models.UniqueConstraint(
                fields=["bank_account", "statement_id"], name="bankstatement_unique_id"
            ),
        ]
        triggers = [PROTECT_CHANGE]

    def __str__(self) -> str:
        return f"{self.bank_account} {self.start_date} to {self.end_date}"


@tracked(pghistory.InsertEvent())
class BankDiscrepancy(models.Model):
    """Where an imported statement's file disagrees with itself, as it was approved: the
    figure the file gives (`expected`) and what its records come to (`found`)."""

    class Kind(models.TextChoices):
        CONTROL_TOTAL = "control_total", "Control total"
        RECORD_COUNT = "record_count", "Record count"
        ACCOUNT_COUNT = "account_count", "Number of accounts"
        GROUP_COUNT = "group_count", "Number of groups"
        BALANCE = "balance", "Balances"
        SUMMARY = "summary", "Transaction summary"
        DATES = "dates", "Statement dates"

    statement = models.ForeignKey(
        BankStatement, on_delete=models.PROTECT, related_name="discrepancies"
    )
    source_line = models.PositiveIntegerField(null=True, blank=True)
    # Which record on the line, where the line holds several (a blocked BAI2 file).
    source_record = models.PositiveIntegerField(null=True, blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    where = models.CharField(max_length=200)
    expected = models.CharField(max_length=100)
    found = models.CharField(max_length=100)
    difference = models.CharField(max_length=100, blank=True)
    amount = MoneyField(null=True, blank=True, help_text="The difference in money, if money")
    message = models.CharField(max_length=500)

    class Meta:
        ordering = ["statement", "source_line", "id"]
        triggers = [PROTECT_CHANGE]

    def __str__(self) -> str:
        return self.message


@tracked(pghistory.InsertEvent())
class BankStatementExplanation(models.Model):
    """A person's note on why an unbalanced statement's discrepancies are understood.
    Written once; the statement then leaves the reconciliation page's unbalanced list."""

    statement = models.OneToOneField(
        BankStatement, on_delete=models.PROTECT, related_name="explanation"
    )
    note = models.CharField(max_length=500)
    explained_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    explained_at = models.DateTimeField(db_default=TransactionNow(), editable=False)

    class Meta:
        triggers = [PROTECT_CHANGE]
        constraints = [
            models.CheckConstraint(condition=~Q(note=""), name="bankexplanation_has_note"),
        ]

    def __str__(self) -> str:
        return f"Explanation of {self.statement}"


class BankTransaction(models.Model):
    """A line of a bank statement: + money in, - money out. Never changed once imported."""

    statement = models.ForeignKey(
        BankStatement, on_delete=models.PROTECT, related_name="transactions"
    )
    bank_account = models.ForeignKey(
        BankAccount,
        on_delete=models.PROTECT,
        related_name="transactions",
        db_index=False,  # banktxn_account_date starts with it
    )
    source_line = models.PositiveIntegerField()
    booked_date = models.DateField()
    value_date = models.DateField(null=True, blank=True)
    amount = MoneyField()
    type_code = models.CharField(max_length=40, blank=True)
    is_returned_item = models.BooleanField(default=False)
    bank_ref = models.CharField(max_length=100, blank=True)
    customer_ref = models.CharField(max_length=100, blank=True)
    description = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["booked_date", "id"]
        indexes = [
            models.Index(fields=["bank_account", "booked_date"], name="banktxn_account_date"),
            models.Index(fields=["amount"], name="banktxn_amount"),
        ]
        triggers = [PROTECT_CHANGE]

    def __str__(self) -> str:
        return f"{self.booked_date} {self.amount} {self.description[:40]}"


@tracked()
class BankMatch(models.Model):
    """Bank lines matched to book lines (journal lines on the bank's GL account).

    The amounts of both sides are equal. A match is undone (with a reason), never deleted,
    so the reconciliation's history stays readable.
    """

    class Method(models.TextChoices):
        AUTO = "auto", "Automatic"
        MANUAL = "manual", "By hand"

    bank_account = models.ForeignKey(BankAccount, on_delete=models.PROTECT, related_name="matches")
    method = models.CharField(max_length=6, choices=Method.choices)
    amount = MoneyField()
    note = models.CharField(max_length=300, blank=True)
    matched_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    matched_at = models.DateTimeField(auto_now_add=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    undone_at = models.DateTimeField(null=True, blank=True)
    undo_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-matched_at"]
        triggers = [PROTECT_DELETE]

    def __str__(self) -> str:
        return f"Match {self.pk} {self.amount}"

    @property
    def is_active(self) -> bool:
        return self.undone_at is None


class BankMatchItem(models.Model):
    """One side of a match: a bank line or a book line. Active items are unique per line."""

    match = models.ForeignKey(BankMatch, on_delete=models.PROTECT, related_name="items")
    bank_transaction = models.ForeignKey(
        BankTransaction, null=True, blank=True, on_delete=models.PROTECT, related_name="match_items"
    )
    journal_line = models.ForeignKey(
        JournalLine, null=True, blank=True, on_delete=models.PROTECT, related_name="match_items"
    )
    amount = MoneyField(help_text="Signed: + money into the bank")
    is_active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(bank_transaction__isnull=True) ^ Q(journal_line__isnull=True),
                name="bankmatchitem_one_side",
            ),
            models.UniqueConstraint(
                fields=["bank_transaction"],
                condition=Q(is_active=True, bank_transaction__isnull=False),
                name="bankmatchitem_bank_once",
            ),
            models.UniqueConstraint(
                fields=["journal_line"],
                condition=Q(is_active=True, journal_line__isnull=False),
                name="bankmatchitem_book_once",
            ),
        ]
        triggers = [PROTECT_DELETE]

    def __str__(self) -> str:
        return f"{self.match} item {self.pk}"
