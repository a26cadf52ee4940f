"""Create the four role groups and grant the ledger and core permissions."""

from django.db import migrations

from kent_cs.roles import Role, grant_role_permissions

LEDGER_VIEW = [
    "ledger.view_fund",
    "ledger.view_glaccount",
    "ledger.view_feecode",
    "ledger.view_accountingperiod",
    "ledger.view_journalentry",
    "kent_cs.view_reports",
]

ROLE_PERMISSIONS = {
    Role.CASHIER: [],
    Role.TECHNICIAN: LEDGER_VIEW,
    Role.SUPERVISOR: LEDGER_VIEW
    + [
        "kent_cs.view_activity",
        "kent_cs.view_all_jobs",
        "ledger.close_accountingperiod",
        "ledger.post_journalentry",
    ],
    Role.ADMINISTRATOR: LEDGER_VIEW
    + [
        "kent_cs.view_activity",
        "ledger.add_fund",
        "ledger.change_fund",
        "ledger.add_glaccount",
        "ledger.change_glaccount",
        "ledger.add_feecode",
        "ledger.change_feecode",
        "ledger.add_feedistribution",
        "ledger.change_feedistribution",
        "ledger.delete_feedistribution",
        "ledger.view_feedistribution",
        "ledger.add_accountingperiod",
        "auth.view_user",
        "auth.add_user",
        "auth.change_user",
        "auth.view_group",
        "kent_cs.view_authevent",
    ],
}


def grant(apps, schema_editor):
    grant_role_permissions(apps, ROLE_PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0001_initial"),
        ("kent_cs", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
