"""The daily licensing run for cron: expire, assess late penalties, lapse.

manage.py licensing_daily                 # as of today
manage.py licensing_daily --as-of 2027-02-01
"""

from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from licensing.services.penalties import penalties_assess


class Command(BaseCommand):
    help = "Expire licenses whose year ended, add late penalties, lapse unrenewed licenses."

    def add_arguments(self, parser):
        parser.add_argument("--as-of", help="The day to assess as of (YYYY-MM-DD); default today.")

    def handle(self, *args, **options):
        try:
            as_of = date.fromisoformat(options["as_of"]) if options["as_of"] else None
        except ValueError:
            raise CommandError("--as-of takes a date written YYYY-MM-DD.") from None
        result = penalties_assess(as_of=as_of or timezone.localdate(), user=None)
        self.stdout.write(result.summary)
