"""Every back-office page fits a 1280 and a 1024 pixel wide window: nothing scrolls
sideways and every link and button in a table (the Actions column above all) is on screen
without scrolling, on a year of demonstration data with long names."""

import pytest
from django.contrib.auth import get_user_model

from tests.e2e.helpers import layout_problems, main_pages, seed_demo_data, sign_in

WIDTHS = [1280, 1024]
# Long names, as real payers and staff have them, widen the name columns.
LONG_NAMES = {
    "cashier": ("Casey Alexandra", "Nguyen-Montgomery-Vandenberghe"),
    "cashier_b": ("Jordan Maximilian", "Reyes de la Fuente-Castellanos"),
}


@pytest.fixture
def demo_passwords(settings):
    passwords = seed_demo_data(settings)
    for username, (first, last) in LONG_NAMES.items():
        get_user_model().objects.filter(username=username).update(first_name=first, last_name=last)
    return passwords


def test_technician_and_supervisor_pages_fit_1280_and_1024_pixels(
    live_server, page, demo_passwords
):
    problems = []
    for role in ("technician", "supervisor"):
        sign_in(page, live_server, role, password=demo_passwords[role])
        for name, path in main_pages(role).items():
            for width in WIDTHS:
                page.set_viewport_size({"width": width, "height": 900})
                page.goto(f"{live_server.url}{path}")
                problems += [f"{role} {name} at {width}px: {p}" for p in layout_problems(page)]
        page.context.clear_cookies()
    assert problems == [], "\n".join(problems)
