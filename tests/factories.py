"""Test data builders. Fixed dates, never random ones."""

import io
from contextlib import contextmanager
from datetime import date
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection

from kent_cs import dates
from kent_cs.roles import Role

PASSWORD = "correct-horse-battery-staple"
TODAY = date(2026, 3, 16)  # a Monday in an open period


@contextmanager
def business_day(day: date):
    """Run the block as if the city's business date were `day` (a drawer opened on its
    own day needs no approval)."""
    with dates.replaying(day):
        yield


def make_user(username: str, role: Role | None = None, **extra):
    user = get_user_model().objects.create_user(
        username=username, password=PASSWORD, email=f"{username}@example.org", **extra
    )
    if role is not None:
        user.groups.add(Group.objects.get(name=str(role)))
        if role == Role.ADMINISTRATOR:
            user.is_staff = True
            user.save(update_fields=["is_staff"])
    return user


def seed_chart() -> dict:
    """The demo chart of accounts, fee codes and the 2025-2026 periods, with the counter's
    tender types, drawers, fees and policy.

    The demo's seed runs a few hundred queries; tests seed the chart hundreds of times.
    The first seed into empty tables is kept (`_ChartSnapshot`) and later ones into empty
    tables write the same rows again, one statement per table (triggers fire as for any
    insert). A seed over existing rows runs the demo's seed, which adds what is missing."""
    from ledger.models import GLAccount

    global _chart_snapshot
    snapshot = _chart_snapshot
    if snapshot is not None and snapshot.year == _seed_year() and snapshot.tables_empty():
        snapshot.replay()
    elif _chart_snapshot is None:
        _chart_snapshot = _ChartSnapshot.taken_around(_seed_demo_chart)
    else:
        _seed_demo_chart()
    return {a.full_code: a for a in GLAccount.objects.select_related("fund")}


def _seed_year() -> int:
    from django.utils import timezone

    return timezone.localdate().year  # the demo seeds the periods of this year and the last


def _seed_demo_chart() -> None:
    from cashiering.demo import seed_reference as seed_tenders
    from ledger.demo import seed as seed_ledger

    sink = io.StringIO()
    seed_ledger(sink)
    seed_tenders(sink)


class _ChartSnapshot:
    """The rows one demo seed wrote into tables that were empty before it."""

    def __init__(self, year: int, rows: list[tuple[str, list[str], str]]) -> None:
        self.year = year
        self.rows = rows  # (table, insertable columns, rows as JSON), in insert order

    @classmethod
    def taken_around(cls, seed) -> "_ChartSnapshot | None":
        tables = _seedable_tables()
        before = _contents(tables)
        seed()
        after = _contents(tables)
        written = [t for t in tables if after[t] != before[t]]
        if any(before[t][0] for t in written):
            return None  # rows were there already: a copy would not be the seed's alone
        rows = []
        with connection.cursor() as cursor:
            for table in written:
                cursor.execute(f'SELECT json_agg(t)::text FROM "{table}" t')
                rows.append((table, _insertable_columns(table), cursor.fetchone()[0]))
        return cls(_seed_year(), rows)

    def tables_empty(self) -> bool:
        tables = [table for table, _, _ in self.rows]
        with connection.cursor() as cursor:
            cursor.execute("SELECT " + " OR ".join(f'EXISTS (SELECT FROM "{t}")' for t in tables))
            return not cursor.fetchone()[0]

    def replay(self) -> None:
        # The ids are the first seed's: identity sequences have passed them (a flush
        # truncates tables without restarting them).
        with connection.cursor() as cursor:
            for table, columns, data in self.rows:
                names = ", ".join(f'"{c}"' for c in columns)
                cursor.execute(
                    f'INSERT INTO "{table}" ({names}) SELECT {names} '
                    f'FROM json_populate_recordset(NULL::"{table}", %s::json)',
                    [data],
                )


_chart_snapshot: _ChartSnapshot | None = None


def _seedable_tables() -> list[str]:
    """The application's own tables, in dependency order: not pghistory's event tables
    (a replay's inserts fill them through the triggers, as the seed's did)."""
    from django.apps import apps

    ordered: list[str] = []
    seen: set = set()

    def visit(model) -> None:
        if model in seen:
            return
        seen.add(model)
        for field in model._meta.concrete_fields:
            target = field.related_model
            if field.is_relation and target is not None and target is not model:
                visit(target)
        if _is_seedable(model):
            ordered.append(model._meta.db_table)

    for model in apps.get_models():
        visit(model)
    return ordered


def _is_seedable(model) -> bool:
    import pghistory.models

    meta = model._meta
    return (
        meta.managed
        and not meta.proxy
        and not issubclass(model, pghistory.models.Event)
        and meta.app_label not in ("pghistory", "contenttypes", "auth", "sessions", "admin")
    )


def _contents(tables: list[str]) -> dict[str, tuple[int, str]]:
    """Each table's row count and a digest of its rows (a seed may update a row too)."""
    digests = ", ".join(
        f"(SELECT array[count(*)::text, md5(coalesce(string_agg(t::text, ',' "
        f"ORDER BY t::text), ''))] FROM \"{t}\" t)"
        for t in tables
    )
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {digests}")
        return {
            table: (int(count), digest)
            for table, (count, digest) in zip(tables, cursor.fetchone(), strict=True)
        }


def _insertable_columns(table: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
            "AND NOT attisdropped AND attgenerated = '' ORDER BY attnum",
            [f'"{table}"'],
        )
        return [name for (name,) in cursor.fetchall()]


def money(text: str) -> Decimal:
    return Decimal(text)
