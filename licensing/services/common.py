"""What every licensing write shares: the error a licensing rule raises, turning named
constraint violations into that error, today's date and the required reason."""

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date

from django.core.exceptions import ValidationError
from django.db import IntegrityError

from kent_cs import dates
from licensing.models import (
    LicenseStatus,
)

S = LicenseStatus


class LicensingError(ValidationError):
    """A licensing rule refused the request; the message is meant for the user."""


def constraint_name(exc: IntegrityError) -> str | None:
    return getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None)


@contextmanager
def constraint_errors(messages: Mapping[str, str]) -> Iterator[None]:
    """Turn the named constraints' violations into LicensingError (wrap a whole atomic
    block: the failed transaction is rolled back before the error is raised)."""
    try:
        yield
    except IntegrityError as exc:
        name = constraint_name(exc)
        if name is not None and name in messages:
            raise LicensingError(messages[name], code=name) from None
        raise


def today() -> date:
    return dates.business_today()


def require_reason(reason: str, what: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise LicensingError(f"Enter the reason {what}.", code="reason_required")
    return reason[:300]
