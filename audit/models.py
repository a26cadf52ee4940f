"""The audit chain's tables: each chain's head, the link of every chained row, and the
daily digest of the chain heads that is printed or exported and kept outside the database.
The links are written only by the database (audit.chain_sql); see docs/architecture.md."""

import pgtrigger
from django.conf import settings
from django.contrib.postgres.indexes import BrinIndex
from django.db import models

APPEND_ONLY = pgtrigger.Protect(name="append_only", operation=pgtrigger.Update | pgtrigger.Delete)


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
