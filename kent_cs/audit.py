"""Audit context: who did a change, from where, and why.

pghistory's triggers copy every change of a tracked model into its event table; the
context attached here (user, IP, request path, reason) is stored once per transaction
and linked from each event. Services wrap their writes in `audit_reason()` when the user
gave a reason; management commands and tasks use `audit_actor()`.
"""

import functools
import ipaddress
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pghistory
import pghistory.runtime
from django.conf import settings
from django.db import connection

from kent_cs.history_context import SET_HISTORY_CONTEXT

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def client_ip(request) -> str | None:
    """The client's address, as sign-in throttling and the audit trail record it.

    The server sets REMOTE_ADDR to the connecting peer: behind nginx that is the proxy, the
    same for everyone. X-Forwarded-For is believed only when REMOTE_ADDR is one of
    TRUSTED_PROXIES, and then only up to the first hop (from the right) that is not a
    trusted proxy: a client can put anything it likes at the left of the header.
    """
    return _client_ip(
        request.META.get("REMOTE_ADDR") or "",
        request.META.get("HTTP_X_FORWARDED_FOR", ""),
        tuple(settings.TRUSTED_PROXIES),
    )


@functools.lru_cache(maxsize=1024)
def _client_ip(remote_addr: str, forwarded_for: str, proxies: tuple) -> str | None:
    """client_ip of the headers (parsing addresses costs more than the rest of a request's
    audit context: the few that reach a process are worked out once)."""
    remote = _parse_ip(remote_addr)
    if remote is None:
        return None
    if any(remote in network for network in proxies):
        hops = forwarded_for.split(",")
        for hop in reversed(hops):
            address = _parse_ip(hop)
            if address is None:
                break  # a malformed hop: trust nothing further left
            remote = address
            if not any(address in network for network in proxies):
                break
    return str(remote)


@contextmanager
def _context(**metadata) -> Iterator[None]:
    """pghistory.context that does not outlive its block.

    pghistory passes the context to its triggers with set_config(..., is_local => true),
    which lasts until the end of the transaction, not of the block: a change made later in
    the same transaction, outside any context, would be attributed to this one. So when the
    outermost context ends inside a transaction, the settings are cleared.
    """
    outermost = not hasattr(pghistory.runtime._tracker, "value")
    with pghistory.context(**metadata):
        yield
    if outermost and connection.in_atomic_block and not connection.needs_rollback:
        with connection.cursor() as cursor:
            # An empty id is not a UUID: pghistory's trigger function then attaches none.
            cursor.execute(SET_HISTORY_CONTEXT, ["", ""])


class AuditContextMiddleware:
    """Attaches the user, address and path to every change made by a request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method in SAFE_METHODS:
            return self.get_response(request)
        user = getattr(request, "user", None)
        authenticated = user is not None and user.is_authenticated
        with _context(
            user=user.pk if authenticated else None,
            username=user.get_username() if authenticated else None,
            ip=client_ip(request),
            path=request.path,
            method=request.method,
        ):
            return self.get_response(request)


@contextmanager
def audit_reason(reason: str) -> Iterator[None]:
    """Record why the changes inside this block were made.

    Inside an enclosing context (a request's, a command's) the block gets a context of its
    own, carrying the enclosing one's who and where plus this reason: pghistory would
    merge the reason into the enclosing context, so that two reasons given in one request
    or one transaction would overwrite each other and every change would read the last.
    """
    tracker = pghistory.runtime._tracker
    enclosing = getattr(tracker, "value", None)
    if enclosing is None:
        with _context(reason=reason):
            yield
        return
    metadata = {**enclosing.metadata, "reason": reason}
    tracker.value = pghistory.runtime.Context(id=uuid.uuid4(), metadata=metadata)
    try:
        yield
    finally:
        tracker.value = enclosing


@contextmanager
def audit_actor(user, *, source: str, reason: str | None = None) -> Iterator[None]:
    """Attribute changes made outside a request (commands, background tasks) to `user`."""
    values = {"user": user.pk if user else None, "username": user.get_username() if user else None}
    values["source"] = source
    if reason:
        values["reason"] = reason
    with _context(**values):
        yield
