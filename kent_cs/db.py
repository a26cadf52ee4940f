"""Database expressions and helpers shared by the apps."""

import functools
from collections.abc import Sequence

from django.db import models


class TransactionNow(models.Func):
    """The start time of the current transaction (PostgreSQL's now()).

    Django's Now() is statement_timestamp(); rows that must be recognisable as written by
    the same transaction (a journal entry and its lines) use this instead.
    """

    template = "CURRENT_TIMESTAMP"
    output_field = models.DateTimeField()


def allocate_ids(*model_classes: type[models.Model]) -> list[int]:
    """Reserve the next primary key of each model in one round trip.

    Lets a transaction write a row's children before the row itself (foreign keys are
    checked at commit), so the row that takes a gapless number can be written last. An id
    reserved by a transaction that rolls back is simply never used; ids are not gapless.
    """
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT " + ", ".join("nextval(pg_get_serial_sequence(%s, %s))" for _ in model_classes),
            [
                value
                for model in model_classes
                for value in (model._meta.db_table, model._meta.pk.column)
            ],
        )
        return [int(value) for value in cursor.fetchone()]


@functools.cache
def _insert_sql(model: type[models.Model], fields: tuple[str, ...]) -> str:
    from django.db import connection

    opts = model._meta
    columns, arrays = [], []
    for name in fields:
        field = opts.get_field(name)
        assert isinstance(field, models.Field) and field.column, f"{name} is not a column"
        columns.append(connection.ops.quote_name(field.column))
        arrays.append(f"%s::{field.cast_db_type(connection)}[]")
    return (
        f"INSERT INTO {connection.ops.quote_name(opts.db_table)} ({', '.join(columns)}) "
        f"SELECT * FROM unnest({', '.join(arrays)})"
    )


def insert_many(
    batches: Sequence[tuple[type[models.Model], Sequence[str], Sequence[Sequence]]],
) -> None:
    """Several `insert_rows` calls in one round trip (one statement per batch)."""
    from django.db import connection

    statements: list[str] = []
    params: list[list] = []
    for model, fields, rows in batches:
        if not rows:
            continue
        columns: list[list] = [[] for _ in fields]
        for row in rows:
            for column, value in zip(columns, row, strict=True):
                column.append(value)
        statements.append(_insert_sql(model, tuple(fields)))
        params.extend(columns)
    if statements:
        with connection.cursor() as cursor:
            cursor.execute("; ".join(statements), params)


def insert_rows(model: type[models.Model], fields: Sequence[str], rows: Sequence[Sequence]) -> None:
    """Insert `rows` (tuples of values in `fields` order, foreign keys as ids) in one
    statement, without building model instances: for the counter's hottest writes, where
    the ORM's per-row work costs more than the database's. Triggers (history, guards)
    fire as for any insert; callers validate first, as they would for bulk_create."""
    if not rows:
        return
    from django.db import connection

    columns: list[list] = [[] for _ in fields]
    for row in rows:
        for column, value in zip(columns, row, strict=True):
            column.append(value)
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(model, tuple(fields)), columns)
