"""Bank deposits built from balanced sessions, and the expected card and ACH settlements."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse

from cashiering.models.counter import APPEND_ONLY, CashierSession, Tender
from kent_cs.db import TransactionNow
from kent_cs.history import tracked
from kent_cs.money import ZERO, MoneyField
from ledger.models import BankAccount, JournalEntry


@tracked()
class Deposit(models.Model):
    """Money leaving the undeposited clearing account for the bank (Dr bank, Cr clearing).

    A cash-and-check deposit has a slip (currency by denomination, coin, each check). Card
    and ACH settlements are deposits the processor makes: recorded when the sessions are
    deposited, and found later on the bank statement like any other deposit.
    """

    class Kind(models.TextChoices):
        CASH_CHECK = "cash_check", "Cash and checks"
        CARD = "card", "Card settlement"
        ACH = "ach", "ACH settlement"

    number = models.PositiveBigIntegerField(unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    bank_account = models.ForeignKey(BankAccount, on_delete=models.PROTECT, related_name="+")
    deposit_date = models.DateField()
    total = MoneyField()
    currency_total = MoneyField(default=ZERO, help_text="Bills")
    coin_total = MoneyField(default=ZERO)
    check_total = MoneyField(default=ZERO, help_text="Checks and money orders")
    currency_count = models.JSONField(default=dict, help_text="Pieces by denomination")
    journal_entry = models.OneToOneField(JournalEntry, on_delete=models.PROTECT, related_name="+")
    idempotency_key = models.UUIDField(unique=True)
    prepared_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    prepared_at = models.DateTimeField(db_default=TransactionNow(), editable=False)
    memo = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.CheckConstraint(condition=Q(total__gt=0), name="deposit_total_gt_0"),
            models.CheckConstraint(
                condition=Q(
                    total=models.F("currency_total")
                    + models.F("coin_total")
                    + models.F("check_total")
                )
                | ~Q(kind="cash_check"),
                name="deposit_slip_adds_up",
            ),
        ]
        triggers = [APPEND_ONLY]
        permissions = [("prepare_deposit", "Can prepare bank deposits")]

    def __str__(self) -> str:
        return f"Deposit {self.number}"

    def get_absolute_url(self) -> str:
        return reverse("cashiering:deposit-detail", args=[self.pk])


class DepositSession(models.Model):
    """A session whose money a deposit carries (a session has one deposit of each kind)."""

    deposit = models.ForeignKey(Deposit, on_delete=models.PROTECT, related_name="session_links")
    session = models.ForeignKey(
        CashierSession, on_delete=models.PROTECT, related_name="deposit_links"
    )
    kind = models.CharField(max_length=10, choices=Deposit.Kind.choices)
    amount = MoneyField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["session", "kind"], name="depositsession_once_per_kind"
            ),
        ]
        triggers = [APPEND_ONLY]

    def __str__(self) -> str:
        return f"{self.deposit} {self.session}"


class DepositItem(models.Model):
    """A tender carried by a deposit: each check on the slip, each card or ACH payment."""

    deposit = models.ForeignKey(Deposit, on_delete=models.PROTECT, related_name="items")
    tender = models.OneToOneField(Tender, on_delete=models.PROTECT, related_name="deposit_item")
    amount = MoneyField()

    class Meta:
        ordering = ["deposit", "id"]
        triggers = [APPEND_ONLY]

    def __str__(self) -> str:
        return f"{self.deposit} {self.tender_id} {self.amount}"
