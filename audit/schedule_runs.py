"""Where scheduled reports are enqueued: the worker's once-a-minute check, and "Send now".

Each claimed period gets one task (`audit.schedule_tasks.send_report_delivery`), enqueued
after the claim commits. The claim itself (`audit.schedules`) makes sure a period is
claimed once, so every worker may run the check.
"""

import functools
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from audit.models import ReportSchedule
from audit.schedule_tasks import send_report_delivery
from audit.schedules import deliveries_claim_due, delivery_claim_now


def _enqueue_after_commit(delivery_ids: list[int]) -> None:
    def enqueue(delivery_id: int) -> None:
        send_report_delivery.enqueue(delivery_id)

    for delivery_id in delivery_ids:
        transaction.on_commit(functools.partial(enqueue, delivery_id))


def report_schedules_check(*, now: datetime | None = None) -> list[int]:
    """Claim what is due and enqueue it; called by each worker once a minute."""
    with transaction.atomic():
        claimed = deliveries_claim_due(now=now or timezone.now())
        _enqueue_after_commit(claimed)
    return claimed


def report_send_now(*, schedule: ReportSchedule, user) -> int:
    """Claim the schedule's current period for `user` and enqueue it."""
    with transaction.atomic():
        delivery_id = delivery_claim_now(schedule=schedule, user=user)
        _enqueue_after_commit([delivery_id])
    return delivery_id
