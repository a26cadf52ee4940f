"""Applications with department reviews, licenses and every change of a license's status."""

from dataclasses import dataclass

import pgtrigger
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django.urls import reverse

from kent_cs.history import tracked
from licensing.models.business import APPEND_ONLY, PROTECT_DELETE, Business
from licensing.models.fees import LicenseType, ReviewDepartment


class LicenseStatus(models.TextChoices):
    PENDING = "pending", "Pending payment"
    ACTIVE = "active", "Active"
    EXPIRED = "expired", "Expired"
    LAPSED = "lapsed", "Lapsed"
    SUSPENDED = "suspended", "Suspended"
    REVOKED = "revoked", "Revoked"
    CLOSED = "closed", "Closed"


@dataclass(frozen=True)
class Transition:
    action: str
    manual: bool  # a technician may make it with a reason; otherwise only the system does


_S = LicenseStatus
#: Every status change a license may make. The database refuses any other (the FSM
#: trigger below is built from this table). Non-manual ones happen on payment, on a
#: payment's void or reversal, or in the daily expiry and lapse run.
LICENSE_TRANSITIONS: dict[tuple[str, str], Transition] = {
    (_S.PENDING, _S.ACTIVE): Transition("issued", manual=False),
    (_S.PENDING, _S.CLOSED): Transition("withdrawn", manual=True),
    (_S.ACTIVE, _S.EXPIRED): Transition("expired", manual=False),
    (_S.ACTIVE, _S.SUSPENDED): Transition("suspended", manual=True),
    (_S.ACTIVE, _S.REVOKED): Transition("revoked", manual=True),
    (_S.ACTIVE, _S.CLOSED): Transition("closed", manual=True),
    (_S.EXPIRED, _S.ACTIVE): Transition("renewed", manual=False),
    (_S.EXPIRED, _S.LAPSED): Transition("lapsed", manual=False),
    (_S.EXPIRED, _S.REVOKED): Transition("revoked", manual=True),
    (_S.EXPIRED, _S.CLOSED): Transition("closed", manual=True),
    (_S.LAPSED, _S.ACTIVE): Transition("reinstated", manual=False),
    (_S.LAPSED, _S.REVOKED): Transition("revoked", manual=True),
    (_S.LAPSED, _S.CLOSED): Transition("closed", manual=True),
    (_S.SUSPENDED, _S.ACTIVE): Transition("reinstated", manual=True),
    (_S.SUSPENDED, _S.REVOKED): Transition("revoked", manual=True),
    (_S.SUSPENDED, _S.CLOSED): Transition("closed", manual=True),
    # A void or reversal of the payment that issued or renewed the license puts it back.
    (_S.ACTIVE, _S.PENDING): Transition("payment undone", manual=False),
    (_S.ACTIVE, _S.LAPSED): Transition("payment undone", manual=False),
}
TERMINAL_STATUSES = frozenset({_S.REVOKED, _S.CLOSED})
#: Licenses of year Y-1 in these statuses get a renewal invoice for year Y.
RENEWAL_DUE_STATUSES = (_S.ACTIVE, _S.EXPIRED, _S.SUSPENDED)


@tracked()
class Application(models.Model):
    class Status(models.TextChoices):
        IN_REVIEW = "in_review", "In review"
        APPROVED = "approved", "Approved"
        DENIED = "denied", "Denied"
        WITHDRAWN = "withdrawn", "Withdrawn"

    number = models.PositiveIntegerField(unique=True)
    business = models.ForeignKey(Business, on_delete=models.PROTECT, related_name="applications")
    license_type = models.ForeignKey(LicenseType, on_delete=models.PROTECT, related_name="+")
    units = models.PositiveIntegerField(null=True, blank=True)
    requested_start = models.DateField()
    received_on = models.DateField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.IN_REVIEW)
    notes = models.TextField(blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["business", "license_type"],
                condition=Q(status="in_review"),
                name="lic_application_one_open",
                violation_error_message="This business already has an application in review.",
            ),
            models.CheckConstraint(
                condition=Q(status="in_review", decided_at__isnull=True)
                | ~Q(status="in_review") & Q(decided_at__isnull=False),
                name="lic_application_decided",
            ),
        ]
        triggers = [
            PROTECT_DELETE,
            pgtrigger.FSM(
                name="status_fsm",
                field="status",
                transitions=[
                    ("in_review", "approved"),
                    ("in_review", "denied"),
                    ("in_review", "withdrawn"),
                ],
            ),
        ]
        permissions = [("decide_application", "Can approve and deny license applications")]

    def __str__(self) -> str:
        return f"Application {self.number}"

    def get_absolute_url(self) -> str:
        return reverse("licensing:application-detail", args=[self.pk])


@tracked()
class Review(models.Model):
    Department = ReviewDepartment

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="reviews")
    department = models.CharField(max_length=10, choices=Department.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    notes = models.TextField(blank=True)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["application", "department"]
        constraints = [
            models.UniqueConstraint(
                fields=["application", "department"], name="lic_review_one_per_department"
            ),
            models.CheckConstraint(
                condition=Q(status="pending", decided_at__isnull=True, reviewer__isnull=True)
                | ~Q(status="pending") & Q(decided_at__isnull=False, reviewer__isnull=False),
                name="lic_review_decided",
            ),
        ]
        triggers = [
            PROTECT_DELETE,
            pgtrigger.FSM(
                name="status_fsm",
                field="status",
                transitions=[("pending", "approved"), ("pending", "rejected")],
            ),
        ]
        permissions = [("record_review", "Can record department review decisions")]

    def __str__(self) -> str:
        return f"{self.get_department_display()} review of {self.application}"


@tracked(level=pgtrigger.Statement)
class License(models.Model):
    Status = LicenseStatus

    number = models.PositiveIntegerField(unique=True)
    business = models.ForeignKey(Business, on_delete=models.PROTECT, related_name="licenses")
    license_type = models.ForeignKey(LicenseType, on_delete=models.PROTECT, related_name="+")
    application = models.OneToOneField(
        Application, null=True, blank=True, on_delete=models.PROTECT, related_name="license"
    )
    status = models.CharField(max_length=10, choices=LicenseStatus.choices)
    license_year = models.PositiveSmallIntegerField(
        help_text="The calendar year the license is (or will be, once paid) good for."
    )
    expires_on = models.GeneratedField(
        expression=models.Func(
            models.F("license_year"),
            models.Value(12),
            models.Value(31),
            function="make_date",
            output_field=models.DateField(),
        ),
        output_field=models.DateField(),
        db_persist=True,
    )
    issued_on = models.DateField(null=True, blank=True, help_text="First issued.")
    units = models.PositiveIntegerField(null=True, blank=True)
    legacy_number = models.CharField(
        max_length=30, blank=True, help_text="Number in the system the record was imported from."
    )
    status_changed_at = models.DateTimeField(db_default=Now())
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.CheckConstraint(
                condition=Q(license_year__gte=1990, license_year__lte=2200),
                name="lic_license_year",
            ),
            models.CheckConstraint(
                condition=~Q(status="pending", issued_on__isnull=False)
                & ~Q(
                    status__in=["active", "expired", "lapsed", "suspended"],
                    issued_on__isnull=True,
                ),
                name="lic_license_issued_on",
            ),
            models.UniqueConstraint(
                fields=["business", "license_type"],
                condition=~Q(status__in=["closed", "revoked"]),
                name="lic_license_one_current",
                violation_error_message="This business already holds this kind of license.",
            ),
            models.UniqueConstraint(
                fields=["legacy_number"], condition=~Q(legacy_number=""), name="lic_license_legacy"
            ),
        ]
        indexes = [
            models.Index(fields=["license_year", "status"], name="lic_license_year_status"),
            models.Index(fields=["status", "license_year"], name="lic_license_status_year"),
        ]
        triggers = [
            PROTECT_DELETE,
            pgtrigger.FSM(
                name="status_fsm",
                field="status",
                transitions=[(str(old), str(new)) for old, new in LICENSE_TRANSITIONS],
            ),
        ]
        permissions = [
            ("change_license_status", "Can suspend, reinstate, revoke and close licenses"),
        ]

    def __str__(self) -> str:
        return self.display_number

    def get_absolute_url(self) -> str:
        return reverse("licensing:license-detail", args=[self.pk])

    @property
    def display_number(self) -> str:
        return license_display_number(self.number)


def license_display_number(number: int) -> str:
    return f"BL{number:06d}"


class LicenseStatusChange(models.Model):
    """One change of a license's status or year, with who, when and why. Append-only."""

    license = models.ForeignKey(License, on_delete=models.PROTECT, related_name="status_changes")
    action = models.CharField(max_length=30)
    from_status = models.CharField(max_length=10, choices=LicenseStatus.choices, blank=True)
    to_status = models.CharField(max_length=10, choices=LicenseStatus.choices)
    from_year = models.PositiveSmallIntegerField(null=True, blank=True)
    to_year = models.PositiveSmallIntegerField()
    reason = models.CharField(max_length=300)
    effective_on = models.DateField()
    invoice = models.ForeignKey(
        "licensing.LicenseInvoice",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="status_changes",
    )
    receipt = models.CharField(max_length=40, blank=True, help_text="Receipt that caused it.")
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    changed_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["license", "changed_at", "id"]
        indexes = [models.Index(fields=["license", "changed_at"], name="lic_status_change_license")]
        triggers = [APPEND_ONLY]

    def __str__(self) -> str:
        return f"{self.license}: {self.from_status or 'new'} → {self.to_status} ({self.reason})"


class LicenseImport(models.Model):
    """One import of a file of license records that wrote something: who, from which
    file, what it made, and (when the good rows were imported without the others) the
    refused rows with their problems, to be downloaded, corrected and imported again."""

    class Mode(models.TextChoices):
        ALL = "all", "All or nothing"
        GOOD_ROWS = "good_rows", "Good rows only"

    file_name = models.CharField(max_length=255)
    mode = models.CharField(max_length=10, choices=Mode.choices)
    rows = models.PositiveIntegerField()
    licenses_created = models.PositiveIntegerField()
    businesses_created = models.PositiveIntegerField()
    businesses_matched = models.PositiveIntegerField()
    # The refused rows as the file had them: {"columns": [...], "rows": [[line, problem,
    # cells...], ...]}, cells as text.
    refused = models.JSONField(default=dict, blank=True)
    refused_count = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        triggers = [APPEND_ONLY]

    def __str__(self) -> str:
        return f"Import of {self.file_name} ({self.created_at:%Y-%m-%d})"
