"""Kent's license types, fee schedules and late-penalty schedule (see licensing.defaults)."""

from django.db import migrations

from licensing.defaults import install_defaults


def install(apps, schema_editor):
    install_defaults(apps)


class Migration(migrations.Migration):
    dependencies = [("licensing", "0001_initial")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
