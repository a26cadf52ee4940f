"""Scheduled reports, the reads: the schedules list, one schedule with its delivery log,
and a delivery's kept copy."""

from django.db.models import Count, Max, Q, QuerySet
from django.http import Http404

from audit.models import ReportDelivery, ReportSchedule

DELIVERY_PAGE_SIZE = 50


def schedule_list() -> QuerySet[ReportSchedule]:
    """Every schedule with its last sent time and failed count: one query."""
    return (
        ReportSchedule.objects.select_related("created_by", "updated_by")
        .annotate(
            last_sent=Max("deliveries__sent_at"),
            failed_count=Count(
                "deliveries", filter=Q(deliveries__status=ReportDelivery.Status.FAILED)
            ),
        )
        .order_by("-is_active", "name", "pk")
    )


def schedule_get(*, pk: int) -> ReportSchedule:
    schedule = ReportSchedule.objects.select_related("created_by", "updated_by").filter(pk=pk)
    found = schedule.first()
    if found is None:
        raise Http404("No such schedule.")
    return found


def deliveries_of(*, schedule: ReportSchedule) -> QuerySet[ReportDelivery]:
    """The schedule's delivery log without the files (they are read on download only)."""
    return (
        ReportDelivery.objects.filter(schedule=schedule)
        .select_related("requested_by")
        .defer("content")
        .order_by("-period_end", "-pk")
    )


def delivery_get(*, pk: int) -> ReportDelivery:
    delivery = ReportDelivery.objects.select_related("schedule").filter(pk=pk).first()
    if delivery is None or delivery.content is None:
        raise Http404("No copy of this delivery is kept.")
    return delivery
