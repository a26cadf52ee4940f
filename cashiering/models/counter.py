"""The counter: drawers, sessions, receipts, tenders, corrections, subsystem accounts."""

import pghistory
import pgtrigger
from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import Q
from django.urls import reverse

from kent_cs.db import TransactionNow
from kent_cs.history import tracked
from kent_cs.money import ZERO, MoneyField
from ledger.models import FeeCode, GLAccount, JournalEntry

PROTECT_DELETE = pgtrigger.Protect(name="protect_delete", operation=pgtrigger.Delete)
APPEND_ONLY = pgtrigger.Protect(name="append_only", operation=pgtrigger.Update | pgtrigger.Delete)


@tracked()
class TenderType(models.Model):
    """How a payer pays: cash, check, money order, card, ACH."""

    class Kind(models.TextChoices):
        CASH = "cash", "Cash"
        CHECK = "check", "Check"
        MONEY_ORDER = "money_order", "Money order"
        CARD = "card", "Credit/debit card"
        ACH = "ach", "ACH / electronic"

    code = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=60)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    counts_in_drawer = models.BooleanField(
        default=True, help_text="Physically in the drawer and deposited with the bank deposit"
    )
    requires_reference = models.BooleanField(
        default=False, help_text="Check number, or card brand, last 4 and authorization code"
    )
    gives_change = models.BooleanField(default=False, help_text="Only cash gives change")
    clearing_account = models.ForeignKey(
        GLAccount,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Debited when a receipt is paid with this tender",
    )
    sort_order = models.PositiveSmallIntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["sort_order", "code"]
        triggers = [PROTECT_DELETE]

    def __str__(self) -> str:
        return self.name


@tracked()
class Drawer(models.Model):
    code = models.CharField(max_length=10, unique=True)
    name = models.CharField(max_length=60)
    location = models.CharField(max_length=100, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]
        triggers = [PROTECT_DELETE]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


@tracked()
class CashierSession(models.Model):
    """One cashier on one drawer for one business date, from opening float to deposit."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"
        BALANCED = "balanced", "Balanced"
        DEPOSITED = "deposited", "Deposited"

    cashier = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="cashier_sessions"
    )
    drawer = models.ForeignKey(Drawer, on_delete=models.PROTECT, related_name="sessions")
    business_date = models.DateField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    is_training = models.BooleanField(
        default=False, help_text="Training receipts: own numbers, no GL, no deposit, no reports"
    )
    opening_float = MoneyField()
    opening_count = models.JSONField(
        default=dict, help_text="Opening float counted by denomination: {'20.00': 5, ...}"
    )
    opened_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    earlier_date_approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The supervisor who approved opening for a business date before today.",
    )
    earlier_date_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-business_date", "-opened_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["cashier"], condition=Q(status="open"), name="one_open_session_per_cashier"
            ),
            models.UniqueConstraint(
                fields=["drawer"], condition=Q(status="open"), name="one_open_session_per_drawer"
            ),
            models.CheckConstraint(condition=Q(opening_float__gte=0), name="session_float_gte_0"),
            models.CheckConstraint(
                condition=Q(earlier_date_approved_by__isnull=True, earlier_date_reason="")
                | (Q(earlier_date_approved_by__isnull=False) & ~Q(earlier_date_reason="")),
                name="session_earlier_date_approved_with_reason",
            ),
        ]
        triggers = [
            PROTECT_DELETE,
            pgtrigger.FSM(
                name="session_status_forward",
                field="status",
                transitions=[
                    ("open", "closed"),
                    ("closed", "balanced"),
                    ("balanced", "deposited"),
                    ("closed", "open"),
                ],
            ),
        ]
        permissions = [
            ("operate_drawer", "Can open a drawer session and take payments"),
            ("view_all_sessions", "Can see every cashier's sessions"),
            (
                "approve_earlier_business_date",
                "Can approve opening a drawer for a business date before today",
            ),
        ]

    def __str__(self) -> str:
        training = " (training)" if self.is_training else ""
        return f"{self.drawer.code} {self.cashier.get_username()} {self.business_date}{training}"

    def get_absolute_url(self) -> str:
        return reverse("cashiering:session-detail", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN


@tracked()
class Receipt(models.Model):
    """A posted payment. Never edited or deleted: a void marks it VOID and reverses its
    entry; a later correction is a new, negative receipt that points back to it."""

    class Status(models.TextChoices):
        POSTED = "posted", "Posted"
        VOIDED = "voided", "Void"

    series = models.CharField(max_length=2, default="R", help_text="R live, T training")
    number = models.PositiveBigIntegerField()
    # Indexed by receipt_session (session, number), as a receipt's lines and tenders are
    # by their unique (receipt, line_no): no index of their own.
    session = models.ForeignKey(
        CashierSession, on_delete=models.PROTECT, related_name="receipts", db_index=False
    )
    business_date = models.DateField()
    payer_name = models.CharField(max_length=120)
    status = models.CharField(max_length=6, choices=Status.choices, default=Status.POSTED)
    total = MoneyField(help_text="Sum of the lines")
    tendered = MoneyField(help_text="Sum of the tenders")
    change_given = MoneyField(default=ZERO)
    is_training = models.BooleanField(default=False)
    idempotency_key = models.UUIDField(unique=True)
    request_hash = models.CharField(max_length=64)
    journal_entry = models.OneToOneField(
        JournalEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="receipt"
    )
    void_entry = models.OneToOneField(
        JournalEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="voided_receipt"
    )
    reverses = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by"
    )
    memo = models.CharField(max_length=200, blank=True)
    posted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    posted_at = models.DateTimeField(db_default=TransactionNow(), editable=False)
    voided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-posted_at"]
        constraints = [
            models.UniqueConstraint(fields=["series", "number"], name="receipt_unique_number"),
            models.CheckConstraint(
                condition=Q(tendered=models.F("total") + models.F("change_given")),
                name="receipt_tenders_minus_change_equal_lines",
            ),
            models.CheckConstraint(condition=Q(change_given__gte=0), name="receipt_change_gte_0"),
            models.CheckConstraint(
                condition=Q(is_training=True, journal_entry__isnull=True)
                | Q(is_training=False, journal_entry__isnull=False),
                name="receipt_live_has_entry",
            ),
            # A void is the status, its time and (live receipts) its reversing entry, all
            # together: never a receipt marked void whose entry still stands in the ledger.
            models.CheckConstraint(
                condition=Q(status="posted", voided_at__isnull=True, void_entry__isnull=True)
                | Q(status="voided", voided_at__isnull=False, is_training=True)
                & Q(void_entry__isnull=True)
                | Q(status="voided", voided_at__isnull=False, is_training=False)
                & Q(void_entry__isnull=False),
                name="receipt_void_fields_match_status",
            ),
            models.CheckConstraint(
                condition=Q(reverses__isnull=True, total__gt=0)
                | Q(reverses__isnull=False, total__lt=0),
                name="receipt_total_sign",
            ),
        ]
        indexes = [
            models.Index(fields=["session", "number"], name="receipt_session"),
            models.Index(fields=["business_date"], name="receipt_business_date"),
        ]
        triggers = [
            PROTECT_DELETE,
            pgtrigger.FSM(
                name="receipt_void_once", field="status", transitions=[("posted", "voided")]
            ),
            # Only the void fields may change after posting, and only once: a voided
            # receipt is final.
            pgtrigger.ReadOnly(
                name="receipt_posted_readonly",
                exclude=["status", "void_entry", "voided_at"],
            ),
            pgtrigger.Protect(
                name="receipt_void_is_final",
                operation=pgtrigger.Update,
                condition=pgtrigger.Q(old__status="voided"),
            ),
            # A closed business day takes no posting: no new receipt and no void in it.
            pgtrigger.Trigger(
                name="receipt_business_day_open",
                operation=pgtrigger.Insert | pgtrigger.Update,
                when=pgtrigger.Before,
                func="""
                BEGIN
                    IF EXISTS (SELECT 1 FROM cashiering_businessday
                               WHERE business_date = NEW.business_date AND status = 'closed')
                    THEN
                        RAISE EXCEPTION 'business day % is closed', NEW.business_date
                            USING ERRCODE = 'check_violation';
                    END IF;
                    RETURN NEW;
                END;
                """,
            ),
        ]
        permissions = [
            ("approve_correction", "Can approve voids and reversals of receipts"),
            ("view_all_receipts", "Can see every cashier's receipts"),
        ]

    def __str__(self) -> str:
        return f"{self.series}-{self.number}"

    def get_absolute_url(self) -> str:
        return reverse("cashiering:receipt-detail", args=[self.pk])

    @property
    def display_number(self) -> str:
        return str(self)


# No event table: a receipt's lines and tenders are written with the receipt, in its statement,
# and never change (append_only), so the receipt's event already holds their context and
# time, and an event would copy the row as it still is.
class ReceiptLine(models.Model):
    receipt = models.ForeignKey(
        Receipt, on_delete=models.PROTECT, related_name="lines", db_index=False
    )
    line_no = models.PositiveSmallIntegerField()
    target_kind = models.CharField(max_length=20, help_text="utility, invoice, fee, license, ...")
    target_ref = models.CharField(max_length=60, blank=True)
    description = models.CharField(max_length=200)
    fee_code = models.ForeignKey(FeeCode, on_delete=models.PROTECT, related_name="+")
    quantity = models.DecimalField(max_digits=10, decimal_places=3, default=1)
    unit_price = MoneyField()
    amount = MoneyField()
    balance_before = MoneyField(null=True, blank=True)

    class Meta:
        ordering = ["receipt", "line_no"]
        constraints = [
            models.UniqueConstraint(fields=["receipt", "line_no"], name="receiptline_unique_no"),
        ]
        indexes = [models.Index(fields=["target_kind", "target_ref"], name="receiptline_target")]
        triggers = [APPEND_ONLY]

    def __str__(self) -> str:
        return f"{self.receipt} #{self.line_no} {self.description} {self.amount}"


# No event table (see ReceiptLine).
class Tender(models.Model):
    """How a receipt was paid. Card data: brand, last 4 and authorization code only."""

    receipt = models.ForeignKey(
        Receipt, on_delete=models.PROTECT, related_name="tenders", db_index=False
    )
    line_no = models.PositiveSmallIntegerField()
    tender_type = models.ForeignKey(TenderType, on_delete=models.PROTECT, related_name="+")
    amount = MoneyField()
    check_number = models.CharField(max_length=20, blank=True)
    check_payer = models.CharField(max_length=120, blank=True)
    account_last4 = models.CharField(max_length=4, blank=True)
    card_brand = models.CharField(max_length=20, blank=True)
    card_last4 = models.CharField(max_length=4, blank=True)
    auth_code = models.CharField(max_length=12, blank=True)
    reference = models.CharField(max_length=40, blank=True, help_text="Money order or ACH trace")

    class Meta:
        ordering = ["receipt", "line_no"]
        constraints = [
            models.UniqueConstraint(fields=["receipt", "line_no"], name="tender_unique_no"),
            models.CheckConstraint(
                condition=Q(card_last4="") | Q(card_last4__regex=r"^[0-9]{4}$"),
                name="tender_card_last4_digits",
            ),
            models.CheckConstraint(
                condition=Q(account_last4="") | Q(account_last4__regex=r"^[0-9]{4}$"),
                name="tender_account_last4_digits",
            ),
        ]
        triggers = [APPEND_ONLY]

    def __str__(self) -> str:
        return f"{self.tender_type} {self.amount}"

    @property
    def reference_display(self) -> str:
        if self.card_last4:
            return f"{self.card_brand} ••••{self.card_last4} auth {self.auth_code}"
        if self.check_number:
            return f"Check #{self.check_number}" + (
                f" ({self.check_payer})" if self.check_payer else ""
            )
        return self.reference


@tracked()
class CorrectionRequest(models.Model):
    """A void (same session, still open) or reversal (later, a new negative receipt),
    requested with a reason and decided by a supervisor who is not the requester."""

    class Kind(models.TextChoices):
        VOID = "void", "Void"
        REVERSAL = "reversal", "Reversal"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for approval"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    receipt = models.ForeignKey(Receipt, on_delete=models.PROTECT, related_name="corrections")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    reason = models.CharField(max_length=300)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    target_session = models.ForeignKey(
        CashierSession,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Reversals: the open session that takes the negative receipt",
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=300, blank=True)
    reversal_receipt = models.OneToOneField(
        Receipt, null=True, blank=True, on_delete=models.PROTECT, related_name="reversal_request"
    )

    class Meta:
        ordering = ["-requested_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["receipt"], condition=Q(status="pending"), name="one_pending_correction"
            ),
            models.UniqueConstraint(
                fields=["receipt"], condition=Q(status="approved"), name="one_approved_correction"
            ),
            models.CheckConstraint(
                condition=Q(decided_by__isnull=True) | ~Q(decided_by=models.F("requested_by")),
                name="correction_not_self_approved",
            ),
        ]
        triggers = [
            PROTECT_DELETE,
            pgtrigger.FSM(
                name="correction_decided_once",
                field="status",
                transitions=[("pending", "approved"), ("pending", "rejected")],
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.receipt} ({self.get_status_display()})"


@tracked()
class UtilityAccount(models.Model):
    """A utility billing account as loaded from the billing system's file."""

    number = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=120)
    service_address = models.CharField(max_length=200)
    balance = MoneyField(default=ZERO, help_text="Amount owed; negative is a credit")
    balance_as_of = models.DateField(null=True, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["number"]
        triggers = [PROTECT_DELETE]
        permissions = [("import_accounts", "Can import utility accounts and AR invoices")]

    def __str__(self) -> str:
        return f"{self.number} {self.name}"


@tracked()
class ARInvoice(models.Model):
    """An accounts-receivable invoice as loaded from the AR system's file."""

    number = models.CharField(max_length=20, unique=True)
    customer_name = models.CharField(max_length=120)
    customer_address = models.CharField(max_length=200, blank=True)
    description = models.CharField(max_length=200, blank=True)
    invoice_date = models.DateField(null=True, blank=True)
    due_date = models.DateField(null=True, blank=True)
    amount = MoneyField()
    amount_due = MoneyField()

    class Meta:
        ordering = ["number"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_due__gte=0), name="invoice_not_overpaid"),
        ]
        triggers = [PROTECT_DELETE]
        verbose_name = "AR invoice"

    def __str__(self) -> str:
        return f"{self.number} {self.customer_name}"


@tracked()
class CounterFee(models.Model):
    """A fee sold at the counter by quantity x unit price (copies, pet license, NSF fee)."""

    fee_code = models.OneToOneField(FeeCode, on_delete=models.PROTECT, related_name="counter_fee")
    label = models.CharField(max_length=100)
    unit_price = MoneyField(
        null=True, blank=True, help_text="Default price; the cashier may change it"
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["label"]
        triggers = [PROTECT_DELETE]

    def __str__(self) -> str:
        return self.label


class PayerIndex(models.Model):
    """One searchable row per payable item of every subsystem, kept by the target registry.

    The counter's single search box reads only this table (trigram indexes), so lookup
    stays fast whatever the number of subsystems.
    """

    kind = models.CharField(max_length=20)
    ref = models.CharField(max_length=60)
    number = models.CharField(max_length=40)
    name = models.CharField(max_length=200)
    address = models.CharField(max_length=200, blank=True)
    detail = models.CharField(max_length=200, blank=True)
    search_text = models.TextField()
    is_active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "ref"], name="payerindex_unique_ref")
        ]
        indexes = [
            GinIndex(fields=["search_text"], opclasses=["gin_trgm_ops"], name="payerindex_trgm"),
            models.Index(
                fields=["number"], name="payerindex_number", opclasses=["varchar_pattern_ops"]
            ),
        ]
        verbose_name_plural = "payer index"

    def __str__(self) -> str:
        return f"{self.kind} {self.number} {self.name}"


@tracked(pghistory.InsertEvent())
class PayerNote(models.Model):
    """A note on a payer, shown in account inquiry (phone and counter questions)."""

    kind = models.CharField(max_length=20)
    ref = models.CharField(max_length=60)
    text = models.CharField(max_length=500)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["kind", "ref"], name="payernote_target")]
        triggers = [APPEND_ONLY]

    def __str__(self) -> str:
        return self.text[:60]


class ReceiptPrint(models.Model):
    """Every print and reprint of a receipt, for the audit report."""

    receipt = models.ForeignKey(Receipt, on_delete=models.PROTECT, related_name="prints")
    printed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    printed_at = models.DateTimeField(auto_now_add=True)
    is_reprint = models.BooleanField()
    format = models.CharField(max_length=10, default="thermal")

    class Meta:
        ordering = ["-printed_at"]
        triggers = [APPEND_ONLY]

    def __str__(self) -> str:
        return f"{'Reprint' if self.is_reprint else 'Print'} of {self.receipt}"
