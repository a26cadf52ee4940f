"""Grant the licensing permissions to the roles.

Technicians process businesses, applications, licenses and renewals; supervisors view
and report; administrators maintain license types, fee and penalty schedules; cashiers
see license invoices at the counter.
"""

from django.db import migrations

from kent_cs.roles import Role, grant_role_permissions

VIEW = [
    "licensing.view_business",
    "licensing.view_contact",
    "licensing.view_application",
    "licensing.view_review",
    "licensing.view_license",
    "licensing.view_licensestatuschange",
    "licensing.view_licenseinvoice",
    "licensing.view_licenseinvoiceline",
    "licensing.view_licensepayment",
    "licensing.view_renewalrun",
    "licensing.view_licensetype",
    "licensing.view_feeschedule",
    "licensing.view_feecomponent",
    "licensing.view_feetier",
    "licensing.view_prorationrule",
    "licensing.view_exemptionrule",
    "licensing.view_penaltyschedule",
    "licensing.view_penaltyrule",
]
SCHEDULES = [
    f"licensing.{action}_{model}"
    for model in (
        "licensetype",
        "feeschedule",
        "feecomponent",
        "feetier",
        "prorationrule",
        "exemptionrule",
        "penaltyschedule",
        "penaltyrule",
    )
    for action in ("add", "change")
] + [
    # Rows inside a schedule may be removed while it is being set up; history keeps them.
    "licensing.delete_feetier",
    "licensing.delete_prorationrule",
    "licensing.delete_exemptionrule",
    "licensing.delete_penaltyrule",
]
ROLE_PERMISSIONS = {
    Role.CASHIER: [
        "licensing.view_licenseinvoice",
        "licensing.view_licenseinvoiceline",
    ],
    Role.TECHNICIAN: VIEW
    + [
        "licensing.add_business",
        "licensing.change_business",
        "licensing.add_contact",
        "licensing.change_contact",
        "licensing.add_application",
        "licensing.change_application",
        "licensing.decide_application",
        "licensing.change_review",
        "licensing.record_review",
        "licensing.add_license",
        "licensing.change_license",
        "licensing.change_license_status",
        "licensing.add_licenseinvoice",
        "licensing.change_licenseinvoice",
        "licensing.add_renewalrun",
        "licensing.run_renewals",
        "licensing.import_licenses",
    ],
    Role.SUPERVISOR: VIEW,
    Role.ADMINISTRATOR: VIEW + SCHEDULES,
}


def grant(apps, schema_editor):
    grant_role_permissions(apps, ROLE_PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [
        ("licensing", "0002_defaults"),
        ("cashiering", "0002_roles"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
