"""License invoices (new licenses and renewals), their lines, the payments applied to them,
the late-penalty schedule, and renewal runs."""

import pgtrigger
from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import RangeOperators
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django.urls import reverse

from kent_cs.history import tracked
from kent_cs.money import ZERO, MoneyField
from licensing.models.business import APPEND_ONLY, PROTECT_DELETE, Business
from licensing.models.fees import FEE_CODE_VALIDATOR, FeeSchedule, _inclusive_range
from licensing.models.licenses import License, LicenseStatus


@tracked()
class PenaltySchedule(models.Model):
    """When renewals are due and what paying late costs, effective-dated like fees.

    The schedule in effect on January 1 of license year Y governs Y's renewals: they are
    due on due_month/due_day of Y-1 (of Y when `due_in_prior_year` is off).
    Penalty steps count days late from the due date and start only after `grace_days`;
    an unpaid license lapses `lapse_after_days` after the due date.
    """

    name = models.CharField(max_length=120)
    source = models.TextField(blank=True)
    effective_from = models.DateField(
        help_text="Applies to renewals of license years starting on or after this day."
    )
    effective_to = models.DateField(null=True, blank=True)
    due_month = models.PositiveSmallIntegerField(
        default=12, validators=[MinValueValidator(1), MaxValueValidator(12)]
    )
    due_day = models.PositiveSmallIntegerField(
        default=31, validators=[MinValueValidator(1), MaxValueValidator(31)]
    )
    due_in_prior_year = models.BooleanField(
        default=True,
        help_text="Due before the license year starts (e.g. Dec 31 of the year before).",
    )
    grace_days = models.PositiveSmallIntegerField(
        default=0, help_text="Days after the due date before any penalty."
    )
    lapse_after_days = models.PositiveSmallIntegerField(
        default=90, help_text="Days after the due date an unpaid license lapses."
    )
    max_total_percent = models.DecimalField(
        max_digits=7,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(ZERO)],
        help_text="All penalties together never exceed this percentage of the license fee.",
    )
    max_total_amount = MoneyField(
        null=True,
        blank=True,
        validators=[MinValueValidator(ZERO)],
        help_text="All penalties together never exceed this amount.",
    )
    fee_code = models.CharField(
        max_length=20,
        default="BL-PEN",
        validators=[FEE_CODE_VALIDATOR],
        help_text="Ledger fee code penalties are credited to.",
    )

    class Meta:
        ordering = ["-effective_from"]
        constraints = [
            models.CheckConstraint(
                condition=Q(effective_to__isnull=True)
                | Q(effective_to__gte=models.F("effective_from")),
                name="lic_penalty_schedule_dates",
            ),
            models.CheckConstraint(
                condition=Q(due_month__gte=1, due_month__lte=12, due_day__gte=1, due_day__lte=31),
                name="lic_penalty_schedule_due",
            ),
            ExclusionConstraint(
                name="lic_penalty_schedule_no_overlap",
                expressions=[
                    (_inclusive_range("effective_from", "effective_to"), RangeOperators.OVERLAPS)
                ],
                violation_error_message="Another penalty schedule is in effect on these dates.",
            ),
        ]
        triggers = [PROTECT_DELETE]

    def __str__(self) -> str:
        return self.name


@tracked()
class PenaltyRule(models.Model):
    """One step of the late-penalty schedule: once a renewal is `days_late` days past due
    and still unpaid, this step adds its penalty, once."""

    class Method(models.TextChoices):
        PERCENT = "percent", "Percentage of the license fee"
        FIXED = "fixed", "Fixed amount"

    schedule = models.ForeignKey(PenaltySchedule, on_delete=models.CASCADE, related_name="rules")
    step = models.PositiveSmallIntegerField()
    days_late = models.PositiveSmallIntegerField(validators=[MinValueValidator(1)])
    method = models.CharField(max_length=7, choices=Method.choices)
    rate = models.DecimalField(
        "percent",
        max_digits=7,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(ZERO)],
    )
    amount = MoneyField(null=True, blank=True, validators=[MinValueValidator(ZERO)])
    cap = MoneyField(
        null=True,
        blank=True,
        validators=[MinValueValidator(ZERO)],
        help_text="The most this step adds.",
    )
    label = models.CharField(max_length=120)

    class Meta:
        ordering = ["schedule", "step"]
        constraints = [
            models.UniqueConstraint(fields=["schedule", "step"], name="lic_penalty_rule_step"),
            models.UniqueConstraint(fields=["schedule", "days_late"], name="lic_penalty_rule_days"),
            models.CheckConstraint(condition=Q(days_late__gte=1), name="lic_penalty_rule_days_1"),
            models.CheckConstraint(
                condition=Q(method="percent", rate__gte=0, amount__isnull=True)
                | Q(method="fixed", amount__gte=0, rate__isnull=True),
                name="lic_penalty_rule_method",
                violation_error_message="A percentage step has a percent; a fixed one an amount.",
            ),
        ]

    def __str__(self) -> str:
        return self.label


class InvoiceKind(models.TextChoices):
    NEW = "new", "New license"
    RENEWAL = "renewal", "Renewal"


@tracked(level=pgtrigger.Statement)
class LicenseInvoice(models.Model):
    """What a license costs for one year. Paid in full at the counter, it issues the license
    (new) or extends it to the year (renewal), in the same transaction as the receipt."""

    Kind = InvoiceKind

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        PAID = "paid", "Paid"
        CANCELLED = "cancelled", "Cancelled"

    number = models.CharField(max_length=20)
    year = models.PositiveSmallIntegerField(help_text="The license year it pays for.")
    seq = models.PositiveIntegerField(help_text="Gapless number within the year.")
    kind = models.CharField(max_length=7, choices=InvoiceKind.choices)
    # Indexes only where lookups need them (license and business are covered by the
    # composite indexes below): every index is paid for by each of the thousands of
    # rows a renewal run inserts.
    license = models.ForeignKey(
        License, on_delete=models.PROTECT, related_name="invoices", db_index=False
    )
    business = models.ForeignKey(
        Business, on_delete=models.PROTECT, related_name="invoices", db_index=False
    )
    schedule = models.ForeignKey(
        FeeSchedule,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    issue_date = models.DateField()
    due_date = models.DateField()
    status = models.CharField(max_length=9, choices=Status.choices, default=Status.OPEN)
    total = MoneyField()
    amount_due = MoneyField()
    paid_on = models.DateField(null=True, blank=True)
    paid_receipt = models.CharField(
        max_length=40, blank=True, help_text="The receipt that paid it in full."
    )
    # What full payment did to the license, so a void or reversal can put it back.
    license_updated = models.BooleanField(default=False)
    prior_status = models.CharField(max_length=10, choices=LicenseStatus.choices, blank=True)
    prior_year = models.PositiveSmallIntegerField(null=True, blank=True)
    cancelled_reason = models.CharField(max_length=300, blank=True)
    renewal_run = models.ForeignKey(
        "licensing.RenewalRun",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["-year", "-seq"]
        constraints = [
            models.UniqueConstraint(fields=["number"], name="lic_invoice_number"),
            models.UniqueConstraint(fields=["year", "seq"], name="lic_invoice_year_seq"),
            # One live invoice per license and year: what makes renewal runs
            # idempotent, whatever runs at the same time.
            models.UniqueConstraint(
                fields=["license", "year"],
                condition=~Q(status="cancelled"),
                name="lic_invoice_one_per_year",
            ),
            models.CheckConstraint(
                condition=Q(total__gte=0, amount_due__gte=0, amount_due__lte=models.F("total")),
                name="lic_invoice_amounts",
            ),
            models.CheckConstraint(
                condition=Q(status="paid", amount_due=0, paid_on__isnull=False)
                | Q(status="open", amount_due__gt=0, paid_on__isnull=True)
                | Q(status="cancelled", paid_on__isnull=True),
                name="lic_invoice_status_amounts",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "kind", "year"], name="lic_invoice_status_kind"),
            models.Index(fields=["business", "year"], name="lic_invoice_business"),
            models.Index(fields=["license", "year"], name="lic_invoice_license"),
        ]
        triggers = [
            PROTECT_DELETE,
            pgtrigger.FSM(
                name="status_fsm",
                field="status",
                transitions=[("open", "paid"), ("paid", "open"), ("open", "cancelled")],
            ),
        ]

    def __str__(self) -> str:
        return self.number

    def get_absolute_url(self) -> str:
        return reverse("licensing:invoice-detail", args=[self.pk])

    @property
    def description(self) -> str:
        what = "renewal" if self.kind == InvoiceKind.RENEWAL else "new license"
        return f"Business license {self.year} {what}"


def invoice_number(year: int, seq: int) -> str:
    return f"L{year}-{seq:05d}"


def invoice_series(year: int) -> str:
    return f"license-invoice-{year}"


@tracked(level=pgtrigger.Statement)
class LicenseInvoiceLine(models.Model):
    """One fee component on an invoice (or one penalty step), with what is still owed."""

    PENALTY = "penalty"

    # Looked up through the (invoice, position) unique index.
    invoice = models.ForeignKey(
        LicenseInvoice, on_delete=models.PROTECT, related_name="lines", db_index=False
    )
    position = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=10, help_text="The component's kind, or 'penalty'.")
    label = models.CharField(max_length=100)
    fee_code = models.CharField(max_length=20, validators=[FEE_CODE_VALIDATOR])
    amount = MoneyField()
    amount_due = MoneyField()
    rule = models.CharField(max_length=300, blank=True, help_text="How the amount was worked out.")
    penalty_base = models.BooleanField(default=False)
    penalty_rule = models.ForeignKey(
        PenaltyRule,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )

    class Meta:
        ordering = ["invoice", "position"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "position"], name="lic_line_position"),
            # Never the same penalty step twice on one invoice.
            models.UniqueConstraint(
                fields=["invoice", "penalty_rule"],
                condition=Q(penalty_rule__isnull=False),
                name="lic_line_penalty_once",
            ),
            models.CheckConstraint(
                condition=Q(amount__gte=0, amount_due__gte=0, amount_due__lte=models.F("amount")),
                name="lic_line_amounts",
            ),
            models.CheckConstraint(
                condition=Q(penalty_rule__isnull=True) | Q(kind="penalty"),
                name="lic_line_penalty_kind",
            ),
        ]
        triggers = [
            PROTECT_DELETE,
        ]

    def __str__(self) -> str:
        return f"{self.invoice} #{self.position} {self.label} {self.amount}"


class LicensePayment(models.Model):
    """A payment (positive) or its undoing (negative) applied to one invoice line.

    Written by the counter's payment target inside the receipt's transaction; a void or
    reversal writes the negative of exactly what the receipt line applied. Append-only.
    """

    class Source(models.TextChoices):
        COUNTER = "counter", "Counter receipt"
        IMPORT = "import", "Imported history"
        DEMO = "demo", "Demonstration data"

    invoice = models.ForeignKey(LicenseInvoice, on_delete=models.PROTECT, related_name="payments")
    line = models.ForeignKey(LicenseInvoiceLine, on_delete=models.PROTECT, related_name="payments")
    fee_code = models.CharField(max_length=20)
    amount = MoneyField()
    source = models.CharField(max_length=7, choices=Source.choices, default=Source.COUNTER)
    receipt_id = models.BigIntegerField(null=True, blank=True)
    receipt_number = models.CharField(max_length=40, blank=True)
    receipt_line_no = models.PositiveSmallIntegerField(null=True, blank=True)
    business_date = models.DateField()
    reverses = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by"
    )
    recorded_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["invoice", "recorded_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(reverses__isnull=True, amount__gt=0)
                | Q(reverses__isnull=False, amount__lt=0),
                name="lic_payment_sign",
            ),
        ]
        indexes = [
            models.Index(fields=["receipt_id", "receipt_line_no"], name="lic_payment_receipt"),
        ]
        triggers = [APPEND_ONLY]

    def __str__(self) -> str:
        return f"{self.invoice} {self.fee_code} {self.amount} ({self.receipt_number})"


class RenewalRun(models.Model):
    """One run of renewal invoicing for a license year. Runs may be repeated: each creates
    only the invoices still missing, so a second run, or one resumed after a crash,
    finishes the work without doubling any of it."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Finished"
        FAILED = "failed", "Failed"

    year = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=9, choices=Status.choices, default=Status.QUEUED)
    licenses_due = models.PositiveIntegerField(default=0)
    invoices_created = models.PositiveIntegerField(default=0)
    already_invoiced = models.PositiveIntegerField(default=0)
    renewed_without_fee = models.PositiveIntegerField(
        default=0, help_text="Fully exempt licenses renewed without an amount to pay."
    )
    skipped = models.PositiveIntegerField(
        default=0,
        help_text="Licenses that could not be priced (no fee schedule in effect, units missing).",
    )
    amount_invoiced = MoneyField(default=ZERO)
    message = models.CharField(max_length=300, blank=True)
    job = models.ForeignKey(
        "kent_cs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [
            ("run_renewals", "Can start renewal runs and print renewal notices"),
            ("assess_penalties", "Can run the daily expiry, late penalties and lapse now"),
        ]

    def __str__(self) -> str:
        return f"Renewal run {self.year} #{self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("licensing:renewal-run-detail", args=[self.pk])
