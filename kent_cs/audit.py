"""Audit context: who did a change, from where, and why.

pghistory's triggers copy every change of a tracked model into its event table; the
context attached here (user, IP, request path, reason) is stored once per transaction
and linked from each event. Services wrap their writes in `audit_reason()` when the user
gave a reason; management commands and tasks use `audit_actor()`.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import pghistory

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def client_ip(request) -> str | None:
    """The client's address. Behind a proxy, REMOTE_ADDR is set from X-Forwarded-For by
    the proxy configuration (docs/operations.md), never trusted from the header here."""
    return request.META.get("REMOTE_ADDR") or None


class AuditContextMiddleware:
    """Attaches the user, address and path to every change made by a request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method in SAFE_METHODS:
            return self.get_response(request)
        user = getattr(request, "user", None)
        authenticated = user is not None and user.is_authenticated
        with pghistory.context(
            user=user.pk if authenticated else None,
            username=user.get_username() if authenticated else None,
            ip=client_ip(request),
            path=request.path,
            method=request.method,
        ):
            return self.get_response(request)


@contextmanager
def audit_reason(reason: str) -> Iterator[None]:
    """Record why the changes inside this block were made."""
    with pghistory.context(reason=reason):
        yield


@contextmanager
def audit_actor(user, *, source: str, reason: str | None = None) -> Iterator[None]:
    """Attribute changes made outside a request (commands, background tasks) to `user`."""
    values = {"user": user.pk if user else None, "username": user.get_username() if user else None}
    values["source"] = source
    if reason:
        values["reason"] = reason
    with pghistory.context(**values):
        yield
