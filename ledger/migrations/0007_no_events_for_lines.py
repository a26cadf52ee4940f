"""No event tables for receipt lines, tenders and journal lines: they are written with their
receipt or entry, whose event holds their context and time, and never change."""

import pgtrigger.migrations
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0006_fewer_indexes"),
    ]

    operations = [
        migrations.RemoveField(
            model_name="journallineevent",
            name="account",
        ),
        migrations.RemoveField(
            model_name="journallineevent",
            name="entry",
        ),
        migrations.RemoveField(
            model_name="journallineevent",
            name="pgh_context",
        ),
        migrations.RemoveField(
            model_name="journallineevent",
            name="pgh_obj",
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name="journalline",
            name="insert_insert",
        ),
        migrations.DeleteModel(
            name="JournalLineEvent",
        ),
    ]
