"""Gapless numbering: receipts, deposits, licenses, journal entries, purchase orders.

A PostgreSQL sequence would leave a gap whenever a transaction rolls back after taking a
number. Instead each series is one row, locked with SELECT ... FOR UPDATE inside the
caller's transaction: the number is only spent if the caller commits, and concurrent
callers queue on the row lock. Keep the posting transaction short after taking a number.
"""

from django.db import connection, models

from kent_cs.models import NumberSeries


class NextNumber(models.Func):
    """The next number of `series`, taken by the statement that writes it.

    `Receipt.objects.create(number=NextNumber("receipt-R"), ...)` locks the series only
    from that INSERT to the commit: write everything else of the transaction first, so
    others wait on the series for as short a time as possible. The number is read back
    from the INSERT's RETURNING clause. Same rules as next_number otherwise.
    """

    function = "kent_next_number"
    output_field = models.BigIntegerField()

    def __init__(self, series: str) -> None:
        super().__init__(models.Value(series, output_field=models.TextField()))


def next_number(series: str) -> int:
    """Take the next number of `series`. Must run inside the transaction that uses it."""
    if not connection.in_atomic_block:
        raise RuntimeError("next_number() must be called inside transaction.atomic().")
    with connection.cursor() as cursor:
        number = _take(cursor, series)
        if number is None:
            # First use of the series: create its row without racing another first use.
            _ensure_series(cursor, series)
            number = _take(cursor, series)
    assert number is not None
    return number


def _take(cursor, series: str) -> int | None:
    cursor.execute(
        "UPDATE kent_cs_numberseries SET next_value = next_value + 1 "
        "WHERE key = %s RETURNING next_value - 1",
        [series],
    )
    row = cursor.fetchone()
    return None if row is None else int(row[0])


def peek_number(series: str) -> int:
    """The number the next call would take (for display only; never reserve with it)."""
    row = NumberSeries.objects.filter(key=series).values_list("next_value", flat=True).first()
    return int(row or 1)


def _ensure_series(cursor, series: str) -> None:
    cursor.execute(
        "INSERT INTO kent_cs_numberseries (key, next_value) VALUES (%s, 1) "
        "ON CONFLICT (key) DO NOTHING",
        [series],
    )


def lock_series(series: str) -> int:
    """Lock `series` until the transaction ends and return its next number, taking none.

    For batch writers that must decide what to number only once no one else can take a
    number of the series (a renewal run selects the licenses still without an invoice
    after this, so two runs never number the same work).
    """
    if not connection.in_atomic_block:
        raise RuntimeError("lock_series() must be called inside transaction.atomic().")
    with connection.cursor() as cursor:
        _ensure_series(cursor, series)
        cursor.execute(
            "SELECT next_value FROM kent_cs_numberseries WHERE key = %s FOR UPDATE", [series]
        )
        (value,) = cursor.fetchone()
    return int(value)


def next_numbers(series: str, count: int) -> range:
    """Take `count` consecutive numbers of `series` in one UPDATE (a batch of invoices).

    Same rules as next_number: inside the transaction that uses them, spent only if it
    commits. Returns the numbers as a range.
    """
    if count < 1:
        raise ValueError("Take at least one number.")
    if not connection.in_atomic_block:
        raise RuntimeError("next_numbers() must be called inside transaction.atomic().")
    with connection.cursor() as cursor:
        _ensure_series(cursor, series)
        cursor.execute(
            "UPDATE kent_cs_numberseries SET next_value = next_value + %s "
            "WHERE key = %s RETURNING next_value - %s",
            [count, series, count],
        )
        (first,) = cursor.fetchone()
    return range(int(first), int(first) + count)
