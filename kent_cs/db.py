"""Database expressions shared by the apps."""

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
