"""What the licensing benchmarks share: a population of Kent businesses, each holding one
license active for a given year, written in bulk the way an import of existing license
records would leave them.

The mix follows the demo's kinds of business (licensing.demo.KINDS): mostly general
business licenses with FTE counts from a one-person hair studio to a 400-FTE aerospace
plant (every fee tier occurs, with part-time halves), some home occupations, rental
housing priced per unit, outside contractors (a few under the $2,000 threshold, so fully
exempt), a nonprofit or government owner here and there. The fee of each license varies,
and alike licenses still repeat, as they do in a real city.

Populations are tagged through `legacy_number` (RBENCH-<year>-<n>), so `--keep-db` finds
what an earlier run created and a new population takes years nobody used yet.
"""

import random
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from kent_cs.numbering import next_numbers
from licensing.demo import FIRST, KENT_ZIPS, KINDS, LAST, OUTSIDE, PLACES, STREETS
from licensing.models import Business, Contact, License, LicenseStatus, LicenseType
from licensing.services.licenses import LICENSE_SERIES
from licensing.validators import address_key

TAG = "RBENCH"
# Home occupations and rental housing are rarer than the demo's list of kinds suggests.
KIND_WEIGHTS = {"GEN": 1.0, "HOME": 0.9, "RENT": 0.9, "CONT": 1.0}
OWNERSHIP = ["llc"] * 11 + ["corporation"] * 4 + ["partnership"] * 2 + ["limited_partnership"]


@dataclass(frozen=True)
class Population:
    license_year: int
    license_ids: list[int]

    @property
    def renewal_year(self) -> int:
        return self.license_year + 1


def next_free_year() -> int:
    """The first license year after today's and after every earlier benchmark population,
    so the renewal year is next year (as in November) or later."""
    used = License.objects.filter(legacy_number__startswith=f"{TAG}-").aggregate(
        top=Max("license_year")
    )["top"]
    this_year = timezone.localdate().year
    return max(this_year, (used or 0) + 1)


def _fte(rng: random.Random, low: int, high: int) -> Decimal:
    # Skewed towards the small end of the kind's range, as headcounts are; one in five
    # counts a part-timer.
    value = low + (high - low) * rng.random() ** 2
    fte = Decimal(int(value))
    if rng.random() < 0.2:
        fte += Decimal("0.5")
    return fte


def _kinds(rng: random.Random, count: int) -> list[tuple]:
    weights = [KIND_WEIGHTS[code] for *_, code in KINDS]
    chosen = rng.choices(KINDS, weights=weights, k=count)
    # A pawnbroker now and then (three reviews, a flat fee).
    return [
        ("Pawn and Jewelry", "459510", (1, 6), "PAWN") if rng.random() < 0.005 else kind
        for kind in chosen
    ]


def _business(rng: random.Random, kind: tuple, ubi: str, opened: date) -> tuple[Business, str]:
    name, naics, (low, high), code = kind
    place = rng.choice(PLACES)
    owner = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    if name in ("Food Bank", "Youth Soccer Club"):
        ownership = "nonprofit"
    elif code == "HOME":
        ownership = "sole_proprietor"
    elif code == "RENT" and rng.random() < 0.03:
        ownership = "government"  # the housing authority: exempt
    else:
        ownership = rng.choice(OWNERSHIP)
    trade = f"{place} {name}"
    legal = owner if ownership == "sole_proprietor" else f"{trade} {ubi[-4:]} LLC"
    outside = code == "CONT"
    city, zip_code = rng.choice(OUTSIDE) if outside else ("Kent", rng.choice(KENT_ZIPS))
    line1 = f"{rng.randrange(100, 27999)} {rng.choice(STREETS)}"
    receipts = None
    if outside:
        # Most contractors bill well above the threshold; a few do one small job a year.
        receipts = Decimal(rng.choice([1200, 1850, 2000])) if rng.random() < 0.12 else None
        receipts = receipts or Decimal(rng.randrange(5_000, 900_000))
    business = Business(
        legal_name=legal,
        trade_name="" if legal == trade else trade,
        ubi=ubi,
        ownership_type=ownership,
        naics_code=naics,
        location_line1=line1,
        location_line2=f"Suite {rng.randrange(100, 400)}" if rng.random() < 0.25 else "",
        location_city=city,
        location_zip=zip_code,
        location_key=address_key(line1, zip_code),
        inside_city_limits=not outside,
        fte_employees=_fte(rng, low, high),
        gross_receipts=receipts,
        opened_on=opened,
    )
    return business, owner


@transaction.atomic
def population(count: int, *, license_year: int, seed: int, contacts: bool = False) -> Population:
    """`count` open businesses, each with one license of `license_year`, active.

    Fresh businesses every time (a business holds one current license of a kind), with
    UBIs no earlier population used.
    """
    rng = random.Random(seed)
    types = {t.code: t for t in LicenseType.objects.all()}
    first_ubi = 700_000_000 + Business.objects.filter(ubi__startswith="7").count()
    opened = date(license_year - 3, 3, 1)
    kinds = _kinds(rng, count)
    built = [
        _business(rng, kind, f"{first_ubi + index:09d}", opened) for index, kind in enumerate(kinds)
    ]
    businesses = Business.objects.bulk_create([b for b, _ in built], batch_size=2000)
    if contacts:
        Contact.objects.bulk_create(
            [Contact(business=b, name=owner, role="owner", is_primary=True) for b, owner in built],
            batch_size=2000,
        )
    numbers = next_numbers(LICENSE_SERIES, count)
    licenses = License.objects.bulk_create(
        [
            License(
                number=number,
                business=business,
                license_type=types[kind[3]],
                status=LicenseStatus.ACTIVE,
                license_year=license_year,
                issued_on=opened,
                units=rng.randint(2, 120) if kind[3] == "RENT" else None,
                legacy_number=f"{TAG}-{license_year}-{number}",
            )
            for number, business, kind in zip(numbers, businesses, kinds, strict=True)
        ],
        batch_size=2000,
    )
    return Population(license_year=license_year, license_ids=[lic.pk for lic in licenses])
