"""Lists the demo sign-ins."""

from django.conf import settings
from django.core.management.base import BaseCommand

from kent_cs.demo import DEMO_USERS


class Command(BaseCommand):
    help = "Print the demo logins (demo mode only)."

    def handle(self, *args, **options):
        if not settings.DEMO_MODE:
            self.stdout.write("Demo mode is off: there are no demo logins.")
            return
        self.stdout.write("Demo logins (http://127.0.0.1:8000/login/):")
        for username, _first, _last, role, password in DEMO_USERS:
            self.stdout.write(f"  {role:<22} {username:<11} {password}")
