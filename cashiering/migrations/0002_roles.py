"""Grant the counter's permissions to the roles."""

from django.db import migrations

from kent_cs.roles import Role, grant_role_permissions

COUNTER = [
    "cashiering.operate_drawer",
    "cashiering.view_cashiersession",
    "cashiering.view_receipt",
    "cashiering.view_correctionrequest",
    "cashiering.view_utilityaccount",
    "cashiering.view_arinvoice",
]
ROLE_PERMISSIONS = {
    Role.CASHIER: COUNTER,
    Role.TECHNICIAN: COUNTER
    + [
        "cashiering.view_all_sessions",
        "cashiering.view_all_receipts",
        "cashiering.import_accounts",
    ],
    Role.SUPERVISOR: [
        "cashiering.view_cashiersession",
        "cashiering.view_receipt",
        "cashiering.view_correctionrequest",
        "cashiering.view_utilityaccount",
        "cashiering.view_arinvoice",
        "cashiering.view_all_sessions",
        "cashiering.view_all_receipts",
        "cashiering.approve_correction",
    ],
    Role.ADMINISTRATOR: [
        "cashiering.view_tendertype",
        "cashiering.add_tendertype",
        "cashiering.change_tendertype",
        "cashiering.view_drawer",
        "cashiering.add_drawer",
        "cashiering.change_drawer",
        "cashiering.view_counterfee",
        "cashiering.add_counterfee",
        "cashiering.change_counterfee",
        "cashiering.view_utilityaccount",
        "cashiering.view_arinvoice",
    ],
}


def grant(apps, schema_editor):
    grant_role_permissions(apps, ROLE_PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [
        ("cashiering", "0001_initial"),
        ("ledger", "0002_roles"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
