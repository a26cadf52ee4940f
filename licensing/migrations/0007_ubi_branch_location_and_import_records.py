"""Washington's 16-digit UBI kept as its parts: the branch and location of a business
beside its nine-digit UBI. A record of each license import, with the lines it refused,
read by those who read licensing records."""

import django.db.models.deletion
import pgtrigger.compiler
import pgtrigger.migrations
from django.conf import settings
from django.db import migrations, models

from kent_cs.roles import Role, grant_role_permissions

ROLE_PERMISSIONS = {
    Role.TECHNICIAN: ["licensing.view_licenseimport"],
    Role.SUPERVISOR: ["licensing.view_licenseimport"],
    Role.ADMINISTRATOR: ["licensing.view_licenseimport"],
}


def grant(apps, schema_editor):
    grant_role_permissions(apps, ROLE_PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [
        ("licensing", "0006_assess_penalties"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="LicenseImport",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("file_name", models.CharField(max_length=255)),
                (
                    "mode",
                    models.CharField(
                        choices=[("all", "All or nothing"), ("good_rows", "Good rows only")],
                        max_length=10,
                    ),
                ),
                ("rows", models.PositiveIntegerField()),
                ("licenses_created", models.PositiveIntegerField()),
                ("businesses_created", models.PositiveIntegerField()),
                ("businesses_matched", models.PositiveIntegerField()),
                ("refused", models.JSONField(blank=True, default=dict)),
                ("refused_count", models.PositiveIntegerField(default=0)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
            ],
            options={
                "ordering": ["-created_at", "-id"],
            },
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name="business",
            name="insert_insert",
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name="business",
            name="update_update",
        ),
        migrations.AddField(
            model_name="business",
            name="ubi_branch",
            field=models.CharField(
                blank=True,
                help_text="Three digits, like 001.",
                max_length=3,
                verbose_name="UBI branch",
            ),
        ),
        migrations.AddField(
            model_name="business",
            name="ubi_location",
            field=models.CharField(
                blank=True,
                help_text="Four digits, like 0001.",
                max_length=4,
                verbose_name="UBI location",
            ),
        ),
        migrations.AddField(
            model_name="businessevent",
            name="ubi_branch",
            field=models.CharField(
                blank=True,
                help_text="Three digits, like 001.",
                max_length=3,
                verbose_name="UBI branch",
            ),
        ),
        migrations.AddField(
            model_name="businessevent",
            name="ubi_location",
            field=models.CharField(
                blank=True,
                help_text="Four digits, like 0001.",
                max_length=4,
                verbose_name="UBI location",
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="business",
            trigger=pgtrigger.compiler.Trigger(
                name="insert_insert",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    func='WITH _pgh_attached_context AS ( SELECT _pgh_attach_context() AS value ) INSERT INTO "licensing_businessevent" ("closed_on", "closed_reason", "created_at", "fte_employees", "gross_receipts", "id", "inside_city_limits", "legal_name", "location_city", "location_key", "location_line1", "location_line2", "location_state", "location_zip", "mailing_city", "mailing_line1", "mailing_line2", "mailing_state", "mailing_zip", "naics_code", "opened_on", "ownership_type", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "status", "trade_name", "ubi", "ubi_branch", "ubi_location", "updated_at") SELECT new_values."closed_on", new_values."closed_reason", new_values."created_at", new_values."fte_employees", new_values."gross_receipts", new_values."id", new_values."inside_city_limits", new_values."legal_name", new_values."location_city", new_values."location_key", new_values."location_line1", new_values."location_line2", new_values."location_state", new_values."location_zip", new_values."mailing_city", new_values."mailing_line1", new_values."mailing_line2", new_values."mailing_state", new_values."mailing_zip", new_values."naics_code", new_values."opened_on", new_values."ownership_type", _pgh_attached_context.value, NOW(), \'insert\', new_values."id", new_values."status", new_values."trade_name", new_values."ubi", new_values."ubi_branch", new_values."ubi_location", new_values."updated_at" FROM ( SELECT new_values.* FROM new_values  ) AS new_values, _pgh_attached_context; RETURN NULL;',
                    hash="acfc3d21a027c5a85bdd974764f1fc3ce751b413",
                    level="STATEMENT",
                    operation="INSERT",
                    pgid="pgtrigger_insert_insert_e230f",
                    referencing="REFERENCING NEW TABLE AS new_values ",
                    table="licensing_business",
                    when="AFTER",
                ),
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="business",
            trigger=pgtrigger.compiler.Trigger(
                name="update_update",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    func='WITH _pgh_attached_context AS ( SELECT _pgh_attach_context() AS value ) INSERT INTO "licensing_businessevent" ("closed_on", "closed_reason", "created_at", "fte_employees", "gross_receipts", "id", "inside_city_limits", "legal_name", "location_city", "location_key", "location_line1", "location_line2", "location_state", "location_zip", "mailing_city", "mailing_line1", "mailing_line2", "mailing_state", "mailing_zip", "naics_code", "opened_on", "ownership_type", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "status", "trade_name", "ubi", "ubi_branch", "ubi_location", "updated_at") SELECT new_values."closed_on", new_values."closed_reason", new_values."created_at", new_values."fte_employees", new_values."gross_receipts", new_values."id", new_values."inside_city_limits", new_values."legal_name", new_values."location_city", new_values."location_key", new_values."location_line1", new_values."location_line2", new_values."location_state", new_values."location_zip", new_values."mailing_city", new_values."mailing_line1", new_values."mailing_line2", new_values."mailing_state", new_values."mailing_zip", new_values."naics_code", new_values."opened_on", new_values."ownership_type", _pgh_attached_context.value, NOW(), \'update\', new_values."id", new_values."status", new_values."trade_name", new_values."ubi", new_values."ubi_branch", new_values."ubi_location", new_values."updated_at" FROM ( SELECT new_values.* FROM old_values JOIN new_values ON (old_values."id") = (new_values."id") WHERE (old_values.* IS DISTINCT FROM new_values.*) ) AS new_values, _pgh_attached_context; RETURN NULL;',
                    hash="61fdae33073eb87ca0b13a92b8c04032d2aa79e6",
                    level="STATEMENT",
                    operation="UPDATE",
                    pgid="pgtrigger_update_update_d35e1",
                    referencing="REFERENCING OLD TABLE AS old_values  NEW TABLE AS new_values ",
                    table="licensing_business",
                    when="AFTER",
                ),
            ),
        ),
        migrations.AddConstraint(
            model_name="business",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("ubi_branch", ""), ("ubi_location", "")),
                    models.Q(
                        ("ubi_branch__regex", "^[0-9]{3}$"), ("ubi_location__regex", "^[0-9]{4}$")
                    ),
                    _connector="OR",
                ),
                name="lic_business_ubi_branch_location",
            ),
        ),
        migrations.AddField(
            model_name="licenseimport",
            name="created_by",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="licenseimport",
            trigger=pgtrigger.compiler.Trigger(
                name="append_only",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    func="RAISE EXCEPTION 'pgtrigger: Cannot update or delete rows from % table', TG_TABLE_NAME;",
                    hash="2e7ada438a75fff1dbe6819d4b598d749620cfb6",
                    operation="UPDATE OR DELETE",
                    pgid="pgtrigger_append_only_78b4d",
                    table="licensing_licenseimport",
                    when="BEFORE",
                ),
            ),
        ),
        migrations.RunPython(grant, migrations.RunPython.noop),
    ]
