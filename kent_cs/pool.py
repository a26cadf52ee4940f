"""The check the database connection pool runs before it hands out a connection.

A connection the server has closed (a restart, a terminated backend, a failover) must never
reach a request. An idle connection has nothing to read; one the server has closed has its
termination message or the end of the stream waiting on the socket. Only then is a round
trip spent to know, so a healthy pool costs no round trip per request.
"""

import select

import psycopg
from psycopg_pool import ConnectionPool


def pooled_connection_check(conn: psycopg.Connection) -> None:
    """Raise when `conn` is dead (the pool then discards it and takes another)."""
    if conn.closed:
        raise psycopg.OperationalError("the connection is closed")
    readable, _, _ = select.select([conn.fileno()], [], [], 0)
    if readable:
        ConnectionPool.check_connection(conn)
