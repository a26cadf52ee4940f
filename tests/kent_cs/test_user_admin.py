"""The Administrator role manages staff accounts by role, and cannot raise itself."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.urls import reverse

from kent_cs.models import AuthEvent
from kent_cs.roles import Role
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db
User = get_user_model()


def _change_url(user):
    return reverse("admin:auth_user_change", args=[user.pk])


def _post_data(user, **changes):
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "is_active": "on",
        "is_staff": "on" if user.is_staff else "",
        "groups": [g.pk for g in user.groups.all()],
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": "2026-01-05",
        "date_joined_1": "08:00:00",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v != ""}


def test_administrator_cannot_make_anyone_a_superuser(client, admin, cashier):
    client.force_login(admin)
    page = client.get(_change_url(cashier)).content.decode()
    assert "is_superuser" not in page
    assert "user_permissions" not in page
    response = client.post(_change_url(cashier), _post_data(cashier, is_superuser="on"))
    assert response.status_code == 302
    cashier.refresh_from_db()
    assert not cashier.is_superuser


def test_administrator_cannot_change_own_roles(client, admin):
    client.force_login(admin)
    supervisor_group = Group.objects.get(name=str(Role.SUPERVISOR))
    response = client.post(
        _change_url(admin), _post_data(admin, groups=[supervisor_group.pk], is_staff="on")
    )
    assert response.status_code == 302
    assert list(admin.groups.values_list("name", flat=True)) == [str(Role.ADMINISTRATOR)]


def test_administrator_cannot_change_a_superuser(client, admin):
    root = User.objects.create_superuser("root", "root@example.org", PASSWORD)
    client.force_login(admin)
    response = client.post(_change_url(root), _post_data(root, first_name="Changed"))
    assert response.status_code == 403
    root.refresh_from_db()
    assert root.first_name == ""


def test_users_cannot_be_deleted_in_the_admin(client, admin, cashier):
    client.force_login(admin)
    response = client.get(reverse("admin:auth_user_delete", args=[cashier.pk]))
    assert response.status_code == 403
    assert User.objects.filter(pk=cashier.pk).exists()


def test_administrator_clears_a_lockout(client, admin, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    clerk = make_user("clerk", Role.CASHIER)
    for _ in range(3):
        client.post(reverse("login"), {"username": "clerk", "password": "wrong password"})
    refused = client.post(reverse("login"), {"username": "clerk", "password": PASSWORD})
    assert "Too many failed sign-ins" in refused.content.decode()

    client.force_login(admin)
    response = client.post(
        reverse("admin:auth_user_changelist"),
        {"action": "clear_lockout", "_selected_action": [clerk.pk]},
    )
    assert response.status_code == 302
    assert AuthEvent.objects.filter(kind=AuthEvent.Kind.UNLOCKED, user=clerk).count() == 1
    client.logout()

    signed_in = client.post(reverse("login"), {"username": "clerk", "password": PASSWORD})
    assert signed_in.status_code == 302
    assert signed_in["Location"] == reverse("home")
