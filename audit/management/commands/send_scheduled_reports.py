"""Send every scheduled report whose period is due, in this process.

    manage.py send_scheduled_reports

The workers do this once a minute on their own; the command is for a system without a
worker running (cron) and for sending at once after an outage. A period already sent is
not sent again.
"""

from django.core.management.base import BaseCommand

from audit.schedules import deliveries_send_due
from kent_cs.audit import audit_actor


class Command(BaseCommand):
    help = "Send the scheduled reports that are due (each period once)."

    def handle(self, *args, **options):
        with audit_actor(None, source="send_scheduled_reports"):
            deliveries = deliveries_send_due()
        for delivery in deliveries:
            self.stdout.write(f"{delivery}: {delivery.get_status_display()} {delivery.error}")
        self.stdout.write(f"{len(deliveries)} scheduled report(s) processed.")
