"""Sessions: idle timeout without a session write on every request, and the store."""

from django.contrib.sessions.backends import db
from django.db import connection
from django.utils import timezone

from kent_cs.db import prepared_cursor

# A session's expiry is pushed forward at most this often; the idle timeout is therefore
# exact to within a minute, and a busy counter page does not write its session each time.
TOUCH_SECONDS = 60


class IdleTimeoutMiddleware:
    """Keeps a session alive while it is used: its expiry (SESSION_COOKIE_AGE) restarts
    whenever a request comes more than TOUCH_SECONDS after the last refresh."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if session is not None and not session.modified and not session.is_empty():
            now = int(timezone.now().timestamp())
            if now - session.get("_touched", 0) >= TOUCH_SECONDS:
                session["_touched"] = now  # marks the session modified: saved, cookie renewed
        return response


class SessionStore(db.SessionStore):
    """The database session store, reading the session row with a plain query: every
    request reads it, and the ORM's query building costs more than the database."""

    def _get_session_from_db(self):
        model = self.model
        with prepared_cursor() as cursor:
            cursor.execute(
                "SELECT session_key, session_data, expire_date FROM django_session "
                "WHERE session_key = %s AND expire_date > %s",
                [self.session_key, timezone.now()],
            )
            row = cursor.fetchone()
        if row is None:
            self._session_key = None
            return None
        return model.from_db(connection.alias, ["session_key", "session_data", "expire_date"], row)
