"""Terminating the database server's backends from the side, as a restart, a failover or
an administrator would: the Django connections using them find out at their next use."""

import time

import psycopg
from django.db import connection


def side_connection(dbname: str | None = None) -> psycopg.Connection:
    """A connection of its own to the test database (or `dbname`), outside Django and its
    pool."""
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    if dbname is not None:
        params["dbname"] = dbname
    return psycopg.connect(**params, autocommit=True)


def terminate_backends(pid: int | None = None) -> int:
    """Terminate backend `pid`, or every backend of the test database; how many."""
    with side_connection("postgres") as side:
        if pid is None:
            pids = [
                row[0]
                for row in side.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = %s",
                    [connection.settings_dict["NAME"]],
                )
            ]
        else:
            pids = [pid]
        done = [
            p for p in pids if side.execute("SELECT pg_terminate_backend(%s)", [p]).fetchone()[0]
        ]
        # Terminating signals the backend; wait until it has said goodbye and gone.
        for _ in range(100):
            left = side.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", [done]
            ).fetchone()[0]
            if not left:
                break
            time.sleep(0.05)
    return len(done)


def allow_connections(allowed: bool) -> None:
    """Let the test database take new connections, or refuse them (the database is down)."""
    name = connection.settings_dict["NAME"]
    with side_connection("postgres") as side:
        side.execute(
            psycopg.sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS {}").format(
                psycopg.sql.Identifier(name), psycopg.sql.SQL("true" if allowed else "false")
            )
        )
