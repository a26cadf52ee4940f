"""Template context for the navigation's Exceptions link: only whether to show it (the
permission is already loaded for the menu); the count comes from the badge URL."""

from audit.exceptions import may_see_exceptions


def exceptions(request):
    user = getattr(request, "user", None)
    return {"exceptions_nav": user is not None and may_see_exceptions(user)}
