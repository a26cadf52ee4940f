"""Write the daily digest of the audit chain heads (the worker does it each night)."""

from datetime import date, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from audit.reports_chain import digest_csv
from audit.services_chain import chain_digest_write


class Command(BaseCommand):
    help = "Record each audit chain's head for a day (default yesterday); print it as CSV."

    def add_arguments(self, parser):
        parser.add_argument("--day", help="YYYY-MM-DD, or 'today'; default yesterday")
        parser.add_argument("--csv", help="Also write the day's digest to this CSV file")

    def handle(self, *args, **options):
        today = timezone.localdate()
        raw = options["day"]
        try:
            day = (
                today
                if raw == "today"
                else date.fromisoformat(raw)
                if raw
                else today - timedelta(days=1)
            )
        except ValueError:
            raise CommandError(f"--day must be YYYY-MM-DD or 'today', not {raw!r}") from None
        if day > today:
            raise CommandError("A digest can be written for today or an earlier day only.")
        records = chain_digest_write(day=day)
        latest = {}
        for record in records:
            latest.setdefault(record.chain, record)
        data = digest_csv(list(latest.values()))
        if options["csv"]:
            with open(options["csv"], "wb") as out:
                out.write(data)
        self.stdout.write(data.decode())
