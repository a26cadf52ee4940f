from django.apps import AppConfig

from kent_cs.navigation import NavItem


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit and supervision"
    # Each part of the app adds its links here; see kent_cs.navigation.
    nav_items: tuple = (NavItem("Audit", "Audit reports", "audit:reports", "kent_cs.view_reports"),)
