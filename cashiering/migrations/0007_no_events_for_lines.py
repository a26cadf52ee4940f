"""No event tables for receipt lines, tenders and journal lines: they are written with their
receipt or entry, whose event holds their context and time, and never change."""

import pgtrigger.migrations
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("cashiering", "0006_fewer_indexes"),
    ]

    operations = [
        migrations.RemoveField(
            model_name="receiptlineevent",
            name="fee_code",
        ),
        migrations.RemoveField(
            model_name="receiptlineevent",
            name="pgh_context",
        ),
        migrations.RemoveField(
            model_name="receiptlineevent",
            name="pgh_obj",
        ),
        migrations.RemoveField(
            model_name="receiptlineevent",
            name="receipt",
        ),
        migrations.RemoveField(
            model_name="tenderevent",
            name="pgh_context",
        ),
        migrations.RemoveField(
            model_name="tenderevent",
            name="pgh_obj",
        ),
        migrations.RemoveField(
            model_name="tenderevent",
            name="receipt",
        ),
        migrations.RemoveField(
            model_name="tenderevent",
            name="tender_type",
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name="receiptline",
            name="insert_insert",
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name="tender",
            name="insert_insert",
        ),
        migrations.DeleteModel(
            name="ReceiptLineEvent",
        ),
        migrations.DeleteModel(
            name="TenderEvent",
        ),
    ]
