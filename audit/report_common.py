"""What every audit report shares: its parameters (date range, one staff member or all),
the sections it is made of (one table each, the same in the page, the PDF and the
workbook), business hours, and names of people."""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone
from django.utils.safestring import SafeString

from kent_cs.reports import DATE, DATETIME, INTEGER, MONEY, Column

WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


@dataclass(frozen=True)
class ReportParams:
    date_from: date
    date_to: date
    cashier: Any = None  # a user, or None for everyone

    @classmethod
    def from_dict(cls, params: dict) -> "ReportParams":
        """From JSON-able values ({"date_from": "2026-03-01", "date_to": ..., "cashier": id
        or None}), as a scheduled job stores them."""
        cashier_id = params.get("cashier")
        cashier = get_user_model().objects.get(pk=cashier_id) if cashier_id else None
        return cls(
            date.fromisoformat(params["date_from"]), date.fromisoformat(params["date_to"]), cashier
        )

    def to_dict(self) -> dict:
        return {
            "date_from": self.date_from.isoformat(),
            "date_to": self.date_to.isoformat(),
            "cashier": self.cashier.pk if self.cashier else None,
        }

    @property
    def window(self) -> tuple[datetime, datetime]:
        """The range as local times: from the first day's midnight to the day after the last."""
        zone = timezone.get_current_timezone()
        return (
            datetime.combine(self.date_from, time.min, tzinfo=zone),
            datetime.combine(self.date_to + timedelta(days=1), time.min, tzinfo=zone),
        )

    def in_window(self, field_name: str) -> Q:
        start, end = self.window
        return Q(**{f"{field_name}__gte": start, f"{field_name}__lt": end})

    @property
    def description(self) -> str:
        who = name(self.cashier) if self.cashier else "all staff"
        return f"{self.date_from:%Y-%m-%d} to {self.date_to:%Y-%m-%d}, {who}"


@dataclass
class Section:
    """One table of a report: the page shows it, the PDF prints it, the workbook has it as
    a sheet. `flags` holds, per row, a warning shown beside it (empty: none)."""

    title: str
    columns: list[Column]
    rows: list[list[Any]]
    total: list[Any] | None = None
    note: str = ""
    flags: list[str] = field(default_factory=list)

    @property
    def flagged(self) -> int:
        return sum(1 for flag in self.flags if flag)

    def display_rows(self) -> list[tuple[list[tuple[str, bool]], str]]:
        """Each row's cells as (text, is a number) with its flag, for the page and the PDF."""
        flags = self.flags or [""] * len(self.rows)
        return [(self._cells(row), flag) for row, flag in zip(self.rows, flags, strict=True)]

    def display_total(self) -> list[tuple[str, bool]] | None:
        return self._cells(self.total) if self.total is not None else None

    def _cells(self, row: list[Any]) -> list[tuple[str, bool]]:
        return [
            (cell_text(column.kind, value), column.kind in (MONEY, INTEGER))
            for column, value in zip(self.columns, row, strict=True)
        ]

    @property
    def headers(self) -> list[tuple[str, bool]]:
        return [(column.header, column.kind in (MONEY, INTEGER)) for column in self.columns]


def cell_text(kind: str, value: Any) -> str:
    if value is None or value == "":
        return ""
    if kind == MONEY:
        return f"{value:,.2f}"
    if kind == DATETIME:
        return f"{timezone.localtime(value):%Y-%m-%d %H:%M}"
    if kind == DATE:
        return f"{value:%Y-%m-%d}"
    return str(value)


@dataclass
class Report:
    key: str
    title: str
    params: ReportParams
    sections: list[Section]
    notes: list[str] = field(default_factory=list)
    chart: SafeString | None = None
    figures: dict[str, Any] = field(default_factory=dict)  # headline numbers, for tests too

    def section(self, title: str) -> Section:
        return next(s for s in self.sections if s.title == title)


def event_model(model: Any, label: str) -> Any:
    """The pghistory event model of `model`'s tracker `label` (made at start, untyped)."""
    return model.pgh_event_models[label]


def name(user: Any) -> str:
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


def business_hours() -> tuple[time, time, list[int]]:
    """(opening, closing, ISO weekday numbers) from the settings."""
    opens, closes = (part.strip() for part in settings.BUSINESS_HOURS.split("-"))
    days = [WEEKDAYS.index(day.lower()) + 1 for day in settings.BUSINESS_WEEKDAYS]
    return time.fromisoformat(opens), time.fromisoformat(closes), days


def is_after_hours(at: datetime) -> bool:
    opens, closes, days = business_hours()
    local = timezone.localtime(at)
    return local.isoweekday() not in days or not (opens <= local.time() < closes)


def hours_text() -> str:
    opens, closes, days = business_hours()
    names = ", ".join(WEEKDAYS[d - 1].capitalize() for d in days)
    return f"{opens:%H:%M}-{closes:%H:%M}, {names}"


def money_sum(values) -> Decimal:
    return sum((v or Decimal("0.00") for v in values), Decimal("0.00"))


def local(at: datetime | None) -> datetime | None:
    return timezone.localtime(at) if at is not None else None
