"""Supervision: audit reports, the exceptions dashboard, the tamper-evidence check,
scheduled reports for other city areas and staff training. It reads every other app
(through their selectors) and is read by none."""

from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit and supervision"
    # Each part of the app adds its links here; see kent_cs.navigation. The exceptions
    # page has its own link with a badge beside the menus (templates/base.html).
    nav_items: tuple = ()

    def dashboard_cards(self, user) -> list[dict]:
        from audit.dashboard import dashboard_cards

        return dashboard_cards(user)
