"""Staff training: when a staff member started an exercise and what the system saw when
the exercise was completed. Both tables are append-only: starting again is a new attempt,
and a completion is never edited or taken back."""

import pgtrigger
from django.conf import settings
from django.db import models

from kent_cs.db import TransactionNow

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
