"""Counter and back-office staff take their role's training course; supervisors see every
staff member's progress."""

from django.db import migrations

from kent_cs.roles import Role, grant_role_permissions

ROLE_PERMISSIONS = {
    Role.CASHIER: ["audit.take_training"],
    Role.TECHNICIAN: ["audit.take_training"],
    Role.SUPERVISOR: ["audit.take_training", "audit.view_training_progress"],
}


def grant(apps, schema_editor):
    grant_role_permissions(apps, ROLE_PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_training"), ("cashiering", "0002_roles")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
