"""The benchmark database: its own database on the server DATABASE_URL points at.

Benchmarks write thousands of immutable journal entries, so they never run against the
development data: `prepare()` drops and recreates `kent_cs_bench` (KENT_BENCH_DB_NAME),
migrates it and loads the demo chart of accounts, before Django opens any connection.
"""

import io
import os
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

DEFAULT_NAME = "kent_cs_bench"


def with_database(url: str, name: str) -> str:
    """`url` pointing at database `name` instead (same server, user and options)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def libpq_url(url: str) -> str:
    """Django accepts postgresql:// and postgres:// and a few more schemes; libpq only the
    first two."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        parts = parts._replace(scheme="postgresql")
    return urlunsplit(parts)


def recreate_database(url: str, name: str, *, keep: bool = False) -> str:
    """Create database `name` next to the one in `url` (dropping it first unless `keep`).

    Returns the URL of the new database.
    """
    admin_url = libpq_url(with_database(url, "postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and not keep:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
            exists = None
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return with_database(url, name)


def prepare(*, keep: bool = False) -> str:
    """Point Django at a fresh benchmark database, migrate and seed it; return its URL."""
    source = os.environ.get("DATABASE_URL")
    if not source:
        raise SystemExit("DATABASE_URL must be set (bin/bench sets it for the local cluster).")
    name = os.environ.get("KENT_BENCH_DB_NAME", DEFAULT_NAME)
    if urlsplit(source).path.lstrip("/") == name:
        raise SystemExit(f"DATABASE_URL already names {name}; point it at the dev database.")
    url = recreate_database(source, name, keep=keep)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kent_cs.settings")

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    from ledger.demo import seed

    seed(io.StringIO())
    return url


def bench_user():
    """The user benchmark postings are attributed to."""
    from django.contrib.auth import get_user_model

    user, created = get_user_model().objects.get_or_create(
        username="bench", defaults={"first_name": "Benchmark", "email": "bench@example.org"}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def server_version() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return cursor.fetchone()[0]
