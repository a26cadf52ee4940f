"""License types and their effective-dated fee schedules, kept as data.

A schedule is in effect from `effective_from` through `effective_to` (inclusive; blank:
until replaced). Schedules of one license type never overlap: an exclusion constraint on
the date range guarantees it. A schedule has components (license fee, fire inspection,
technology fee, ...), each flat, tiered by FTE or per unit; proration rules for new
licenses issued late in the year; and exemption rules.
"""

import pgtrigger
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import DateRangeField, RangeOperators
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

from kent_cs.history import tracked
from kent_cs.money import ZERO, MoneyField
from licensing.models.business import OwnershipType

PROTECT_DELETE = pgtrigger.Protect(name="protect_delete", operation=pgtrigger.Delete)
FEE_CODE_VALIDATOR = RegexValidator(r"^[A-Z0-9][A-Z0-9-]*$", "Use capitals, digits and dashes.")


class DateRange(models.Func):
    """daterange(lower, upper, bounds): both ends inclusive, a null upper is open-ended."""

    function = "daterange"
    output_field = DateRangeField()


def _inclusive_range(start: str, end: str) -> DateRange:
    return DateRange(start, end, models.Value("[]"))


class ReviewDepartment(models.TextChoices):
    """The departments that review an application; a license type names the ones it needs."""

    FIRE = "fire", "Fire"
    PLANNING = "planning", "Planning and zoning"
    POLICE = "police", "Police"


@tracked()
class LicenseType(models.Model):
    code = models.CharField(
        max_length=10,
        unique=True,
        validators=[RegexValidator(r"^[A-Z][A-Z0-9-]*$", "Use capitals, digits and dashes.")],
    )
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    requires_fire_review = models.BooleanField(default=False)
    requires_planning_review = models.BooleanField("requires planning/zoning review", default=False)
    requires_police_review = models.BooleanField(default=False)
    unit_label = models.CharField(
        max_length=40,
        blank=True,
        help_text="What per-unit fees count, e.g. 'rental housing units'. Blank: none.",
    )
    is_renewable = models.BooleanField(
        default=True, help_text="Renewed every year by the renewal run."
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]
        triggers = [PROTECT_DELETE]

    def __str__(self) -> str:
        return self.name

    @property
    def review_departments(self) -> list[str]:
        wanted = [
            (self.requires_fire_review, ReviewDepartment.FIRE),
            (self.requires_planning_review, ReviewDepartment.PLANNING),
            (self.requires_police_review, ReviewDepartment.POLICE),
        ]
        return [str(department) for flag, department in wanted if flag]


@tracked()
class FeeSchedule(models.Model):
    license_type = models.ForeignKey(
        LicenseType, on_delete=models.PROTECT, related_name="schedules"
    )
    name = models.CharField(max_length=120)
    source = models.TextField(
        blank=True, help_text="Where the amounts come from: ordinance, resolution, note."
    )
    effective_from = models.DateField()
    effective_to = models.DateField(
        null=True, blank=True, help_text="Last day in effect; blank until replaced."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["license_type", "-effective_from"]
        constraints = [
            models.CheckConstraint(
                condition=Q(effective_to__isnull=True)
                | Q(effective_to__gte=models.F("effective_from")),
                name="lic_schedule_dates",
            ),
            ExclusionConstraint(
                name="lic_schedule_no_overlap",
                expressions=[
                    ("license_type", RangeOperators.EQUAL),
                    (_inclusive_range("effective_from", "effective_to"), RangeOperators.OVERLAPS),
                ],
                violation_error_message=(
                    "Another fee schedule of this license type is in effect on some of these "
                    "dates; end it the day before this one starts."
                ),
            ),
        ]
        triggers = [PROTECT_DELETE]

    def __str__(self) -> str:
        until = f" to {self.effective_to:%b %d, %Y}" if self.effective_to else ""
        return f"{self.license_type.code} {self.name} (from {self.effective_from:%b %d, %Y}{until})"


@tracked()
class FeeComponent(models.Model):
    class Kind(models.TextChoices):
        LICENSE = "license", "License fee"
        FIRE = "fire", "Fire inspection fee"
        TECHNOLOGY = "technology", "Technology fee"
        OTHER = "other", "Other fee"

    class Method(models.TextChoices):
        FLAT = "flat", "Flat amount"
        FTE_TIERS = "fte_tiers", "Tiered by FTE employees"
        PER_UNIT = "per_unit", "Per unit"

    class ChargedOn(models.TextChoices):
        ALWAYS = "always", "New licenses and renewals"
        NEW = "new", "New licenses only"
        RENEWAL = "renewal", "Renewals only"

    schedule = models.ForeignKey(FeeSchedule, on_delete=models.CASCADE, related_name="components")
    position = models.PositiveSmallIntegerField(
        help_text="Order on the invoice; a partial payment pays components in this order."
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    label = models.CharField(max_length=100)
    fee_code = models.CharField(
        max_length=20,
        validators=[FEE_CODE_VALIDATOR],
        help_text="Ledger fee code credited, e.g. BL-GEN.",
    )
    method = models.CharField(max_length=10, choices=Method.choices)
    amount = MoneyField(
        null=True,
        blank=True,
        validators=[MinValueValidator(ZERO)],
        help_text="Flat: the amount. Per unit: the price of one unit. Tiered: blank.",
    )
    minimum_amount = MoneyField(
        null=True, blank=True, validators=[MinValueValidator(ZERO)], help_text="Per unit only."
    )
    charged_on = models.CharField(max_length=8, choices=ChargedOn.choices, default="always")
    inside_city_only = models.BooleanField(
        default=False, help_text="Charged only to premises inside city limits."
    )
    prorate = models.BooleanField(
        default=False, help_text="Reduced by the schedule's proration rules for new licenses."
    )
    exemptible = models.BooleanField(
        default=True, help_text="Waived when one of the schedule's exemptions applies."
    )
    penalty_base = models.BooleanField(
        default=False, help_text="Late penalties are a percentage of these components."
    )

    class Meta:
        ordering = ["schedule", "position"]
        constraints = [
            models.UniqueConstraint(fields=["schedule", "position"], name="lic_component_position"),
            models.CheckConstraint(
                condition=~Q(prorate=True, kind__in=["fire", "technology"]),
                name="lic_component_no_prorated_fire_tech",
                violation_error_message="Fire inspection and technology fees are never prorated.",
            ),
            models.CheckConstraint(
                condition=Q(method="fte_tiers", amount__isnull=True)
                | Q(method__in=["flat", "per_unit"], amount__isnull=False, amount__gte=0),
                name="lic_component_amount_by_method",
                violation_error_message=(
                    "Flat and per-unit components need an amount; tiered ones take theirs "
                    "from the tiers."
                ),
            ),
            models.CheckConstraint(
                condition=Q(minimum_amount__isnull=True)
                | Q(method="per_unit", minimum_amount__gte=0),
                name="lic_component_minimum_per_unit",
            ),
            models.CheckConstraint(
                condition=Q(fee_code__regex=r"^[A-Z0-9][A-Z0-9-]*$"), name="lic_component_fee_code"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.fee_code})"


@tracked()
class FeeTier(models.Model):
    """From `min_fte` FTE up to the next tier's minimum (exclusive), the amount is `amount`."""

    component = models.ForeignKey(FeeComponent, on_delete=models.CASCADE, related_name="tiers")
    min_fte = models.DecimalField(
        "from FTE", max_digits=8, decimal_places=2, validators=[MinValueValidator(ZERO)]
    )
    amount = MoneyField(validators=[MinValueValidator(ZERO)])

    class Meta:
        ordering = ["component", "min_fte"]
        constraints = [
            models.UniqueConstraint(fields=["component", "min_fte"], name="lic_tier_unique_min"),
            models.CheckConstraint(
                condition=Q(min_fte__gte=0, amount__gte=0), name="lic_tier_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"from {self.min_fte} FTE: {self.amount}"


@tracked()
class ProrationRule(models.Model):
    """New licenses issued after month/day (strictly later) pay `factor` of the prorated
    components. With several rules, the one with the latest cut-off before the issue
    date applies (quarterly proration is three rules)."""

    schedule = models.ForeignKey(
        FeeSchedule, on_delete=models.CASCADE, related_name="proration_rules"
    )
    after_month = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(12)]
    )
    after_day = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(31)]
    )
    factor = models.DecimalField(
        max_digits=5,
        decimal_places=4,
        validators=[MinValueValidator(ZERO), MaxValueValidator(1)],
        help_text="0.5 halves the fee.",
    )
    label = models.CharField(
        max_length=120, help_text="e.g. halved: new license issued after July 1"
    )

    class Meta:
        ordering = ["schedule", "after_month", "after_day"]
        constraints = [
            models.UniqueConstraint(
                fields=["schedule", "after_month", "after_day"], name="lic_proration_unique"
            ),
            models.CheckConstraint(
                condition=Q(after_month__gte=1, after_month__lte=12)
                & Q(after_day__gte=1, after_day__lte=31),
                name="lic_proration_date",
            ),
            models.CheckConstraint(
                condition=Q(factor__gte=0, factor__lte=1), name="lic_proration_factor"
            ),
        ]

    def __str__(self) -> str:
        return self.label


@tracked()
class ExemptionRule(models.Model):
    """Waives a schedule's exemptible components for the businesses it describes."""

    class Basis(models.TextChoices):
        OWNERSHIP = "ownership", "Ownership type"
        GROSS_RECEIPTS = "gross_receipts", "Gross receipts at most the threshold"
        FTE = "fte", "FTE employees at most the threshold"

    schedule = models.ForeignKey(FeeSchedule, on_delete=models.CASCADE, related_name="exemptions")
    basis = models.CharField(max_length=15, choices=Basis.choices)
    ownership_type = models.CharField(max_length=20, choices=OwnershipType.choices, blank=True)
    threshold = models.DecimalField(
        max_digits=14, decimal_places=2, null=True, blank=True, validators=[MinValueValidator(ZERO)]
    )
    outside_city_only = models.BooleanField(
        default=False, help_text="Applies only to businesses outside city limits."
    )
    label = models.CharField(max_length=120, help_text="e.g. exempt: nonprofit")

    class Meta:
        ordering = ["schedule", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(basis="ownership", threshold__isnull=True) & ~Q(ownership_type="")
                | Q(basis__in=["gross_receipts", "fte"], ownership_type="", threshold__gte=0),
                name="lic_exemption_fields",
                violation_error_message=(
                    "An ownership exemption names the ownership type; a threshold exemption "
                    "gives the threshold."
                ),
            ),
        ]

    def __str__(self) -> str:
        return self.label
