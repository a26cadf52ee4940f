"""Technicians and supervisors schedule reports sent to other city areas."""

from django.db import migrations

from kent_cs.roles import Role, grant_role_permissions

ROLE_PERMISSIONS = {
    Role.TECHNICIAN: ["audit.manage_report_schedules"],
    Role.SUPERVISOR: ["audit.manage_report_schedules"],
}


def grant(apps, schema_editor):
    grant_role_permissions(apps, ROLE_PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_report_schedules")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
