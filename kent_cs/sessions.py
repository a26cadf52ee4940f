"""Idle timeout without a session write on every request."""

from django.utils import timezone

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
