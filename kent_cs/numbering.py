"""Gapless numbering: receipts, deposits, licenses, journal entries, purchase orders.

A PostgreSQL sequence would leave a gap whenever a transaction rolls back after taking a
number. Instead each series is one row, locked with SELECT ... FOR UPDATE inside the
caller's transaction: the number is only spent if the caller commits, and concurrent
callers queue on the row lock. Keep the posting transaction short after taking a number.
"""

from django.db import connection

from kent_cs.models import NumberSeries


def next_number(series: str) -> int:
    """Take the next number of `series`. Must run inside the transaction that uses it."""
    if not connection.in_atomic_block:
        raise RuntimeError("next_number() must be called inside transaction.atomic().")
    # Create the row on first use without racing another first use.
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO kent_cs_numberseries (key, next_value) VALUES (%s, 1) "
            "ON CONFLICT (key) DO NOTHING",
            [series],
        )
        cursor.execute(
            "UPDATE kent_cs_numberseries SET next_value = next_value + 1 "
            "WHERE key = %s RETURNING next_value - 1",
            [series],
        )
        (number,) = cursor.fetchone()
    return int(number)


def peek_number(series: str) -> int:
    """The number the next call would take (for display only; never reserve with it)."""
    row = NumberSeries.objects.filter(key=series).values_list("next_value", flat=True).first()
    return int(row or 1)
