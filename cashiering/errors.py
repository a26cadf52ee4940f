"""The errors cashiering's services raise: a ValidationError whose message is shown at
the field it names (or at the top of the form), so views turn each into form errors."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.core.exceptions import ValidationError

from ledger.services import LedgerError


class CashieringError(ValidationError):
    """A rule of the counter was broken; the message (and field, if any) is for the user."""


class IdempotencyConflict(CashieringError):
    pass


class TenderTypesChanged(CashieringError):
    """A tender type paid with is no longer as the caller read it (deactivated, another
    clearing account...): nothing was posted; read the tender types again and retry."""


class DepositError(ValidationError):
    """A deposit that breaks a rule; messages are keyed by the part of the form that is
    wrong ("sessions", "currency", "checks", "bank_account", "deposit_date")."""


@contextmanager
def ledger_errors() -> Iterator[None]:
    """The ledger's refusals (a closed period, no period for the date) as the counter's
    own error, so a view that catches CashieringError shows them to the user."""
    try:
        yield
    except LedgerError as exc:
        raise CashieringError(exc.messages) from None
