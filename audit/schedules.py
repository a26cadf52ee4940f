"""Scheduled reports, the writes: saving and deactivating schedules, claiming the periods
that are due (once each, whatever the number of workers), rendering and sending them by
email with the file attached, and recording every delivery with the copy that went out.

Recipients are limited to the city's domains (`settings.KENT_REPORT_EMAIL_DOMAINS`): an
address elsewhere is refused when a schedule is saved, and is dropped again at sending,
so an address that reached the database some other way is never sent to.

A period goes through pending (claimed) -> sending -> sent, or failed. The claim is an
insert under the unique (schedule, period) constraint: of two workers that find the same
period due, the second finds the first one's row and sends nothing. A failed period is
tried again on its own row, at most MAX_ATTEMPTS times; a claim older than CLAIM_LEASE
(its worker died) is marked failed so that it can be tried again.
"""

import hashlib
import logging
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from audit.models import ReportDelivery, ReportSchedule
from audit.report_catalog import CONTENT_TYPES, ReportUnavailable, catalog_report

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
RETRY_AFTER = timedelta(minutes=15)
CLAIM_LEASE = timedelta(minutes=15)
Status = ReportDelivery.Status


class ScheduleError(Exception):
    """A schedule or a send refused; `field` names the form field it belongs to."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


# --- recipients -------------------------------------------------------------------------


def allowed_domains() -> list[str]:
    return list(settings.KENT_REPORT_EMAIL_DOMAINS)


def address_allowed(address: str) -> bool:
    """Whether `address` is at one of the city's domains or a subdomain of one
    ("finance.kentwa.gov" is; "notkentwa.gov" and "kentwa.gov.example.com" are not)."""
    local, at, domain = address.strip().lower().rpartition("@")
    if not at or not local or not domain:
        return False
    return any(domain == d or domain.endswith("." + d) for d in allowed_domains())


def split_recipients(addresses: Sequence[str]) -> tuple[list[str], list[str]]:
    """(allowed, refused), each without repeats, in the order given."""
    allowed: list[str] = []
    refused: list[str] = []
    for address in addresses:
        address = address.strip()
        target = allowed if address_allowed(address) else refused
        if address and address.lower() not in {a.lower() for a in allowed + refused}:
            target.append(address)
    return allowed, refused


def refused_text(refused: Sequence[str]) -> str:
    domains = ", ".join(allowed_domains())
    return f"{', '.join(refused)}: reports are sent only to the city's addresses ({domains})."


# --- schedules --------------------------------------------------------------------------


def _clean(*, report_key: str, format: str, frequency: str, recipients: Sequence[str]) -> list[str]:
    report = catalog_report(report_key)
    if report is None:
        raise ScheduleError("Choose a report from the list.", field="report_key")
    if format not in report.formats:
        available = " or ".join(f.upper() for f in report.formats)
        raise ScheduleError(f"{report.title} is available as {available} only.", field="format")
    if frequency not in report.frequencies:
        raise ScheduleError(
            f"{report.title} can be sent {' or '.join(report.frequencies)} only.",
            field="frequency",
        )
    allowed, refused = split_recipients(recipients)
    if refused:
        raise ScheduleError(refused_text(refused), field="recipients")
    if not allowed:
        raise ScheduleError("Give at least one recipient.", field="recipients")
    return allowed


def report_schedule_create(
    *,
    user,
    name: str,
    report_key: str,
    format: str,
    frequency: str,
    recipients: Sequence[str],
    send_at: time = time(7, 0),
) -> ReportSchedule:
    addresses = _clean(
        report_key=report_key, format=format, frequency=frequency, recipients=recipients
    )
    return ReportSchedule.objects.create(
        name=name,
        report_key=report_key,
        format=format,
        frequency=frequency,
        recipients=addresses,
        send_at=send_at,
        created_by=user,
        updated_by=user,
    )


def report_schedule_update(
    *,
    schedule: ReportSchedule,
    user,
    name: str,
    report_key: str,
    format: str,
    frequency: str,
    recipients: Sequence[str],
    send_at: time,
) -> ReportSchedule:
    addresses = _clean(
        report_key=report_key, format=format, frequency=frequency, recipients=recipients
    )
    schedule.name = name
    schedule.report_key = report_key
    schedule.format = format
    schedule.frequency = frequency
    schedule.recipients = addresses
    schedule.send_at = send_at
    schedule.updated_by = user
    schedule.save()
    return schedule


def report_schedule_set_active(*, schedule: ReportSchedule, user, active: bool) -> ReportSchedule:
    """Deactivate (or reactivate) a schedule; schedules are never deleted, their
    deliveries stay in the log."""
    schedule.is_active = active
    schedule.updated_by = user
    schedule.save(update_fields=["is_active", "updated_by", "updated_at"])
    return schedule


# --- which periods are due --------------------------------------------------------------


def period_due(schedule: ReportSchedule, now: datetime) -> tuple[date, date]:
    """The period the schedule should have sent by `now`: the one before today once
    today's send time has passed, the one before yesterday until then."""
    local = timezone.localtime(now)
    day = local.date() if local.time() >= schedule.send_at else local.date() - timedelta(days=1)
    return schedule.period_before(day)


def period_current(schedule: ReportSchedule, now: datetime) -> tuple[date, date]:
    """The period "Send now" sends: the last whole period before today."""
    return schedule.period_before(timezone.localdate(now))


def _claim_new(
    schedule: ReportSchedule, start: date, end: date, now: datetime, user=None
) -> ReportDelivery | None:
    """Insert the period's row; None when another claim (a worker's, a person's) has it."""
    try:
        with transaction.atomic():
            return ReportDelivery.objects.create(
                schedule=schedule,
                period_start=start,
                period_end=end,
                status=Status.PENDING,
                claimed_at=now,
                requested_by=user,
            )
    except IntegrityError:
        return None


def _claim_failed(delivery: ReportDelivery, now: datetime, user=None) -> bool:
    """Take a failed period back to pending; of two racing claims one changes the row."""
    changes: dict = {"status": Status.PENDING, "claimed_at": now, "error": ""}
    if user is not None:
        changes["requested_by"] = user
    return bool(
        ReportDelivery.objects.filter(pk=delivery.pk, status=Status.FAILED).update(**changes)
    )


def deliveries_release_stale(*, now: datetime) -> int:
    """Mark failed the claims whose worker stopped before finishing them."""
    return ReportDelivery.objects.filter(
        status__in=[Status.PENDING, Status.SENDING], claimed_at__lt=now - CLAIM_LEASE
    ).update(
        status=Status.FAILED,
        error="The worker stopped before the report was sent; it is tried again.",
    )


def deliveries_claim_due(*, now: datetime | None = None) -> list[int]:
    """Claim every active schedule's due period not yet claimed, and the failed periods
    ready to be tried again; returns the ids of the deliveries this call claimed. Two
    queries when nothing is due, however many schedules there are."""
    now = now or timezone.now()
    deliveries_release_stale(now=now)
    schedules = list(ReportSchedule.objects.filter(is_active=True))
    due = {s.pk: period_due(s, now) for s in schedules}
    claimed: list[int] = []
    if due:
        known = set(
            ReportDelivery.objects.filter(
                schedule__in=due.keys(), period_end__gte=min(end for _, end in due.values())
            ).values_list("schedule_id", "period_start", "period_end")
        )
        for schedule in schedules:
            start, end = due[schedule.pk]
            if (schedule.pk, start, end) in known:
                continue
            delivery = _claim_new(schedule, start, end, now)
            if delivery is not None:
                claimed.append(delivery.pk)
    retry = ReportDelivery.objects.filter(
        status=Status.FAILED,
        attempts__lt=MAX_ATTEMPTS,
        claimed_at__lt=now - RETRY_AFTER,
        schedule__is_active=True,
    ).only("pk")
    for delivery in retry:
        if _claim_failed(delivery, now):
            claimed.append(delivery.pk)
    return claimed


def delivery_claim_now(*, schedule: ReportSchedule, user, now: datetime | None = None) -> int:
    """Claim the schedule's current period for "Send now": a new period, or one that
    failed. A period already sent, or being sent, is refused with the reason."""
    now = now or timezone.now()
    if not schedule.is_active:
        raise ScheduleError("This schedule is inactive; activate it to send it.")
    start, end = period_current(schedule, now)
    existing = ReportDelivery.objects.filter(
        schedule=schedule, period_start=start, period_end=end
    ).first()
    if existing is None:
        delivery = _claim_new(schedule, start, end, now, user=user)
        if delivery is not None:
            return delivery.pk
        existing = ReportDelivery.objects.get(schedule=schedule, period_start=start, period_end=end)
    if existing.status == Status.SENT:
        sent = timezone.localtime(existing.sent_at)
        raise ScheduleError(
            f"The report for {existing.period_text} was already sent on {sent:%Y-%m-%d %H:%M}."
        )
    if existing.status == Status.FAILED and _claim_failed(existing, now, user=user):
        return existing.pk
    raise ScheduleError(f"The report for {existing.period_text} is being sent now.")


# --- sending ----------------------------------------------------------------------------


def _fail(delivery: ReportDelivery, error: str, **fields) -> ReportDelivery:
    ReportDelivery.objects.filter(pk=delivery.pk, status=Status.SENDING).update(
        status=Status.FAILED, error=error[:2000], **fields
    )
    delivery.refresh_from_db()
    return delivery


def delivery_message(
    delivery: ReportDelivery, *, title: str, to: list[str], file_name: str, data: bytes, fmt: str
) -> EmailMessage:
    schedule = delivery.schedule
    body = (
        f"{title} for {delivery.period_text} is attached ({file_name}).\n\n"
        f'Sent by {settings.CITY_NAME} Customer Services on the schedule "{schedule.name}" '
        f"({schedule.get_frequency_display().lower()}). Reply to Customer Services to be "
        "taken off the list.\n"
    )
    message = EmailMessage(
        subject=f"{title}, {delivery.period_text}",
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=to,
    )
    message.attach(file_name, data, CONTENT_TYPES[fmt])
    return message


def delivery_send(*, delivery_id: int, now: datetime | None = None) -> ReportDelivery | None:
    """Render and send a claimed (pending) delivery, and record what happened. None when
    the delivery is no longer pending (another task took it)."""
    now = now or timezone.now()
    # Only the claim's holder moves it to sending, so a task enqueued twice sends once.
    taken = ReportDelivery.objects.filter(pk=delivery_id, status=Status.PENDING).update(
        status=Status.SENDING, attempts=F("attempts") + 1, claimed_at=now
    )
    if not taken:
        return None
    delivery = ReportDelivery.objects.select_related("schedule").get(pk=delivery_id)
    schedule = delivery.schedule
    report = catalog_report(schedule.report_key)
    if report is None:
        return _fail(delivery, f"The report {schedule.report_key!r} is no longer in the catalog.")
    allowed, refused = split_recipients(schedule.recipients)
    if refused:
        logger.warning("Schedule %s: refused recipients %s", schedule.pk, refused)
    if not allowed:
        return _fail(
            delivery,
            "No recipient is at the city's domains; nothing was sent. " + refused_text(refused),
            refused_recipients=refused,
        )
    start, end = delivery.period_start, delivery.period_end
    try:
        data = report.render_file(start, end, schedule.format)
    except ReportUnavailable as error:
        return _fail(delivery, str(error), refused_recipients=refused)
    except Exception as error:  # a report's bug must not stop the other schedules
        logger.exception("Rendering %s for %s failed", report.key, delivery.period_text)
        return _fail(
            delivery, f"The report could not be rendered: {error}", refused_recipients=refused
        )
    file_name = report.filename(start, end, schedule.format)
    kept = {
        "recipients": allowed,
        "refused_recipients": refused,
        "file_name": file_name,
        "content_type": CONTENT_TYPES[schedule.format],
        "content": data,
        "size_bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    message = delivery_message(
        delivery,
        title=report.title,
        to=allowed,
        file_name=file_name,
        data=data,
        fmt=schedule.format,
    )
    try:
        message.send()
    except Exception as error:  # SMTP refused or unreachable: recorded, tried again later
        logger.warning("Sending %s failed", delivery, exc_info=True)
        return _fail(delivery, f"The mail server did not take the message: {error}", **kept)
    note = ("Not sent to " + refused_text(refused)) if refused else ""
    ReportDelivery.objects.filter(pk=delivery.pk, status=Status.SENDING).update(
        status=Status.SENT, sent_at=timezone.now(), error=note, **kept
    )
    delivery.refresh_from_db()
    return delivery


def deliveries_send_due(*, now: datetime | None = None) -> list[ReportDelivery]:
    """Claim and send, in this process, every period due (`manage.py send_scheduled_reports`
    and tests; the worker enqueues one task per claimed period instead)."""
    sent = []
    for delivery_id in deliveries_claim_due(now=now):
        delivery = delivery_send(delivery_id=delivery_id, now=now)
        if delivery is not None:
            sent.append(delivery)
    return sent
