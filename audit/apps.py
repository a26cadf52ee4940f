from django.apps import AppConfig

from kent_cs.navigation import NavItem


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit and supervision"
    # Each part of the app adds its links here; see kent_cs.navigation.
    nav_items: tuple = (NavItem("Audit", "Audit chain", "audit:chain", "audit.verify_audit_chain"),)

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from audit import chain_sql

        # Chains any event table a later migration adds (and re-creates the functions).
        post_migrate.connect(chain_sql.install, sender=self)

    def worker_recover(self) -> None:
        """Called by the worker once a minute: writes yesterday's chain digest once."""
        from audit.services_chain import chain_digest_daily

        chain_digest_daily()
