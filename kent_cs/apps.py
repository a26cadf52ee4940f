"""The core app's configuration: its menu link, and at start the sign-in
audit receivers and the trigger functions installed after migrate."""

from django.apps import AppConfig

from kent_cs.navigation import NavItem


class KentCsConfig(AppConfig):
    name = "kent_cs"
    verbose_name = "Kent Customer Services core"
    nav_items = (NavItem("Audit", "Activity", "activity", "kent_cs.view_activity"),)

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from kent_cs import (
            auth,  # noqa: F401 - connects the sign-in audit receivers
            trigger_functions,
        )

        # After pgtrigger's and pghistory's own (they come first in INSTALLED_APPS).
        post_migrate.connect(trigger_functions.install, sender=self)
