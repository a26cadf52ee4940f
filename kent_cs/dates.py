"""The business date: which day it is for the city. Every "today" a payment, a drawer or
a license derives goes through `business_today()`, so that a receipt, its journal entry
and the license it issues agree on one date (the drawer session's business date).

`replaying(day)` runs a block as of an earlier business day, for code that rebuilds past
days as they happened (the demo's seed, tests of a day's sequence); it holds for the
current thread or task only, never for a request another thread serves."""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date

from django.utils import timezone

_replayed: ContextVar[date | None] = ContextVar("replayed_business_day", default=None)


def business_today() -> date:
    """Today in the city's time zone (settings.TIME_ZONE), or the day being replayed."""
    return _replayed.get() or timezone.localdate()


@contextmanager
def replaying(day: date) -> Iterator[None]:
    token = _replayed.set(day)
    try:
        yield
    finally:
        _replayed.reset(token)
