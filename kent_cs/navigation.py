"""Role navigation. Each app's AppConfig lists `nav_items`: (section, label, url name,
permission or None). A link shows only when the user holds its permission."""

from dataclasses import dataclass

from django.apps import apps
from django.urls import reverse

# Menus in the order of a working day: the counter first, the audit trail last.
SECTION_ORDER = ["Counter", "Balancing", "Licensing", "Ledger", "Inventory", "Audit"]


@dataclass(frozen=True)
class NavItem:
    section: str
    label: str
    url_name: str
    permission: str | None = None


def nav_for(user) -> list[tuple[str, list[tuple[str, str]]]]:
    """[(section, [(label, url), ...]), ...] of what `user` may open, in app order."""
    if not user.is_authenticated:
        return []
    sections: dict[str, list[tuple[str, str]]] = {}
    for config in apps.get_app_configs():
        for item in getattr(config, "nav_items", ()):
            if item.permission is None or user.has_perm(item.permission):
                sections.setdefault(item.section, []).append((item.label, reverse(item.url_name)))
    order = {name: index for index, name in enumerate(SECTION_ORDER)}
    return sorted(sections.items(), key=lambda item: order.get(item[0], len(order)))
