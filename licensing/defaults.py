# ruff: noqa: RUF001, RUF002, RUF003 - en dashes and × are what users read (25–49 FTE)
"""Kent's license types, fee schedules and late-penalty schedule, as every database starts.

Installed by a data migration (so they exist everywhere, not only in the demo) and kept
as ordinary rows the Administrator edits in the admin: a new fee resolution is a new
schedule with its own effective date, never an edit of the old one.

Amounts. The general business license follows Kent's published schedule (2016): by FTE
0–24 $100, 25–49 $200, 50–99 $400, 100+ $600, halved for new licenses issued after
July 1, plus a $112.93 fire inspection fee and a $1 technology fee. The home occupation,
rental housing, outside contractor and secondhand dealer amounts are illustrative, in
the style of the published schedule: confirm them against the current fee resolution
before going live. The threshold exemption is Washington's model-ordinance threshold
(RCW 35.90.080: $2,000 or less of gross income in the city, no place of business there).
"""

from datetime import date
from decimal import Decimal

D = Decimal
EFFECTIVE = date(2016, 1, 1)
KENT_SOURCE = (
    "Kent business license fee schedule (2016): FTE tiers $100/$200/$400/$600, halved for "
    "new licenses issued after July 1; fire inspection $112.93; technology fee $1.00."
)
ILLUSTRATIVE = (
    "Illustrative amounts in the style of Kent's published schedule; confirm against the "
    "current fee resolution before going live. Technology fee $1.00 as published."
)

TECH = {
    "kind": "technology",
    "label": "Technology fee",
    "fee_code": "BL-TECH",
    "method": "flat",
    "amount": D("1.00"),
}
FIRE = {
    "kind": "fire",
    "label": "Fire inspection fee",
    "fee_code": "BL-FIRE",
    "method": "flat",
    "amount": D("112.93"),
    "inside_city_only": True,
    "exemptible": False,
}
HALVED_AFTER_JULY_1 = {
    "after_month": 7,
    "after_day": 1,
    "factor": D("0.5"),
    "label": "halved: new license issued after July 1",
}
OWNERSHIP_EXEMPTIONS = [
    {"basis": "ownership", "ownership_type": "nonprofit", "label": "exempt: nonprofit"},
    {"basis": "ownership", "ownership_type": "government", "label": "exempt: government agency"},
]
THRESHOLD_EXEMPTION = {
    "basis": "gross_receipts",
    "threshold": D("2000.00"),
    "outside_city_only": True,
    "label": "exempt: $2,000 or less a year in Kent, no place of business in the city",
}

LICENSE_TYPES = [
    {
        "code": "GEN",
        "name": "General business license",
        "description": "Every business operating in Kent, by number of FTE employees.",
        "requires_fire_review": True,
        "requires_planning_review": True,
        "schedule": {
            "name": "General business license fees (2016)",
            "source": KENT_SOURCE,
            "components": [
                {
                    "kind": "license",
                    "label": "Business license fee",
                    "fee_code": "BL-GEN",
                    "method": "fte_tiers",
                    "prorate": True,
                    "penalty_base": True,
                    "tiers": [
                        (D("0"), D("100.00")),
                        (D("25"), D("200.00")),
                        (D("50"), D("400.00")),
                        (D("100"), D("600.00")),
                    ],
                },
                FIRE,
                TECH,
            ],
            "prorations": [HALVED_AFTER_JULY_1],
            "exemptions": [*OWNERSHIP_EXEMPTIONS, THRESHOLD_EXEMPTION],
        },
    },
    {
        "code": "HOME",
        "name": "Home occupation license",
        "description": "A business run from the owner's home in a residential zone.",
        "requires_planning_review": True,
        "schedule": {
            "name": "Home occupation fees",
            "source": ILLUSTRATIVE,
            "components": [
                {
                    "kind": "license",
                    "label": "Home occupation license fee",
                    "fee_code": "BL-HOME",
                    "method": "flat",
                    "amount": D("50.00"),
                    "prorate": True,
                    "penalty_base": True,
                },
                TECH,
            ],
            "prorations": [HALVED_AFTER_JULY_1],
            "exemptions": [],
        },
    },
    {
        "code": "RENT",
        "name": "Rental housing license",
        "description": "Residential rental units in Kent, licensed per unit.",
        "unit_label": "rental housing units",
        "schedule": {
            "name": "Rental housing fees",
            "source": ILLUSTRATIVE,
            "components": [
                {
                    "kind": "license",
                    "label": "Rental housing license fee",
                    "fee_code": "BL-RENT",
                    "method": "per_unit",
                    "amount": D("18.00"),
                    "minimum_amount": D("40.00"),
                    "penalty_base": True,
                },
                TECH,
            ],
            "prorations": [],
            "exemptions": [OWNERSHIP_EXEMPTIONS[1]],
        },
    },
    {
        "code": "CONT",
        "name": "Outside contractor license",
        "description": "Contractors based outside Kent who work within the city.",
        "schedule": {
            "name": "Outside contractor fees",
            "source": ILLUSTRATIVE,
            "components": [
                {
                    "kind": "license",
                    "label": "Outside contractor license fee",
                    "fee_code": "BL-CONT",
                    "method": "flat",
                    "amount": D("75.00"),
                    "prorate": True,
                    "penalty_base": True,
                },
                TECH,
            ],
            "prorations": [HALVED_AFTER_JULY_1],
            "exemptions": [THRESHOLD_EXEMPTION],
        },
    },
    {
        "code": "PAWN",
        "name": "Pawnbroker and secondhand dealer license",
        "description": "Regulated business: the police department reviews every application.",
        "requires_fire_review": True,
        "requires_planning_review": True,
        "requires_police_review": True,
        "schedule": {
            "name": "Pawnbroker and secondhand dealer fees",
            "source": ILLUSTRATIVE,
            "components": [
                {
                    "kind": "license",
                    "label": "Pawnbroker/secondhand dealer license fee",
                    "fee_code": "BL-GEN",
                    "method": "flat",
                    "amount": D("150.00"),
                    "penalty_base": True,
                },
                FIRE,
                TECH,
            ],
            "prorations": [],
            "exemptions": [],
        },
    },
]

PENALTY_SCHEDULE = {
    "name": "Late renewal penalties",
    "source": (
        "10% of the license fee for each 30 days (or part) a renewal is late, at most 50%: "
        "the late-penalty pattern Washington cities commonly adopt. Due Dec 31, when the "
        "license expires; unrenewed licenses lapse 90 days later. Confirm against Kent's code."
    ),
    "effective_from": EFFECTIVE,
    "due_month": 12,
    "due_day": 31,
    "due_in_prior_year": True,
    "grace_days": 0,
    "lapse_after_days": 90,
    "max_total_percent": D("50"),
    "fee_code": "BL-PEN",
    "rules": [
        (step, days, f"Late penalty, {label}")
        for step, days, label in [
            (1, 1, "1–30 days late"),
            (2, 31, "31–60 days late"),
            (3, 61, "61–90 days late"),
            (4, 91, "91–120 days late"),
            (5, 121, "over 120 days late"),
        ]
    ],
}


def install_defaults(apps) -> None:
    """Create what is missing (idempotent; edits made since are left alone)."""
    LicenseType = apps.get_model("licensing", "LicenseType")
    FeeSchedule = apps.get_model("licensing", "FeeSchedule")
    FeeComponent = apps.get_model("licensing", "FeeComponent")
    FeeTier = apps.get_model("licensing", "FeeTier")
    ProrationRule = apps.get_model("licensing", "ProrationRule")
    ExemptionRule = apps.get_model("licensing", "ExemptionRule")
    PenaltySchedule = apps.get_model("licensing", "PenaltySchedule")
    PenaltyRule = apps.get_model("licensing", "PenaltyRule")

    for spec in LICENSE_TYPES:
        fields = {k: v for k, v in spec.items() if k not in ("code", "schedule")}
        license_type, _ = LicenseType.objects.get_or_create(code=spec["code"], defaults=fields)
        if FeeSchedule.objects.filter(license_type=license_type).exists():
            continue
        schedule_spec = spec["schedule"]
        schedule = FeeSchedule.objects.create(
            license_type=license_type,
            name=schedule_spec["name"],
            source=schedule_spec["source"],
            effective_from=EFFECTIVE,
        )
        for position, component_spec in enumerate(schedule_spec["components"], start=1):
            values = {k: v for k, v in component_spec.items() if k != "tiers"}
            component = FeeComponent.objects.create(schedule=schedule, position=position, **values)
            for min_fte, amount in component_spec.get("tiers", []):
                FeeTier.objects.create(component=component, min_fte=min_fte, amount=amount)
        for rule in schedule_spec["prorations"]:
            ProrationRule.objects.create(schedule=schedule, **rule)
        for rule in schedule_spec["exemptions"]:
            ExemptionRule.objects.create(schedule=schedule, **rule)

    if not PenaltySchedule.objects.exists():
        values = {k: v for k, v in PENALTY_SCHEDULE.items() if k != "rules"}
        schedule = PenaltySchedule.objects.create(**values)
        for step, days_late, label in PENALTY_SCHEDULE["rules"]:
            PenaltyRule.objects.create(
                schedule=schedule,
                step=step,
                days_late=days_late,
                method="percent",
                rate=D("10"),
                label=label,
            )
