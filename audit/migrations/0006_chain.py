"""The audit chain: heads, links and the daily digest; the trigger on every audit event
table and the journal; the rows already there linked in order (audit.chain_sql)."""

import django.contrib.postgres.indexes
import django.db.models.deletion
import pgtrigger.compiler
import pgtrigger.migrations
from django.conf import settings
from django.db import migrations, models

from kent_cs.roles import Role, grant_role_permissions


def install_chain(apps, schema_editor):
    from audit import chain_sql

    if schema_editor is None:
        # Called again by the test suite's role restore after a truncation, which leaves
        # the triggers in place: nothing to do.
        return
    chain_sql.install(using=schema_editor.connection.alias)


ROLE_PERMISSIONS = {Role.SUPERVISOR: ["audit.verify_audit_chain"]}


def grant(apps, schema_editor):
    grant_role_permissions(apps, ROLE_PERMISSIONS)


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("audit", "0005_reports_access_history"),
        ("cashiering", "0009_event_time_indexes"),
        ("kent_cs", "0010_job_progressed_at"),
        ("ledger", "0010_event_time_indexes"),
        ("licensing", "0009_event_time_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ChainHead",
            fields=[
                ("chain", models.CharField(max_length=63, primary_key=True, serialize=False)),
                ("seq", models.BigIntegerField()),
                ("digest", models.BinaryField()),
            ],
        ),
        migrations.CreateModel(
            name="ChainDigest",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField()),
                ("chain", models.CharField(max_length=63)),
                ("last_seq", models.BigIntegerField(help_text="Links in the chain up to here")),
                (
                    "last_digest",
                    models.CharField(help_text="SHA-256 of the last link, in hex", max_length=64),
                ),
                ("row_count", models.BigIntegerField(help_text="Rows linked that day")),
                ("written_at", models.DateTimeField(auto_now_add=True)),
                (
                    "written_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["-day", "chain", "-last_seq"],
                "permissions": [
                    ("verify_audit_chain", "Can verify the audit chain and its daily digest")
                ],
            },
        ),
        migrations.CreateModel(
            name="ChainLink",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "chain",
                        "seq",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("chain", models.CharField(max_length=63)),
                ("seq", models.BigIntegerField()),
                ("row_id", models.BigIntegerField()),
                ("digest", models.BinaryField()),
                ("linked_at", models.DateTimeField()),
            ],
            options={
                "indexes": [
                    django.contrib.postgres.indexes.BrinIndex(
                        fields=["linked_at"], name="chainlink_linked_at"
                    )
                ],
            },
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="chainlink",
            trigger=pgtrigger.compiler.Trigger(
                name="append_only",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    func="RAISE EXCEPTION 'pgtrigger: Cannot update or delete rows from % table', TG_TABLE_NAME;",
                    hash="deb4e52133e3bb106848897540f3f270ff05a8f2",
                    operation="UPDATE OR DELETE",
                    pgid="pgtrigger_append_only_c07b1",
                    table="audit_chainlink",
                    when="BEFORE",
                ),
            ),
        ),
        migrations.AddConstraint(
            model_name="chaindigest",
            constraint=models.UniqueConstraint(
                fields=("day", "chain", "last_seq"), name="chaindigest_unique_head"
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="chaindigest",
            trigger=pgtrigger.compiler.Trigger(
                name="append_only",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    func="RAISE EXCEPTION 'pgtrigger: Cannot update or delete rows from % table', TG_TABLE_NAME;",
                    hash="30ceb18f05d0ddac86c943bb5a2d965551851013",
                    operation="UPDATE OR DELETE",
                    pgid="pgtrigger_append_only_73163",
                    table="audit_chaindigest",
                    when="BEFORE",
                ),
            ),
        ),
        migrations.RunPython(install_chain, migrations.RunPython.noop),
        migrations.RunPython(grant, migrations.RunPython.noop),
    ]
