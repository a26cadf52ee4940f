"""The four roles: groups made by the data migrations, what each may do, and the
navigation each one sees."""

import re

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.urls import reverse

from kent_cs.roles import Role, roles_of

pytestmark = pytest.mark.django_db

LEDGER_VIEW = {
    "ledger.view_fund",
    "ledger.view_glaccount",
    "ledger.view_feecode",
    "ledger.view_accountingperiod",
    "ledger.view_journalentry",
    "kent_cs.view_reports",
}
BANK_VIEW = {"ledger.view_bankaccount", "ledger.view_bankstatementimport"}
# The core's and the ledger's share of each role (other apps add their own).
CORE_AND_LEDGER = {
    Role.CASHIER: set(),
    Role.TECHNICIAN: LEDGER_VIEW
    | BANK_VIEW
    | {"ledger.import_bank_files", "ledger.reconcile_bank"},
    Role.SUPERVISOR: LEDGER_VIEW
    | BANK_VIEW
    | {
        "kent_cs.view_activity",
        "kent_cs.view_all_jobs",
        "kent_cs.sign_in_with_second_factor",
        "ledger.close_accountingperiod",
        "ledger.post_journalentry",
        "ledger.approve_bank_discrepancy",
    },
    Role.ADMINISTRATOR: LEDGER_VIEW
    | {
        "kent_cs.view_activity",
        "kent_cs.view_authevent",
        "kent_cs.sign_in_with_second_factor",
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
        "ledger.view_bankaccount",
        "ledger.add_bankaccount",
        "ledger.change_bankaccount",
        "auth.view_user",
        "auth.add_user",
        "auth.change_user",
        "auth.view_group",
    },
}


def permissions_of(role: Role) -> set[str]:
    group = Group.objects.get(name=str(role))
    return {
        f"{app}.{codename}"
        for app, codename in group.permissions.values_list("content_type__app_label", "codename")
    }


def test_the_four_roles_exist():
    assert set(Group.objects.values_list("name", flat=True)) >= {str(role) for role in Role}
    assert [str(role) for role in Role] == [
        "Cashier",
        "Accounting Technician",
        "Supervisor",
        "Administrator",
    ]


@pytest.mark.parametrize("role", list(Role))
def test_each_role_holds_exactly_its_core_and_ledger_permissions(role):
    held = {p for p in permissions_of(role) if p.split(".")[0] in {"kent_cs", "ledger", "auth"}}
    assert held == CORE_AND_LEDGER[role]


def test_the_technician_can_do_everything_a_cashier_can():
    assert permissions_of(Role.CASHIER) <= permissions_of(Role.TECHNICIAN)


@pytest.mark.parametrize("role", list(Role))
def test_no_role_may_change_posted_money_or_the_audit_trail(role):
    held = permissions_of(role)
    forbidden = {
        f"{app}.{action}_{model}"
        for app, model in [
            ("ledger", "journalentry"),
            ("ledger", "journalline"),
            ("kent_cs", "authevent"),
            ("kent_cs", "numberseries"),
        ]
        for action in ("add", "change", "delete")
    }
    assert held & forbidden == set()
    # History (event) tables and contexts are never editable either.
    assert not {p for p in held if re.match(r"\w+\.(add|change|delete)_\w+event$", p)}
    assert not {p for p in held if p.startswith("pghistory.")}


@pytest.mark.parametrize("role", [Role.CASHIER, Role.TECHNICIAN, Role.SUPERVISOR])
def test_only_administrators_maintain_reference_data_and_users(role):
    held = permissions_of(role)
    assert not {p for p in held if re.match(r"(ledger|auth)\.(add|change|delete)_", p)}


def test_supervisors_alone_close_periods_and_post_by_hand():
    holders = {
        role
        for role in Role
        if {"ledger.close_accountingperiod", "ledger.post_journalentry"} <= permissions_of(role)
    }
    assert holders == {Role.SUPERVISOR}


def test_personas_have_their_roles(personas):
    assert roles_of(personas["cashier"]) == ["Cashier"]
    assert roles_of(personas["technician"]) == ["Accounting Technician"]
    assert roles_of(personas["supervisor"]) == ["Supervisor"]
    assert roles_of(personas["admin"]) == ["Administrator"]
    assert roles_of(personas["outsider"]) == []


# -------------------------------------------------------------------------- navigation


def nav_links(html: str) -> set[str]:
    """Labels of the links in the main menu's dropdowns."""
    return set(re.findall(r'<a class="dropdown-item" href="[^"]+">([^<]+)</a>', html))


def expected_links(user) -> set[str]:
    return {
        item.label
        for config in apps.get_app_configs()
        for item in getattr(config, "nav_items", ())
        if item.permission is None or user.has_perm(item.permission)
    }


ALWAYS = {"Change password"}


@pytest.mark.parametrize(
    ("persona", "shown", "hidden"),
    [
        ("cashier", set(), {"Activity", "Chart of accounts", "Trial balance", "Administration"}),
        (
            "technician",
            {"Chart of accounts", "Trial balance"},
            {"Activity", "Administration"},
        ),
        (
            "supervisor",
            {"Activity", "Chart of accounts", "Trial balance"},
            {"Administration"},
        ),
        ("admin", {"Activity", "Chart of accounts", "Trial balance", "Administration"}, set()),
        ("outsider", set(), {"Activity", "Chart of accounts", "Trial balance", "Administration"}),
    ],
)
def test_each_role_sees_its_links_and_no_others(client, personas, persona, shown, hidden):
    user = personas[persona]
    client.force_login(user)
    response = client.get(reverse("home"))
    assert response.status_code == 200
    html = response.content.decode()
    links = nav_links(html)
    assert shown <= links
    assert not (hidden & links)
    extra = {"Administration"} if user.is_staff else set()
    assert links == expected_links(user) | ALWAYS | extra
    # The home page's sections repeat the menu's links (without the account menu).
    for label in expected_links(user):
        assert f">{label}</a></li>" in html


def test_a_user_without_a_role_is_told_to_ask_for_one(client, outsider):
    client.force_login(outsider)
    html = client.get(reverse("home")).content.decode()
    assert "Your account has no role yet" in html
    assert nav_links(html) == ALWAYS


def test_every_link_shown_opens_for_that_user(client, personas):
    """A link in the menu never leads to a 403."""
    for user in personas.values():
        client.force_login(user)
        html = client.get(reverse("home")).content.decode()
        for href in re.findall(r'<a class="dropdown-item" href="(/[^"]*)">', html):
            status = client.get(href).status_code
            assert status in (200, 302), (user.username, href, status)
        client.logout()


# ------------------------------------------------------------------------- error pages


def test_the_403_page_keeps_the_layout_and_the_users_menu(client, cashier):
    client.force_login(cashier)
    response = client.get(reverse("activity"))
    assert response.status_code == 403
    html = response.content.decode()
    assert "<title>Not allowed · City of Kent Customer Services</title>" in html
    assert "You are not allowed to do that" in html
    assert 'aria-label="Main"' in html
    assert ">Casey</a>" in html  # the signed-in user's menu
    assert ">Sign out</button>" in html


def test_the_404_page_keeps_the_layout(client, cashier):
    client.force_login(cashier)
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "<title>Not found · City of Kent Customer Services</title>" in html
    assert "The page or record does not exist, or it is not one you can see." in html
    assert 'aria-label="Main"' in html
    assert 'href="/">Back to the home page</a>' in html


def test_the_500_page_stands_alone(rf):
    from kent_cs.views import error_500

    response = error_500(rf.get("/"))
    assert response.status_code == 500
    html = response.content.decode()
    assert "Something went wrong" in html
    assert "Nothing was half-saved" in html
