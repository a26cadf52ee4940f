"""Sends reads that ask for the `reports` alias to a replica when one is configured."""

from django.conf import settings


def reports_db() -> str:
    """The alias report queries should read from: the replica if configured, else default."""
    return "reports" if "reports" in settings.DATABASES else "default"


class ReportsRouter:
    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == "default"
