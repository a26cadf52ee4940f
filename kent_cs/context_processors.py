"""Template context every page gets: the navigation menu of the signed-in user."""

from django.conf import settings

from kent_cs.navigation import nav_for


def navigation(request):
    user = getattr(request, "user", None)
    return {
        "nav_sections": nav_for(user) if user is not None else [],
        "city_name": settings.CITY_NAME,
        "demo_mode": settings.DEMO_MODE,
    }
