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
from kent_cs.money import ZERO, MoneyField, split_by_weights, to_money

PROTECT_DELETE = pgtrigger.Protect(name="protect_delete", operation=pgtrigger.Delete)
PROTECT_CHANGE = pgtrigger.Protect(
    name="protect_change", operation=pgtrigger.Update | pgtrigger.Delete
)


@pghistory.track()
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


@pghistory.track()
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


@pghistory.track()
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


@pghistory.track(pghistory.InsertEvent(), pghistory.UpdateEvent(), pghistory.DeleteEvent())
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


@pghistory.track()
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


@pghistory.track(pghistory.InsertEvent())
class JournalEntry(models.Model):
    """A posted journal entry. Immutable: corrections are new, reversing entries."""

    number = models.PositiveBigIntegerField(unique=True)
    period = models.ForeignKey(AccountingPeriod, on_delete=models.PROTECT, related_name="entries")
    entry_date = models.DateField()
    memo = models.CharField(max_length=300)
    source = models.CharField(max_length=30, default="manual", db_index=True)
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
        indexes = [models.Index(fields=["entry_date", "number"], name="je_date_number")]
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


@pghistory.track(pghistory.InsertEvent())
class JournalLine(models.Model):
    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="lines")
    line_no = models.PositiveSmallIntegerField()
    account = models.ForeignKey(GLAccount, on_delete=models.PROTECT, related_name="lines")
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
