"""Audit and supervision records.

Scheduled reports: a `ReportSchedule` sends one report of the catalog
(`audit.report_catalog`) to a list of city addresses every day, week or month, for the
period just ended; each period sent (or tried) is one `ReportDelivery`, which keeps the
file that went out with its SHA-256.

Staff training: when a staff member started an exercise and what the system saw when
the exercise was completed. Both tables are append-only: starting again is a new attempt,
and a completion is never edited or taken back.

The audit chain: each chain's head, the link of every chained row, and the daily digest
of the chain heads that is printed or exported and kept outside the database. The links
are written only by the database (audit.chain_sql); see docs/architecture.md.
"""

from datetime import date, time, timedelta

import pghistory
import pgtrigger
from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import BrinIndex
from django.db import models
from django.db.models import Q
from django.urls import reverse

from audit.access_history import (  # noqa: F401 - role history proxies, in their own module
    GroupPermissionLink,
    UserAccess,
    UserGroupLink,
    UserPermissionLink,
)
from kent_cs.db import TransactionNow
from kent_cs.history import tracked

# --- scheduled reports ------------------------------------------------------------------


@tracked(pghistory.InsertEvent(), pghistory.UpdateEvent())
class ReportSchedule(models.Model):
    """One report sent to a recipient list for each period. The period rule follows the
    frequency: a daily schedule sends the day before, a weekly one the week before
    (Monday to Sunday), a monthly one the calendar month before; each is sent once its
    period has ended, from `send_at` (local time) on the first day after it."""

    class Frequency(models.TextChoices):
        DAILY = "daily", "Daily (the day before)"
        WEEKLY = "weekly", "Weekly (the week before, Monday to Sunday)"
        MONTHLY = "monthly", "Monthly (the month before)"

    class Format(models.TextChoices):
        PDF = "pdf", "PDF"
        XLSX = "xlsx", "XLSX spreadsheet"

    name = models.CharField(max_length=120)
    report_key = models.CharField(max_length=80)
    format = models.CharField(max_length=4, choices=Format.choices)
    frequency = models.CharField(max_length=7, choices=Frequency.choices)
    recipients = ArrayField(models.EmailField(max_length=254))
    send_at = models.TimeField(default=time(7, 0))
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "pk"]
        permissions = [("manage_report_schedules", "Can schedule reports sent to city areas")]
        constraints = [
            models.CheckConstraint(
                condition=Q(format__in=["pdf", "xlsx"]), name="report_schedule_format"
            ),
            models.CheckConstraint(
                condition=Q(frequency__in=["daily", "weekly", "monthly"]),
                name="report_schedule_frequency",
            ),
            models.CheckConstraint(
                condition=Q(recipients__len__gt=0), name="report_schedule_has_recipients"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("audit:schedule-detail", args=[self.pk])

    def period_before(self, day: date) -> tuple[date, date]:
        """The last whole period that ended before `day`: (first day, last day)."""
        if self.frequency == self.Frequency.DAILY:
            previous = day - timedelta(days=1)
            return previous, previous
        if self.frequency == self.Frequency.WEEKLY:
            this_monday = day - timedelta(days=day.weekday())
            return this_monday - timedelta(days=7), this_monday - timedelta(days=1)
        last = day.replace(day=1) - timedelta(days=1)
        return last.replace(day=1), last


class ReportDelivery(models.Model):
    """One period of one schedule: claimed (pending), being sent, sent or failed.

    (schedule, period) is unique, so two workers that find the same period due cannot
    both send it: the second insert finds the first one's row. A failed period is tried
    again on the same row."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to be sent"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    schedule = models.ForeignKey(
        ReportSchedule, on_delete=models.PROTECT, related_name="deliveries"
    )
    period_start = models.DateField()
    period_end = models.DateField()
    status = models.CharField(max_length=7, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Who pressed Send now; empty when the worker sent it on schedule.",
    )
    claimed_at = models.DateTimeField()
    recipients = ArrayField(models.EmailField(max_length=254), default=list)
    refused_recipients = ArrayField(models.EmailField(max_length=254), default=list)
    file_name = models.CharField(max_length=200, blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    content = models.BinaryField(null=True, editable=False)
    size_bytes = models.PositiveIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-period_end", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["schedule", "period_start", "period_end"],
                name="report_delivery_once_per_period",
            ),
            models.CheckConstraint(
                condition=Q(period_end__gte=models.F("period_start")),
                name="report_delivery_period_order",
            ),
            models.CheckConstraint(
                condition=~Q(status="sent")
                | (Q(sent_at__isnull=False, content__isnull=False) & ~Q(sha256="")),
                name="report_delivery_sent_keeps_copy",
            ),
        ]
        indexes = [models.Index(fields=["status", "claimed_at"])]

    def __str__(self) -> str:
        return f"{self.schedule} {self.period_text}"

    @property
    def period_text(self) -> str:
        if self.period_start == self.period_end:
            return self.period_start.isoformat()
        return f"{self.period_start.isoformat()} to {self.period_end.isoformat()}"


# --- staff training ----------------------------------------------------------------------

APPEND_ONLY = pgtrigger.Protect(name="append_only", operation=pgtrigger.Update | pgtrigger.Delete)


class TrainingAttempt(models.Model):
    """A staff member started an exercise: its check looks only at work done since."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="training_attempts"
    )
    exercise = models.CharField(max_length=40)
    # The clock receipts use (transaction start): work done in a later request is always
    # at or after it, work done before the exercise started never is.
    started_at = models.DateTimeField(db_default=TransactionNow(), editable=False)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["user", "exercise", "started_at"], name="training_attempt")]
        triggers = [APPEND_ONLY]
        permissions = [("take_training", "Can take the training course of their role")]

    def __str__(self) -> str:
        return f"{self.user} started {self.exercise} at {self.started_at:%Y-%m-%d %H:%M}"


class TrainingCompletion(models.Model):
    """One staff member completed one exercise: who, when, and the records the check found."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="training_completions"
    )
    exercise = models.CharField(max_length=40)
    attempt = models.OneToOneField(
        TrainingAttempt, on_delete=models.PROTECT, related_name="completion"
    )
    completed_at = models.DateTimeField(auto_now_add=True)
    evidence = models.CharField(max_length=300, help_text="What the check saw")

    class Meta:
        ordering = ["-completed_at"]
        constraints = [
            models.UniqueConstraint(fields=["user", "exercise"], name="training_completed_once"),
        ]
        triggers = [APPEND_ONLY]
        permissions = [
            ("view_training_progress", "Can see every staff member's training progress"),
        ]

    def __str__(self) -> str:
        return f"{self.user} completed {self.exercise}"


# --- the audit chain ----------------------------------------------------------------------


class ChainHead(models.Model):
    """The last link of one chain (named after its table): locked and moved by each commit
    that adds to the chain."""

    chain = models.CharField(max_length=63, primary_key=True)
    seq = models.BigIntegerField()
    digest = models.BinaryField()

    def __str__(self) -> str:
        return f"{self.chain} at {self.seq}"


class ChainLink(models.Model):
    """One chained row: its place in its table's chain and
    digest = sha256(previous link's digest || the row's content)."""

    pk = models.CompositePrimaryKey("chain", "seq")
    chain = models.CharField(max_length=63)
    seq = models.BigIntegerField()
    row_id = models.BigIntegerField()
    digest = models.BinaryField()
    linked_at = models.DateTimeField()

    class Meta:
        triggers = [APPEND_ONLY]
        indexes = [
            # The daily digest counts a day's links; a BRIN index costs inserts nearly
            # nothing, and links are written in time order.
            BrinIndex(fields=["linked_at"], name="chainlink_linked_at"),
        ]

    def __str__(self) -> str:
        return f"{self.chain} #{self.seq}"


class ChainDigest(models.Model):
    """A chain's head at the end of a day (or when written during the day): what the
    supervisor prints or exports and keeps outside the database."""

    day = models.DateField()
    chain = models.CharField(max_length=63)
    last_seq = models.BigIntegerField(help_text="Links in the chain up to here")
    last_digest = models.CharField(max_length=64, help_text="SHA-256 of the last link, in hex")
    row_count = models.BigIntegerField(help_text="Rows linked that day")
    written_at = models.DateTimeField(auto_now_add=True)
    written_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-day", "chain", "-last_seq"]
        triggers = [APPEND_ONLY]
        constraints = [
            models.UniqueConstraint(
                fields=["day", "chain", "last_seq"], name="chaindigest_unique_head"
            ),
        ]
        permissions = [("verify_audit_chain", "Can verify the audit chain and its daily digest")]

    def __str__(self) -> str:
        return f"{self.day} {self.chain} #{self.last_seq}"
