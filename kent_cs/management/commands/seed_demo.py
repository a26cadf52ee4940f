"""Load the demonstration data. Idempotent: running it again adds nothing twice.

Each app contributes through `seed_demo(stdout)` on its AppConfig, called in
INSTALLED_APPS order (the dependency order), after the demo users exist.
"""

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from kent_cs.demo import seed_users


class Command(BaseCommand):
    help = "Load demonstration data (chart of accounts, fee codes, periods, users, ...)."

    def handle(self, *args, **options):
        if not settings.DEMO_MODE:
            raise CommandError(
                "Demo data includes users with published passwords; set KENT_DEMO_MODE=true "
                "to load it (never on a live system)."
            )
        with transaction.atomic():
            seed_users(self.stdout)
        for config in apps.get_app_configs():
            seeder = getattr(config, "seed_demo", None)
            if seeder is not None:
                seeder(self.stdout)
        self.stdout.write(self.style.SUCCESS("Demo data is in place."))
