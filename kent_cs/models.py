"""The core's tables: number series, sign-in events, jobs, worker heartbeats, core
permissions and the sessions table with its user column."""

from importlib import import_module

import pghistory
import pgtrigger
from django.conf import settings
from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import models

from kent_cs.history import tracked


class NumberSeries(models.Model):
    """A gapless counter: one row per series, locked while a number is taken."""

    key = models.CharField(max_length=50, unique=True)
    next_value = models.PositiveBigIntegerField(default=1)

    class Meta:
        verbose_name_plural = "number series"

    def __str__(self) -> str:
        return f"{self.key} (next {self.next_value})"


@tracked(pghistory.InsertEvent())
class AuthEvent(models.Model):
    """Sign-ins, sign-outs and refused sign-ins, kept for the audit trail and lockouts."""

    class Kind(models.TextChoices):
        LOGIN = "login", "Signed in"
        LOGOUT = "logout", "Signed out"
        FAILED = "failed", "Sign-in failed"
        LOCKED = "locked", "Sign-in refused: locked out"
        UNLOCKED = "unlock", "Lockout cleared by an administrator"
        ALERT = "alert", "Burst of failed sign-ins for one username"
        SECOND_FACTOR_FAILED = "otp", "Second-factor code refused"
        SECOND_FACTOR_SET = "otpset", "Second factor set up"

    kind = models.CharField(max_length=6, choices=Kind.choices)
    username = models.CharField(max_length=150)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["username", "created_at"], name="authevent_username"),
            models.Index(fields=["ip_address", "created_at"], name="authevent_ip"),
        ]
        triggers = [
            pgtrigger.Protect(name="append_only", operation=pgtrigger.Update | pgtrigger.Delete)
        ]
        permissions = [
            (
                "sign_in_with_second_factor",
                "Must confirm each sign-in with a code from an authenticator app",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.username} from {self.ip_address}"


class Job(models.Model):
    """A long-running piece of work done by the background worker, with its progress and result."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Finished"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=60)
    title = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    message = models.CharField(max_length=300, blank=True)
    params = models.JSONField(default=dict)
    result_name = models.CharField(max_length=200, blank=True)
    result_content_type = models.CharField(max_length=100, blank=True)
    result_data = models.BinaryField(null=True, editable=False)
    task_id = models.CharField(max_length=64, blank=True)
    # The task that does the work (its module path), so that a failed job can be retried.
    task_path = models.CharField(max_length=200, blank=True)
    # The lease: the worker running the job refreshes heartbeat_at every few seconds (and
    # at each progress step); a running job whose lease is older than JOB_LEASE_SECONDS
    # lost its worker and is failed by the sweep (kent_cs.jobs.jobs_recover).
    worker = models.CharField(max_length=100, blank=True)
    heartbeat_at = models.DateTimeField(null=True)
    attempts = models.PositiveSmallIntegerField(default=1)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True)
    finished_at = models.DateTimeField(null=True)
    # The last start or progress report: a running job silent for long is stuck.
    progressed_at = models.DateTimeField(null=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["heartbeat_at"],
                name="job_running_lease",
                condition=models.Q(status="running"),
            )
        ]
        permissions = [("view_all_jobs", "Can see every user's background jobs")]

    def __str__(self) -> str:
        return self.title

    @property
    def percent(self) -> int:
        if self.status == self.Status.SUCCEEDED:
            return 100
        if not self.progress_total:
            return 0
        return min(100, int(self.progress_done * 100 / self.progress_total))

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)


class WorkerHeartbeat(models.Model):
    """Last sign of life from each background worker process."""

    worker_id = models.CharField(max_length=100, unique=True)
    hostname = models.CharField(max_length=200)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    last_seen = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.worker_id} ({self.last_seen:%H:%M:%S})"


class AuditPermissions(models.Model):
    """Holds permissions that belong to no single model."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("view_activity", "Can review the audit trail of every user"),
            ("view_reports", "Can run financial reports"),
        ]

    def __str__(self) -> str:
        return "Core permissions"


class Session(AbstractBaseSession):
    """A signed-in browser's session (kent_cs.sessions.SessionStore), with the id of its
    user in a column of its own: every request reads the session and its user together,
    in one query."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.CASCADE, related_name="+"
    )

    class Meta(AbstractBaseSession.Meta):
        db_table = "kent_cs_session"

    @classmethod
    def get_session_store_class(cls):
        # The configured engine's store, found the way Django's SessionMiddleware finds it:
        # the store module builds on this model (and on kent_cs.auth, which records
        # sign-ins in AuthEvent), so the model names it through settings, not an import.
        return import_module(settings.SESSION_ENGINE).SessionStore
