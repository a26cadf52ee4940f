"""Businesses and their contacts. Never deleted: a business that stops trading is closed."""

import pgtrigger
from django.contrib.postgres.indexes import GinIndex
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse

from kent_cs.history import tracked
from kent_cs.money import ZERO, MoneyField
from licensing.validators import (
    address_key,
    format_ubi,
    naics_sector,
    naics_sector_name,
    validate_naics,
    validate_phone,
    validate_postal_code,
    validate_ubi,
)

PROTECT_DELETE = pgtrigger.Protect(name="protect_delete", operation=pgtrigger.Delete)
APPEND_ONLY = pgtrigger.Protect(name="append_only", operation=pgtrigger.Update | pgtrigger.Delete)


class OwnershipType(models.TextChoices):
    SOLE_PROPRIETOR = "sole_proprietor", "Sole proprietor"
    PARTNERSHIP = "partnership", "General partnership"
    LIMITED_PARTNERSHIP = "limited_partnership", "Limited partnership (LP/LLP)"
    LLC = "llc", "Limited liability company"
    CORPORATION = "corporation", "Corporation"
    NONPROFIT = "nonprofit", "Nonprofit organization"
    GOVERNMENT = "government", "Government agency"
    TRUST = "trust", "Trust or estate"
    OTHER = "other", "Other"


@tracked(level=pgtrigger.Statement)
class Business(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    legal_name = models.CharField(max_length=200)
    trade_name = models.CharField("trade name (DBA)", max_length=200, blank=True)
    ubi = models.CharField(
        "UBI",
        max_length=9,
        validators=[validate_ubi],
        help_text="Washington Unified Business Identifier: nine digits.",
    )
    # The rest of the 16-digit state number (UBI, branch, location): which of the
    # registered business's branches and locations this record, at this address, is.
    ubi_branch = models.CharField(
        "UBI branch", max_length=3, blank=True, help_text="Three digits, like 001."
    )
    ubi_location = models.CharField(
        "UBI location", max_length=4, blank=True, help_text="Four digits, like 0001."
    )
    ownership_type = models.CharField(max_length=20, choices=OwnershipType.choices)
    naics_code = models.CharField(
        "NAICS code", max_length=6, validators=[validate_naics], help_text="2 to 6 digits."
    )
    location_line1 = models.CharField("street address", max_length=120)
    location_line2 = models.CharField("suite, unit", max_length=120, blank=True)
    location_city = models.CharField("city", max_length=60, default="Kent")
    location_state = models.CharField("state", max_length=2, default="WA")
    location_zip = models.CharField("ZIP", max_length=10, validators=[validate_postal_code])
    # Normalised street and ZIP, for duplicate detection (see validators.address_key).
    location_key = models.CharField(max_length=140, editable=False, db_index=True)
    mailing_line1 = models.CharField(
        "mailing address", max_length=120, blank=True, help_text="Blank: same as the location."
    )
    mailing_line2 = models.CharField("mailing address line 2", max_length=120, blank=True)
    mailing_city = models.CharField(max_length=60, blank=True)
    mailing_state = models.CharField(max_length=2, blank=True)
    mailing_zip = models.CharField(max_length=10, blank=True, validators=[validate_postal_code])
    inside_city_limits = models.BooleanField(default=True)
    fte_employees = models.DecimalField(
        "FTE employees",
        max_digits=8,
        decimal_places=2,
        default=ZERO,
        validators=[MinValueValidator(ZERO)],
        help_text="Full-time equivalents, owners who work in the business included.",
    )
    gross_receipts = MoneyField(
        null=True,
        blank=True,
        validators=[MinValueValidator(ZERO)],
        help_text="Annual gross receipts in the city, where a threshold exemption needs it.",
    )
    status = models.CharField(max_length=6, choices=Status.choices, default=Status.OPEN)
    opened_on = models.DateField()
    closed_on = models.DateField(null=True, blank=True)
    closed_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["legal_name", "id"]
        verbose_name_plural = "businesses"
        constraints = [
            models.CheckConstraint(condition=Q(ubi__regex=r"^[0-9]{9}$"), name="lic_business_ubi"),
            models.CheckConstraint(
                condition=Q(ubi_branch="", ubi_location="")
                | Q(ubi_branch__regex=r"^[0-9]{3}$", ubi_location__regex=r"^[0-9]{4}$"),
                name="lic_business_ubi_branch_location",
            ),
            models.CheckConstraint(
                condition=Q(naics_code__regex=r"^[0-9]{2,6}$"), name="lic_business_naics"
            ),
            models.CheckConstraint(condition=Q(fte_employees__gte=0), name="lic_business_fte"),
            models.CheckConstraint(
                condition=Q(gross_receipts__isnull=True) | Q(gross_receipts__gte=0),
                name="lic_business_receipts",
            ),
            models.CheckConstraint(
                condition=Q(status="open", closed_on__isnull=True)
                | Q(status="closed", closed_on__isnull=False, closed_on__gte=models.F("opened_on")),
                name="lic_business_closed_fields",
            ),
            # One open business per UBI; a closed one may share it (reopened elsewhere).
            models.UniqueConstraint(
                fields=["ubi"], condition=Q(status="open"), name="lic_business_open_ubi"
            ),
        ]
        indexes = [
            GinIndex(fields=["legal_name"], opclasses=["gin_trgm_ops"], name="lic_business_name"),
            GinIndex(fields=["trade_name"], opclasses=["gin_trgm_ops"], name="lic_business_dba"),
            models.Index(fields=["ubi"], name="lic_business_ubi_idx"),
        ]
        triggers = [
            PROTECT_DELETE,
            pgtrigger.FSM(
                name="status_fsm",
                field="status",
                transitions=[("open", "closed"), ("closed", "open")],
            ),
        ]
        permissions = [
            ("import_licenses", "Can import existing business license records"),
        ]

    def __str__(self) -> str:
        return self.display_name

    def save(self, *args, **kwargs):
        self.location_key = address_key(self.location_line1, self.location_zip)
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "location_key"}
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("licensing:business-detail", args=[self.pk])

    @property
    def display_name(self) -> str:
        if self.trade_name and self.trade_name.casefold() != self.legal_name.casefold():
            return f"{self.legal_name} (DBA {self.trade_name})"
        return self.legal_name

    @property
    def ubi_display(self) -> str:
        return format_ubi(self.ubi)

    @property
    def ubi_full_display(self) -> str:
        """The UBI with its branch and location where known: 602 123 456 001 0001."""
        if self.ubi_branch:
            return f"{format_ubi(self.ubi)} {self.ubi_branch} {self.ubi_location}"
        return format_ubi(self.ubi)

    @property
    def naics_sector(self) -> str:
        return naics_sector(self.naics_code)

    @property
    def naics_sector_name(self) -> str:
        return naics_sector_name(self.naics_code)

    @property
    def location_address(self) -> str:
        street = ", ".join(p for p in (self.location_line1, self.location_line2) if p)
        return f"{street}, {self.location_city} {self.location_state} {self.location_zip}"

    @property
    def mailing_address(self) -> str:
        if not self.mailing_line1:
            return self.location_address
        street = ", ".join(p for p in (self.mailing_line1, self.mailing_line2) if p)
        return f"{street}, {self.mailing_city} {self.mailing_state} {self.mailing_zip}".strip()

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN


@tracked(level=pgtrigger.Statement)
class Contact(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        OFFICER = "officer", "Officer"
        PARTNER = "partner", "Partner"
        MANAGER = "manager", "Manager"
        AGENT = "agent", "Registered agent"
        BILLING = "billing", "Billing contact"
        EMERGENCY = "emergency", "Emergency contact"
        OTHER = "other", "Other"

    business = models.ForeignKey(Business, on_delete=models.PROTECT, related_name="contacts")
    name = models.CharField(max_length=120)
    role = models.CharField(max_length=10, choices=Role.choices)
    phone = models.CharField(max_length=30, blank=True, validators=[validate_phone])
    email = models.EmailField(blank=True)
    is_primary = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True, help_text="Removed contacts stay in history.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["business", "-is_primary", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["business"],
                condition=Q(is_primary=True, is_active=True),
                name="lic_contact_one_primary",
            ),
        ]
        triggers = [
            PROTECT_DELETE,
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_role_display()})"
