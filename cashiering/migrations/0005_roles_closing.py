"""Grant the permissions for closing, balancing, deposits, returned checks and refunds."""

from django.db import migrations

from kent_cs.roles import Role, grant_role_permissions

BACK_OFFICE_VIEW = [
    "cashiering.view_businessday",
    "cashiering.view_sessioncount",
    "cashiering.view_deposit",
    "cashiering.view_returnedcheck",
    "cashiering.view_refundrequest",
    "ledger.view_bankaccount",
    "ledger.view_bankstatementimport",
]
ROLE_PERMISSIONS = {
    Role.TECHNICIAN: BACK_OFFICE_VIEW
    + [
        "cashiering.balance_day",
        "cashiering.prepare_deposit",
        "cashiering.process_returned_check",
        "cashiering.request_refund",
        "cashiering.verify_refund",
        "ledger.import_bank_files",
        "ledger.reconcile_bank",
    ],
    Role.SUPERVISOR: BACK_OFFICE_VIEW
    + [
        "cashiering.balance_day",
        "cashiering.approve_over_short",
        "cashiering.close_business_day",
        "cashiering.approve_refund",
        "cashiering.view_audit_report",
    ],
    Role.ADMINISTRATOR: [
        "cashiering.view_counterpolicy",
        "cashiering.change_counterpolicy",
        "ledger.view_bankaccount",
        "ledger.add_bankaccount",
        "ledger.change_bankaccount",
    ],
}


def grant(apps, schema_editor):
    grant_role_permissions(apps, ROLE_PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [
        ("cashiering", "0004_closing_deposits_returns"),
        ("ledger", "0004_bank_statements"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
