"""Supervision: audit reports, the exceptions dashboard, the tamper-evidence check,
scheduled reports for other city areas and staff training. It reads every other app
(through their selectors) and is read by none."""

from django.apps import AppConfig

from kent_cs.navigation import NavItem


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit and supervision"
    # Each part of the app adds its links here; see kent_cs.navigation.
    nav_items: tuple = (
        NavItem("Audit", "Exceptions", "audit:exceptions", "cashiering.view_all_sessions"),
    )

    def dashboard_cards(self, user) -> list[dict]:
        from audit.dashboard import dashboard_cards

        return dashboard_cards(user)
