"""Background work for scheduled reports, run by `manage.py run_worker`."""

from django.tasks import task

from audit.schedules import delivery_send


@task()
def send_report_delivery(delivery_id: int) -> None:
    """Render and send one claimed period of a report schedule."""
    delivery_send(delivery_id=delivery_id)
