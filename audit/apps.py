from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit and supervision"
    # Each part of the app adds its links here; see kent_cs.navigation.
    nav_items: tuple = ()
