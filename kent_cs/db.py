"""Database expressions shared by the apps."""

from django.db import models


class TransactionNow(models.Func):
    """The start time of the current transaction (PostgreSQL's now()).

    Django's Now() is statement_timestamp(); rows that must be recognisable as written by
    the same transaction (a journal entry and its lines) use this instead.
    """

    template = "CURRENT_TIMESTAMP"
    output_field = models.DateTimeField()
