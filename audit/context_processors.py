"""Template context for the navigation's Exceptions link: only whether to show it (the
permission is already loaded for the menu); the count comes from the badge URL.

Not before the second factor is given: the badge's request would be sent to the
second-factor page, and that page would land inside the navigation."""

from audit.exceptions import may_see_exceptions
from kent_cs.two_factor import second_factor_required


def exceptions(request):
    user = getattr(request, "user", None)
    if user is None or not may_see_exceptions(user):
        return {"exceptions_nav": False}
    waiting = second_factor_required(user) and not getattr(user, "is_verified", lambda: True)()
    return {"exceptions_nav": not waiting}
