"""Running the daily expiry, late penalties and lapse on demand is a permission of its own,
held by technicians and supervisors (starting renewal runs stays with technicians)."""

from django.db import migrations

from kent_cs.roles import Role, grant_role_permissions

ROLE_PERMISSIONS = {
    Role.TECHNICIAN: ["licensing.assess_penalties"],
    Role.SUPERVISOR: ["licensing.assess_penalties"],
}


def grant(apps, schema_editor):
    grant_role_permissions(apps, ROLE_PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [
        ("licensing", "0005_fewer_indexes"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="renewalrun",
            options={
                "ordering": ["-created_at"],
                "permissions": [
                    ("run_renewals", "Can start renewal runs and print renewal notices"),
                    ("assess_penalties", "Can run the daily expiry, late penalties and lapse now"),
                ],
            },
        ),
        migrations.RunPython(grant, migrations.RunPython.noop),
    ]
