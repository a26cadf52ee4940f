"""Every event table has an index on its event time: the Activity page and each record's
history sort and filter by it, and a year of sign-ins is too many rows to sort unindexed."""

from django.db import connection

from kent_cs.selectors import _event_models


def test_every_event_table_has_an_index_on_its_event_time(db):
    tables = sorted({model._meta.db_table for model in _event_models()})
    assert len(tables) > 30
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename FROM pg_indexes WHERE tablename = ANY(%s) "
            "AND indexdef LIKE '%%(pgh_created_at)'",
            [tables],
        )
        indexed = {row[0] for row in cursor.fetchall()}
    assert [table for table in tables if table not in indexed] == []
