"""Closing the day: the counter's policy, blind counts with over/short, business days."""

import pgtrigger
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse

from cashiering.models.counter import PROTECT_DELETE, CashierSession
from kent_cs.history import tracked
from kent_cs.money import MoneyField
from ledger.models import FeeCode, GLAccount, JournalEntry


@tracked()
class CounterPolicy(models.Model):
    """The counter's settings an administrator may change (one row)."""

    over_short_threshold = MoneyField(
        default="5.00", help_text="Over/short above this needs a supervisor's approval"
    )
    over_short_account = models.ForeignKey(
        GLAccount,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Cash over/short account (revenue side)",
    )
    nsf_fee_code = models.ForeignKey(
        FeeCode,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Fee charged for a returned check",
    )
    returned_checks_receivable = models.ForeignKey(
        GLAccount,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Where returned checks on items without a balance (fees) are owed",
    )
    refunds_payable = models.ForeignKey(
        GLAccount,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Accounts payable account approved refunds are credited to",
    )
    returned_check_limit = models.PositiveSmallIntegerField(
        default=2, help_text="Returned checks that flag a payer ..."
    )
    returned_check_months = models.PositiveSmallIntegerField(
        default=12, help_text="... within this many months"
    )
    deposit_within_hours = models.PositiveSmallIntegerField(
        default=24, help_text="Undeposited funds older than this are flagged (RCW 43.09.240)"
    )

    class Meta:
        verbose_name = "counter policy"
        verbose_name_plural = "counter policy"
        constraints = [
            models.CheckConstraint(condition=Q(pk=1), name="counterpolicy_single_row"),
            models.CheckConstraint(
                condition=Q(over_short_threshold__gte=0), name="counterpolicy_threshold_gte_0"
            ),
        ]
        triggers = [PROTECT_DELETE]

    def __str__(self) -> str:
        return "Counter policy"

    @classmethod
    def current(cls) -> "CounterPolicy":
        policy, _ = cls.objects.get_or_create(pk=1)
        return policy


@tracked()
class BusinessDay(models.Model):
    """A business date's status: once a supervisor closes it, nothing posts into it."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    business_date = models.DateField(unique=True)
    status = models.CharField(max_length=6, choices=Status.choices, default=Status.OPEN)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    reopened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reopened_at = models.DateTimeField(null=True, blank=True)
    reopen_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-business_date"]
        triggers = [PROTECT_DELETE]
        permissions = [
            ("close_business_day", "Can close and reopen a business day"),
            ("balance_day", "Can balance drawers and see the daily balancing page"),
            ("view_audit_report", "Can see the day's audit report"),
        ]

    def __str__(self) -> str:
        return f"Business day {self.business_date}"

    def get_absolute_url(self) -> str:
        return reverse("cashiering:day-balancing", args=[self.business_date.isoformat()])

    @property
    def is_closed(self) -> bool:
        return self.status == self.Status.CLOSED


@tracked()
class SessionCount(models.Model):
    """The cashier's blind count at close and the over/short it revealed.

    Entered without seeing the expected amounts. Over/short within the policy's threshold
    posts at once; above it, a supervisor (never the cashier) approves it with an
    explanation, and it posts then.
    """

    class Status(models.TextChoices):
        BALANCED = "balanced", "No over/short"
        POSTED = "posted", "Over/short posted"
        PENDING = "pending", "Awaiting supervisor approval"
        APPROVED = "approved", "Approved and posted"

    session = models.OneToOneField(CashierSession, on_delete=models.PROTECT, related_name="count")
    counted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    counted_at = models.DateTimeField(auto_now_add=True)
    cash_count = models.JSONField(default=dict, help_text="Pieces by denomination")
    checks = models.JSONField(
        default=list, help_text="Checks and money orders listed: [{'number', 'amount'}]"
    )
    card_settlement = MoneyField(help_text="The card terminal's settlement total")
    over_short = MoneyField(help_text="Counted minus expected over every tender (+ over, - short)")
    status = models.CharField(max_length=8, choices=Status.choices)
    cashier_note = models.CharField(max_length=300, blank=True)
    over_short_entry = models.OneToOneField(
        JournalEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    explanation = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-counted_at"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="approved")
                | (Q(decided_by__isnull=False) & ~Q(explanation="")),
                name="sessioncount_approval_explained",
            ),
        ]
        triggers = [
            PROTECT_DELETE,
            pgtrigger.FSM(
                name="sessioncount_status",
                field="status",
                transitions=[("pending", "approved")],
            ),
        ]
        permissions = [("approve_over_short", "Can approve an over/short above the threshold")]

    def __str__(self) -> str:
        return f"Count of {self.session}"


class SessionCountLine(models.Model):
    """Expected against counted for one kind of tender."""

    class Kind(models.TextChoices):
        CASH = "cash", "Cash"
        CHECKS = "checks", "Checks and money orders"
        CARDS = "cards", "Cards"

    count = models.ForeignKey(SessionCount, on_delete=models.PROTECT, related_name="lines")
    kind = models.CharField(max_length=6, choices=Kind.choices)
    expected = MoneyField()
    counted = MoneyField()
    over_short = MoneyField()

    class Meta:
        ordering = ["count", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["count", "kind"], name="sessioncountline_unique_kind"),
            models.CheckConstraint(
                condition=Q(over_short=models.F("counted") - models.F("expected")),
                name="sessioncountline_difference",
            ),
        ]
        triggers = [
            pgtrigger.Protect(name="append_only", operation=pgtrigger.Update | pgtrigger.Delete)
        ]

    def __str__(self) -> str:
        return f"{self.count} {self.kind}"
