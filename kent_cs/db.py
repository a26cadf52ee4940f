"""Database expressions and helpers shared by the apps."""

import functools
import json
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from decimal import Decimal

import psycopg
from django.db import DEFAULT_DB_ALIAS, connection, connections, models

from kent_cs.history_context import (
    SET_HISTORY_CONTEXT,
    current_history_context,
    history_context,
)

_local = threading.local()


class PreparedCursor:
    """A cursor whose statements PostgreSQL parses and plans once per connection.

    Django's cursors bind parameters on the client: every execution sends the statement
    as text, to be parsed and planned again. For the few statements that every request or
    every receipt runs, that costs the server more than executing them; this cursor sends
    them as prepared statements instead (server-side binding, `prepare=True`), on the
    same connection and in the same transaction as the ORM.

    Django's execute wrappers do not see these statements, pghistory's among them: before
    a statement that writes, the cursor sets the audit context pghistory would have set
    (`SET_HISTORY_CONTEXT`), unless `history_context_bound()` says the transaction has it
    already. Statements are logged where Django logs its own (tests counting queries see
    them).
    """

    def __init__(self, db, cursor: psycopg.Cursor) -> None:
        self._db = db  # Django's DatabaseWrapper (resolved once, not through the proxy)
        self._cursor = cursor

    def execute(self, sql: str, params: Sequence = ()) -> None:
        db = self._db
        started = time.monotonic()
        context = None if sql.lstrip()[:6].lower() == "select" else _unbound_context()
        with db.wrap_database_errors:
            if context is None:
                self._cursor.execute(sql, params, prepare=True)
            elif db.in_atomic_block:
                self._cursor.execute(SET_HISTORY_CONTEXT, context, prepare=True)
                self._cursor.execute(sql, params, prepare=True)
            else:  # autocommit: both in one implicit transaction
                with self._cursor.connection.pipeline():
                    self._cursor.execute(SET_HISTORY_CONTEXT, context, prepare=True)
                    self._cursor.execute(sql, params, prepare=True)
        if db.queries_logged:
            db.queries_log.append(
                {"sql": f"{sql} -- {list(params)!r}", "time": f"{time.monotonic() - started:.3f}"}
            )

    def fetchone(self):
        with self._db.wrap_database_errors:
            return self._cursor.fetchone()

    def fetchall(self):
        with self._db.wrap_database_errors:
            return self._cursor.fetchall()

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount


def _unbound_context() -> tuple[str, str] | None:
    """The audit context to set before a write, or None (none active, or already set in
    this transaction by the block that `history_context_bound()` marks)."""
    current = current_history_context()
    if current is None or getattr(_local, "bound", None) is current:
        return None
    return history_context()


@contextmanager
def history_context_bound() -> Iterator[tuple[str, str]]:
    """For a block inside one transaction whose first statement sets the audit context
    itself (yielded: the SET_HISTORY_CONTEXT parameters, or empty strings when there is
    none, which pghistory reads as no context): `PreparedCursor` then does not set it
    again before each write. The hottest write path, receipt posting, saves a round trip
    per write this way."""
    assert connection.in_atomic_block, "the audit context lasts for one transaction"
    previous = getattr(_local, "bound", None)
    _local.bound = current_history_context()
    try:
        yield history_context() or ("", "")
    finally:
        _local.bound = previous


@contextmanager
def prepared_cursor() -> Iterator[PreparedCursor]:
    """A `PreparedCursor` on the default connection (see its docstring)."""
    db = connections[DEFAULT_DB_ALIAS]
    db.validate_no_broken_transaction()
    db.validate_thread_sharing()
    db.ensure_connection()
    raw = db.connection
    cached = getattr(_local, "cursor", None)
    if cached is None or cached.connection is not raw or cached.closed:
        with db.wrap_database_errors:
            cached = _local.cursor = psycopg.Cursor(raw)
    yield PreparedCursor(db, cached)


class TransactionNow(models.Func):
    """The start time of the current transaction (PostgreSQL's now()).

    Django's Now() is statement_timestamp(); rows that must be recognisable as written by
    the same transaction (a journal entry and its lines) use this instead.
    """

    template = "CURRENT_TIMESTAMP"
    output_field = models.DateTimeField()


def placeholders(count: int) -> str:
    """`%s, %s, ...` for an IN list. A prepared statement gets a generic plan for an IN
    list of n parameters; for `= ANY(array)` PostgreSQL keeps planning each execution."""
    return ", ".join(["%s"] * count)


def allocate_ids(*model_classes: type[models.Model]) -> list[int]:
    """Reserve the next primary key of each model in one round trip.

    Lets a transaction write a row's children before the row itself (foreign keys are
    checked at commit), so the row that takes a gapless number can be written last. An id
    reserved by a transaction that rolls back is simply never used; ids are not gapless.
    """
    with prepared_cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(next_id_sql(model) for model in model_classes))
        return [int(value) for value in cursor.fetchone()]


@functools.cache
def next_id_sql(model: type[models.Model]) -> str:
    """`nextval(...)` of the model's primary key sequence, to reserve an id within a
    statement of one's own (see `allocate_ids`)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_serial_sequence(%s, %s)", [model._meta.db_table, model._meta.pk.column]
        )
        sequence = cursor.fetchone()[0]
    return f"nextval('{sequence}')"


@functools.cache
def _insert_sql(model: type[models.Model], fields: tuple[str, ...]) -> str:
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
    """Several `insert_rows` calls as one statement (the first inserts as data-modifying
    WITH queries): one round trip, one prepared plan."""
    parts = [insert_statement(*batch) for batch in batches if batch[2]]
    if not parts:
        return
    sql, params = with_queries(parts)
    with prepared_cursor() as cursor:
        cursor.execute(sql, params)


def insert_statement(
    model: type[models.Model], fields: Sequence[str], rows: Sequence[Sequence]
) -> tuple[str, list]:
    """An INSERT of `rows` (values in `fields` order) with one array parameter per column:
    one plan whatever the number of rows. Returns (SQL, parameters)."""
    return _insert_sql(model, tuple(fields)), _columns(fields, rows)


def json_insert_statement(
    model: type[models.Model], fields: Sequence[str], rows: Sequence[Sequence]
) -> tuple[str, list]:
    """An INSERT of a few `rows` (values in `fields` order) with all their values in one
    JSON parameter: a statement made of several INSERTs (`with_queries`) keeps few
    parameters this way, and psycopg parses a statement once only when it has at most 50.
    Text is checked against the column's length, as by any INSERT. Returns (SQL,
    parameters)."""
    return _json_insert_sql(model, tuple(fields)), [
        json.dumps(rows, default=_json_value, separators=(",", ":"))
    ]


@functools.cache
def _json_insert_sql(model: type[models.Model], fields: tuple[str, ...]) -> str:
    opts = model._meta
    columns, values = [], []
    for index, name in enumerate(fields):
        field = opts.get_field(name)
        assert isinstance(field, models.Field) and field.column, f"{name} is not a column"
        columns.append(connection.ops.quote_name(field.column))
        cast = field.cast_db_type(connection) or "text"
        values.append(f"(v->>{index})::{'text' if cast.startswith('varchar') else cast}")
    return (
        f"INSERT INTO {connection.ops.quote_name(opts.db_table)} ({', '.join(columns)}) "
        f"SELECT {', '.join(values)} FROM json_array_elements(%s::json) v"
    )


def _json_value(value):
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, date):  # and datetime
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not a column value")


def with_queries(
    parts: Sequence[tuple[str, Sequence]],
    *,
    names: Sequence[str | None] = (),
    final: tuple[str, Sequence] | None = None,
) -> tuple[str, list]:
    """Statements (SQL, parameters) as one: each a WITH query (named by `names`, else
    w0, w1, ...) of the `final` statement, or, without one, of the last part. PostgreSQL
    runs every data-modifying WITH query to completion, referenced or not, in the final
    statement's snapshot: such statements must not depend on one another's changes
    (foreign keys are checked at commit). Returns (SQL, parameters)."""
    if final is None:
        *parts, final = parts
    clauses: list[str] = []
    params: list = []
    for index, (sql, values) in enumerate(parts):
        name = names[index] if index < len(names) and names[index] else f"w{index}"
        clauses.append(f"{name} AS ({sql})")
        params.extend(values)
    params.extend(final[1])
    if not clauses:
        return final[0], params
    return f"WITH {', '.join(clauses)} {final[0]}", params


def _columns(fields: Sequence[str], rows: Sequence[Sequence]) -> list[list]:
    columns: list[list] = [[] for _ in fields]
    for row in rows:
        for column, value in zip(columns, row, strict=True):
            column.append(value)
    return columns


def insert_rows(model: type[models.Model], fields: Sequence[str], rows: Sequence[Sequence]) -> None:
    """Insert `rows` (tuples of values in `fields` order, foreign keys as ids) in one
    statement, without building model instances: for the counter's hottest writes, where
    the ORM's per-row work costs more than the database's. Triggers (history, guards)
    fire as for any insert; callers validate first, as they would for bulk_create."""
    if rows:
        insert_many([(model, fields, rows)])
