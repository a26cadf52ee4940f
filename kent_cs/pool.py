"""The check the database connection pool runs before it hands out a connection.

A connection the server has closed (a restart, a terminated backend, a failover) must never
reach a request. An idle connection has nothing to read; one the server has closed has its
termination message or the end of the stream waiting on the socket. Only then is a round
trip spent to know, so a healthy pool costs no round trip per request.

One dead connection means the others that sat idle beside it are most likely dead too (the
server restarted). psycopg_pool waits a growing delay (1 s, 2 s, 4 s …) after each failed
check before it tries the next idle connection, so a pool of twenty dead connections would
outlast the pool timeout and the request would fail. The first dead connection found
therefore sweeps the whole pool at once (`ConnectionPool.check`: the live ones go back, the
dead ones are replaced), and the request waits one short delay for a fresh connection.
"""

import select

import psycopg
from psycopg_pool import ConnectionPool


def _is_dead(conn: psycopg.Connection) -> bool:
    if conn.closed:
        return True
    readable, _, _ = select.select([conn.fileno()], [], [], 0)
    if not readable:
        return False
    try:
        ConnectionPool.check_connection(conn)
    except psycopg.Error:
        return True
    return False


def pooled_connection_check(conn: psycopg.Connection) -> None:
    """Raise when `conn` is dead (the pool then discards it and takes another), after
    sweeping the pool's other idle connections."""
    if not _is_dead(conn):
        return
    pool = getattr(conn, "_pool", None)  # psycopg_pool marks the connections it owns
    if isinstance(pool, ConnectionPool):
        pool.check()
    raise psycopg.OperationalError("the server closed this pooled connection")
