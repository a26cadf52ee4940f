"""Who may do what in licensing: the roles' permissions from the data migration."""

import pytest

from licensing.selectors.dashboard import dashboard_cards
from tests.licensing.factories import make_business, make_license

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("persona", "allowed", "refused"),
    [
        (
            "technician",
            [
                "licensing.add_business",
                "licensing.change_business",
                "licensing.add_application",
                "licensing.decide_application",
                "licensing.record_review",
                "licensing.change_license_status",
                "licensing.run_renewals",
                "licensing.import_licenses",
            ],
            ["licensing.change_feeschedule", "licensing.add_licensetype"],
        ),
        (
            "supervisor",
            [
                "licensing.view_business",
                "licensing.view_license",
                "licensing.view_licenseimport",
                "kent_cs.view_reports",
            ],
            ["licensing.change_business", "licensing.run_renewals", "licensing.change_feeschedule"],
        ),
        (
            "admin",
            [
                "licensing.add_licensetype",
                "licensing.change_feeschedule",
                "licensing.add_feecomponent",
                "licensing.delete_feetier",
                "licensing.change_penaltyschedule",
                "licensing.view_licenseimport",
            ],
            ["licensing.change_business", "licensing.run_renewals", "licensing.delete_feeschedule"],
        ),
        (
            "cashier",
            ["licensing.view_licenseinvoice"],
            [
                "licensing.view_business",
                "licensing.change_licenseinvoice",
                "licensing.view_licenseimport",
            ],
        ),
        ("outsider", [], ["licensing.view_licenseinvoice", "licensing.view_business"]),
    ],
)
def test_role_permissions(personas, persona, allowed, refused):
    user = personas[persona]
    assert [p for p in allowed if not user.has_perm(p)] == []
    assert [p for p in refused if user.has_perm(p)] == []


def test_dashboard_cards_for_licensing_staff_only(technician, cashier):
    make_license(make_business())
    titles = [card["title"] for card in dashboard_cards(technician)]
    assert titles[1] == "Applications in review" and titles[0].endswith("renewals outstanding")
    assert dashboard_cards(cashier) == []
