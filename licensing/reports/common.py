"""What the licensing reports share: months, the widest year range, NAICS sectors, the
report parameters (years, year, as-of date) and the year columns and change cells of
their tables."""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from kent_cs.reports import (
    MONEY,
    Column,
)
from licensing.models import (
    LicenseStatusChange,
)
from licensing.validators import NAICS_SECTORS

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


MAX_YEARS = 10  # the widest year range a report takes


def percent_change(current: int | Decimal, previous: int | Decimal) -> Decimal | None:
    if not previous:
        return None
    return (Decimal(current - previous) * 100 / Decimal(previous)).quantize(Decimal("0.1"))


@dataclass(frozen=True)
class Sector:
    code: str  # "72", or a range such as "31-33" for a sector spread over several codes
    name: str


def _sectors() -> dict[str, Sector]:
    """Each two-digit NAICS code's sector. The names come from the one NAICS table
    (licensing.validators.NAICS_SECTORS); manufacturing (31-33), retail (44-45) and
    transportation (48-49) each span several codes and are reported as one sector."""
    codes_by_name: dict[str, list[str]] = defaultdict(list)
    for code, name in NAICS_SECTORS.items():
        codes_by_name[name].append(code)
    sectors = {}
    for name, codes in codes_by_name.items():
        label = codes[0] if len(codes) == 1 else f"{codes[0]}-{codes[-1]}"
        for code in codes:
            sectors[code] = Sector(label, name)
    return sectors


SECTORS = _sectors()


UNKNOWN_SECTOR = Sector("??", "Unknown sector")


def change_table() -> str:
    return LicenseStatusChange._meta.db_table


@dataclass(frozen=True)
class ReportParams:
    """What a report is asked for; each report reads the fields it needs."""

    first_year: int
    last_year: int
    year: int  # a license year (renewals outstanding)
    as_of: date  # today, or the day delinquency is counted on

    @property
    def years_text(self) -> str:
        if self.first_year == self.last_year:
            return str(self.first_year)
        return f"{self.first_year}-{self.last_year}"


def year_columns(years: Sequence[int]) -> list[Column]:
    return [Column(str(year), MONEY) for year in years]
