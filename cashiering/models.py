import pghistory
import pgtrigger
from django.db import models

from ledger.models import GLAccount


@pghistory.track()
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
        triggers = [pgtrigger.Protect(name="protect_delete", operation=pgtrigger.Delete)]

    def __str__(self) -> str:
        return self.name
