"""Returned (NSF) checks and refund requests."""

import pgtrigger
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse

from cashiering.models.counter import APPEND_ONLY, PROTECT_DELETE, Receipt, Tender
from kent_cs.history import tracked
from kent_cs.money import ZERO, MoneyField
from ledger.models import BankTransaction, JournalEntry


@tracked()
class ReturnedCheck(models.Model):
    """A check the bank sent back. Proposed from a statement's returned-item line or entered
    by hand; processing reverses the payment on its targets and charges the NSF fee."""

    class Status(models.TextChoices):
        PROPOSED = "proposed", "Proposed"
        PROCESSED = "processed", "Processed"
        DISMISSED = "dismissed", "Dismissed"

    class Reason(models.TextChoices):
        NSF = "nsf", "Insufficient funds"
        CLOSED = "closed", "Account closed"
        STOP = "stop", "Payment stopped"
        NO_ACCOUNT = "no_account", "No account / unable to locate"
        OTHER = "other", "Other"

    tender = models.OneToOneField(
        Tender, null=True, blank=True, on_delete=models.PROTECT, related_name="returned"
    )
    receipt = models.ForeignKey(
        Receipt, null=True, blank=True, on_delete=models.PROTECT, related_name="returned_checks"
    )
    bank_transaction = models.OneToOneField(
        BankTransaction, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    amount = MoneyField()
    returned_on = models.DateField()
    reason = models.CharField(max_length=10, choices=Reason.choices, default=Reason.NSF)
    status = models.CharField(max_length=9, choices=Status.choices, default=Status.PROPOSED)
    payer_name = models.CharField(max_length=120, blank=True)
    fee_amount = MoneyField(default=ZERO)
    reversal_entry = models.OneToOneField(
        JournalEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    fee_entry = models.OneToOneField(
        JournalEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-returned_on", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="returnedcheck_amount_gt_0"),
            models.CheckConstraint(condition=Q(fee_amount__gte=0), name="returnedcheck_fee_gte_0"),
            models.CheckConstraint(
                condition=~Q(status="processed") | Q(tender__isnull=False, receipt__isnull=False),
                name="returnedcheck_processed_has_tender",
            ),
        ]
        triggers = [
            PROTECT_DELETE,
            pgtrigger.FSM(
                name="returnedcheck_status",
                field="status",
                transitions=[("proposed", "processed"), ("proposed", "dismissed")],
            ),
        ]
        permissions = [("process_returned_check", "Can process returned checks")]

    def __str__(self) -> str:
        return f"Returned check {self.pk} {self.amount}"

    def get_absolute_url(self) -> str:
        return reverse("cashiering:returned-check-detail", args=[self.pk])


class ReturnedCheckLine(models.Model):
    """How much of a returned check went back onto each payment target (balance re-opened)."""

    returned_check = models.ForeignKey(
        ReturnedCheck, on_delete=models.PROTECT, related_name="lines"
    )
    target_kind = models.CharField(max_length=20)
    target_ref = models.CharField(max_length=60, blank=True)
    fee_code = models.CharField(max_length=20)
    amount = MoneyField()

    class Meta:
        indexes = [models.Index(fields=["target_kind", "target_ref"], name="rcline_target")]
        triggers = [APPEND_ONLY]

    def __str__(self) -> str:
        return f"{self.returned_check} {self.target_kind} {self.target_ref}"


@tracked()
class RefundRequest(models.Model):
    """A refund of a credit or an overpayment: requested with documents, verified by a
    technician, approved by a supervisor (never the requester), exported to accounts payable."""

    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested"
        VERIFIED = "verified", "Verified"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        EXPORTED = "exported", "Sent to accounts payable"

    number = models.PositiveBigIntegerField(unique=True)
    status = models.CharField(max_length=9, choices=Status.choices, default=Status.REQUESTED)
    target_kind = models.CharField(max_length=20, blank=True)
    target_ref = models.CharField(max_length=60, blank=True)
    receipt = models.ForeignKey(
        Receipt, null=True, blank=True, on_delete=models.PROTECT, related_name="refund_requests"
    )
    payee_name = models.CharField(max_length=120)
    payee_address = models.CharField(max_length=300)
    amount = MoneyField()
    reason = models.CharField(max_length=300)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    verified_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=300, blank=True)
    journal_entry = models.OneToOneField(
        JournalEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    exported_at = models.DateTimeField(null=True, blank=True)
    export_batch = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_gt_0"),
            models.CheckConstraint(
                condition=~Q(decided_by=models.F("requested_by")),
                name="refund_not_self_approved",
            ),
        ]
        triggers = [
            PROTECT_DELETE,
            pgtrigger.FSM(
                name="refund_status",
                field="status",
                transitions=[
                    ("requested", "verified"),
                    ("requested", "rejected"),
                    ("verified", "approved"),
                    ("verified", "rejected"),
                    ("approved", "exported"),
                ],
            ),
        ]
        permissions = [
            ("request_refund", "Can request a refund"),
            ("verify_refund", "Can verify a refund request"),
            ("approve_refund", "Can approve or reject a refund request"),
        ]

    def __str__(self) -> str:
        return f"Refund {self.number}"

    def get_absolute_url(self) -> str:
        return reverse("cashiering:refund-detail", args=[self.pk])


class RefundDocument(models.Model):
    """A supporting document (PDF or image), kept in the database with the request."""

    request = models.ForeignKey(RefundRequest, on_delete=models.PROTECT, related_name="documents")
    file_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=50)
    size_bytes = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    content = models.BinaryField()
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["request", "id"]
        triggers = [APPEND_ONLY]

    def __str__(self) -> str:
        return self.file_name
