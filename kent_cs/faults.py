"""Lost database connections: pooled connections checked before use, a request's read-only
start retried once, and a plain "unavailable" page (503) when the database cannot be reached.

The pool checks a connection before handing it out (`kent_cs.pool`). A request whose
database connection is lost anyway is retried once on a fresh connection when nothing it
did could have written: the start every request reads (its session, its user and their
permissions), and the whole of a GET or HEAD. A request that still cannot reach the
database, or a write that lost its connection, gets the 503 page: its transaction never
committed, so nothing was posted, and the person is told so.
"""

import logging
import sys

from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError, connections
from django.dispatch import receiver
from django.http import HttpResponse
from django.template.loader import render_to_string

logger = logging.getLogger("kent_cs.faults")

# Methods whose views only read: the whole request may be retried.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
RETRY_AFTER_SECONDS = 30

_FAULT = "_kent_database_fault"
_VIEW_STARTED = "_kent_view_started"
_RETRIED = "_kent_retried"


def is_connection_fault(exc: BaseException) -> bool:
    """Whether `exc` means the database could not be reached or the connection was lost
    (as opposed to an error in a statement, which a retry would only repeat)."""
    if isinstance(exc, InterfaceError):
        return True
    if not isinstance(exc, OperationalError):
        return False
    cause = exc.__cause__
    sqlstate = getattr(cause, "sqlstate", None)
    if sqlstate is None:  # no server answer at all: connecting failed or the stream broke
        return True
    # 08: connection exceptions; 57P01-57P03: admin shutdown, crash shutdown, cannot connect now
    return sqlstate.startswith("08") or sqlstate in {"57P01", "57P02", "57P03"}


@receiver(got_request_exception, dispatch_uid="kent_cs.faults.note_fault")
def _note_fault(sender, request=None, **kwargs) -> None:
    """Remember on the request that its error was a lost database (the handler has already
    turned the exception into an error response; the middleware replaces it)."""
    exc = sys.exc_info()[1]
    if request is not None and exc is not None and is_connection_fault(exc):
        setattr(request, _FAULT, exc)


def database_fault(request) -> BaseException | None:
    """The lost-database error of this request, if it had one."""
    return getattr(request, _FAULT, None)


def _close_connections() -> None:
    """Give every connection of this thread back (a broken one is discarded by the pool),
    so that the next statement takes a fresh one."""
    for conn in connections.all(initialized_only=True):
        conn.close()


def unavailable_response() -> HttpResponse:
    """The 503 page. Rendered without the request's context: nothing on it reads the
    database."""
    response = HttpResponse(render_to_string("503.html"), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


class DatabaseFaultMiddleware:
    """Outermost middleware: retries a request whose connection was lost before it could
    have written, once, and answers 503 instead of an error page when the database stays
    out of reach. Its `process_view` reads the session and the user first, so that the
    read-only start of every request happens before the view is marked started."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        fault = database_fault(request)
        if fault is None:
            return response
        retry = not getattr(request, _RETRIED, False) and (
            request.method in SAFE_METHODS or not getattr(request, _VIEW_STARTED, False)
        )
        _close_connections()
        if retry:
            logger.warning("Database connection lost (%s); %s retried once", fault, request.path)
            setattr(request, _RETRIED, True)
            setattr(request, _FAULT, None)
            setattr(request, _VIEW_STARTED, False)
            return self(request)
        logger.error("Database unavailable (%s); %s answered 503", fault, request.path)
        return unavailable_response()

    def process_view(self, request, view_func, view_args, view_kwargs):
        user = getattr(request, "user", None)
        if user is not None:
            bool(user.is_authenticated)  # reads the session and the user now
        setattr(request, _VIEW_STARTED, True)
