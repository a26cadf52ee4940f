"""Accessibility in a real browser: axe-core (WCAG 2.1 A and AA, and its best practices)
finds nothing on any role's main pages in demo mode, and the keyboard focus shows as a
solid outline with at least 3:1 contrast against what surrounds it, on the page and on the
navigation bar."""

import pytest

from tests.e2e.helpers import (
    axe_violations,
    describe_violations,
    main_pages,
    seed_demo_data,
    sign_in,
)

ROLES = ["cashier", "technician", "supervisor", "admin"]
# WCAG 2.1 A and AA, and axe's best practices: a page's h1, everything inside a landmark.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]

# The focused element's outline: its width, style and colour, and the colour behind it (the
# first ancestor with an opaque background; the outline is drawn outside the element).
FOCUS_RING_JS = """() => {
  const el = document.activeElement, style = getComputedStyle(el);
  let behind = el.parentElement, background = 'rgb(255, 255, 255)';
  for (; behind; behind = behind.parentElement) {
    const colour = getComputedStyle(behind).backgroundColor;
    if (colour !== 'transparent' && !colour.endsWith(', 0)')) { background = colour; break; }
  }
  return {
    text: (el.innerText || el.getAttribute('aria-label') || '').trim(),
    tag: el.tagName.toLowerCase(),
    width: parseFloat(style.outlineWidth),
    style: style.outlineStyle,
    colour: style.outlineColor,
    own: style.backgroundColor,
    background,
  };
}"""


def _rgb(css: str) -> tuple[float, ...]:
    numbers = css[css.index("(") + 1 : css.index(")")].replace(",", " ").split()
    return tuple(float(n) for n in numbers[:3])


def _luminance(rgb: tuple[float, ...]) -> float:
    def channel(value: float) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(first: str, second: str) -> float:
    """WCAG 2 contrast ratio of two CSS rgb() colours."""
    light, dark = sorted((_luminance(_rgb(first)), _luminance(_rgb(second))), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_every_roles_main_pages_have_no_axe_violations(live_server, page, settings):
    passwords = seed_demo_data(settings)
    found = {}
    for role in ROLES:
        sign_in(page, live_server, role, password=passwords[role])
        for name, path in main_pages(role).items():
            page.goto(f"{live_server.url}{path}")
            violations = axe_violations(page, tags=AXE_TAGS)
            if violations:
                found[f"{role} {name} ({path})"] = describe_violations(violations)
        page.context.clear_cookies()
    assert found == {}, "\n".join(f"{where}: {what}" for where, what in found.items())


def _tab_to(page, locator) -> dict:
    """Press Tab until `locator` has the focus (as a keyboard user would reach it)."""
    for _press in range(80):
        page.keyboard.press("Tab")
        if locator.evaluate("el => el === document.activeElement"):
            return page.evaluate(FOCUS_RING_JS)
    raise AssertionError(f"Tab never reached {locator}")


# Where to look, which element to tab to, and the window width (the toggle shows below lg).
FOCUS_TARGETS = {
    "navbar-link": ("/", "nav[aria-label='Main'] .navbar-brand", 1280),
    "navbar-button": ("/", "nav[aria-label='Main'] .navbar-toggler", 800),
    "primary-button": ("/ledger/trial-balance/", "main .btn-primary", 1280),
    "page-link": ("/ledger/trial-balance/", "main a[href]", 1280),
}


@pytest.mark.parametrize("target", list(FOCUS_TARGETS))
def test_keyboard_focus_is_a_solid_outline_with_3_to_1_contrast(
    target, live_server, page, technician
):
    path, selector, width = FOCUS_TARGETS[target]
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, live_server, "technician")
    page.goto(f"{live_server.url}{path}")
    ring = _tab_to(page, page.locator(selector).first)

    assert ring["width"] >= 2, ring
    assert ring["style"] == "solid", ring
    assert contrast(ring["colour"], ring["background"]) >= 3, ring
    if ring["own"] not in ("transparent", "rgba(0, 0, 0, 0)"):
        # A filled button: the ring stands out against the button too.
        assert contrast(ring["colour"], ring["own"]) >= 3, ring
