"""Sessions: idle timeout without a session write on every request, and the store."""

import functools

from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.sessions.backends import db
from django.db import connection
from django.utils import timezone

from kent_cs.auth import current_session, user_columns_sql
from kent_cs.db import prepared_cursor
from kent_cs.models import Session

# A session's expiry is pushed forward at most this often; the idle timeout is therefore
# exact to within a minute, and a busy counter page does not write its session each time.
TOUCH_SECONDS = 60


class IdleTimeoutMiddleware:
    """Keeps a session alive while it is used: its expiry (SESSION_COOKIE_AGE) restarts
    whenever a request comes more than TOUCH_SECONDS after the last refresh. Also makes
    the request's session the one the authentication backend finds its user in
    (kent_cs.auth.current_session)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = current_session.set(getattr(request, "session", None))
        try:
            response = self.get_response(request)
        finally:
            current_session.reset(token)
        session = getattr(request, "session", None)
        if session is not None and not session.modified and not session.is_empty():
            now = int(timezone.now().timestamp())
            if response.status_code >= 500:
                return response  # the database may be gone: nothing to refresh
            if now - session.get("_touched", 0) >= TOUCH_SECONDS:
                session["_touched"] = now  # marks the session modified: saved, cookie renewed
        return response


class SessionStore(db.SessionStore):
    """The database store (kent_cs.models.Session), which keeps the signed-in user's id
    in a column: the one plain query that reads a session reads its user and their
    permission ids too (`user_row`, for kent_cs.auth's get_user), since every request
    needs both and the ORM's query building costs more than the database."""

    user_row: tuple | None = None

    @classmethod
    def get_model_class(cls):
        return Session

    def create_model_instance(self, data):
        instance = super().create_model_instance(data)
        try:
            instance.user_id = int(data[SESSION_KEY])
        except (KeyError, TypeError, ValueError):
            instance.user_id = None
        return instance

    def _get_session(self, no_load=False):
        """The session's data, loaded on first use. Loaded outside the base class's
        `except AttributeError` so that a lost database connection raises as itself,
        not as a failure inside the handling of a missing cache."""
        self.accessed = True
        cache = self.__dict__.get("_session_cache")
        if cache is None:
            no_data = self.session_key is None or no_load
            cache = self._session_cache = {} if no_data else self.load()
        return cache

    _session = property(_get_session)

    def decode(self, session_data):
        """The session's data. Decoding checks its signature and parses it, on every
        request; the same text decodes to the same data, so a process keeps what it
        decoded (flat data only: the caller gets its own copy of the dict)."""
        cached = _decoded.get(session_data)
        if cached is not None:
            return dict(cached)
        data = super().decode(session_data)
        if data and all(isinstance(value, _FLAT) for value in data.values()):
            if len(_decoded) >= _DECODED_MAX:
                _decoded.clear()
            _decoded[session_data] = dict(data)
        return data

    def _get_session_from_db(self):
        with prepared_cursor() as cursor:
            cursor.execute(_session_sql(), [self.session_key, timezone.now()])
            row = cursor.fetchone()
        self.user_row = None
        if row is None:
            self._session_key = None
            return None
        if row[3] is not None:
            self.user_row = row[3:]
        return self.model.from_db(
            connection.alias, ["session_key", "session_data", "expire_date"], row[:3]
        )


# Session data decoded per process, by its signed text (see SessionStore.decode).
_decoded: dict[str, dict] = {}
_DECODED_MAX = 10_000
_FLAT = (str, int, float, bool, type(None))


@functools.cache
def _session_sql() -> str:
    """The session row with its user's columns and permission ids (built once)."""
    return (
        "SELECT s.session_key, s.session_data, s.expire_date, "
        f"{user_columns_sql('u', 's.user_id')} FROM kent_cs_session s "
        f"LEFT JOIN {get_user_model()._meta.db_table} u ON u.id = s.user_id "
        "WHERE s.session_key = %s AND s.expire_date > %s"
    )
