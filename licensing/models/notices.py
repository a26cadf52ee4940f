"""Renewal notice runs: the invoices chosen when a print of notices starts, in mailing
order, split into chunks that background workers render in parallel, each chunk's PDF
stored once."""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from licensing.models.invoices import RenewalRun


class NoticeRun(models.Model):
    """One print of renewal notices. Done when every chunk is stored: the last chunk
    to finish puts the result (one PDF, or a zip of the chunks' PDFs) on the job."""

    year = models.PositiveSmallIntegerField()
    renewal_run = models.ForeignKey(
        RenewalRun, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    job = models.OneToOneField("kent_cs.Job", on_delete=models.PROTECT, related_name="+")
    chunk_size = models.PositiveIntegerField()
    notices = models.PositiveIntegerField()
    chunks = models.PositiveIntegerField()
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(chunk_size__gt=0, chunks__gt=0, notices__gt=0),
                name="notice_run_has_work",
            )
        ]

    def __str__(self) -> str:
        return f"Renewal notices {self.year} #{self.pk}"


class NoticeChunk(models.Model):
    """A slice of a notice run, rendered by whichever worker takes its task.

    `attempt` counts the tasks enqueued for it: only the task of the current attempt
    renders, so a chunk handed out again after its worker died is not rendered twice by
    queued duplicates. The PDF is stored once: the store is an UPDATE of an unfinished
    row, and (run, number) is unique."""

    run = models.ForeignKey(NoticeRun, on_delete=models.CASCADE, related_name="chunk_set")
    number = models.PositiveIntegerField(help_text="1 for the first chunk in mailing order.")
    invoice_ids = ArrayField(models.BigIntegerField())
    attempt = models.PositiveIntegerField(default=1)
    task_id = models.CharField(max_length=64, blank=True)
    enqueued_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=100, blank=True)
    pdf = models.BinaryField(null=True, editable=False)
    pages = models.PositiveIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "number"]
        constraints = [
            models.UniqueConstraint(fields=["run", "number"], name="notice_chunk_once_per_run"),
            models.CheckConstraint(
                condition=Q(finished_at__isnull=True, pdf__isnull=True)
                | Q(finished_at__isnull=False, pdf__isnull=False, pages__gt=0),
                name="notice_chunk_pdf_when_finished",
            ),
        ]
        indexes = [
            # The workers' recovery sweep reads the unfinished chunks only.
            models.Index(
                fields=["run"],
                condition=Q(finished_at__isnull=True),
                name="notice_chunk_unfinished",
            )
        ]

    def __str__(self) -> str:
        return f"Chunk {self.number} of {self.run}"
