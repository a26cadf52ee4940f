"""The second sign-in factor: supervisors and administrators confirm each sign-in with a
code from an authenticator app (set up at the first sign-in); cashiers and technicians
sign in with their password alone."""

from datetime import timedelta
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from kent_cs.models import AuthEvent
from kent_cs.two_factor import current_code
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db
OFFICE_IP = "10.20.30.40"


def sign_in(client, username):
    return client.post(
        reverse("login"),
        {"username": username, "password": PASSWORD, "next": "/activity/"},
        REMOTE_ADDR=OFFICE_IP,
    )


def enter(client, code, next_url="/activity/"):
    return client.post(
        reverse("two-factor"), {"code": code, "next": next_url}, REMOTE_ADDR=OFFICE_IP
    )


def a_moment_later():
    """After a wrong code, the device takes the next one only after a short pause."""
    return mock.patch(
        "django_otp.models.timezone.now", return_value=timezone.now() + timedelta(seconds=3)
    )


def wrong_code(device) -> str:
    return f"{(int(current_code(device)) + 1) % 1_000_000:06d}"


def test_a_supervisor_sets_up_the_app_at_the_first_sign_in(client, supervisor, settings):
    settings.DEMO_MODE = False
    response = sign_in(client, "supervisor")
    assert response["Location"] == "/activity/"
    # Every page, the one asked for included, waits for the second factor.
    held = client.get("/activity/")
    assert held["Location"] == f"{reverse('two-factor')}?next=/activity/"
    assert client.post(reverse("activity"))["Location"] == reverse("two-factor")

    page = client.get(held["Location"])
    html = page.content.decode()
    assert "Set up your authenticator app" in html
    assert "<svg" in html and 'aria-label="QR code for the authenticator app"' in html
    device = TOTPDevice.objects.get(user=supervisor, confirmed=False)
    assert page.context["key_text"].replace(" ", "") in device.config_url
    assert "otpauth://totp/Kent%20Customer%20Services" in device.config_url
    assert "Demo mode" not in html

    refused = enter(client, wrong_code(device))
    assert refused.status_code == 200
    assert "That code is not right or has expired" in refused.content.decode()
    device.refresh_from_db()
    assert not device.confirmed
    assert client.get("/activity/").status_code == 302

    with a_moment_later():
        confirmed = enter(client, current_code(device))
    assert confirmed["Location"] == "/activity/"
    device.refresh_from_db()
    assert device.confirmed
    assert client.get("/activity/").status_code == 200
    kinds = list(AuthEvent.objects.order_by("created_at", "pk").values_list("kind", flat=True))
    assert kinds == ["login", "otp", "otpset"]


def test_a_later_sign_in_asks_for_the_code_and_takes_each_code_once(client, supervisor):
    device = TOTPDevice.objects.create(user=supervisor, name="Phone", confirmed=True)
    sign_in(client, "supervisor")
    page = client.get(reverse("two-factor"))
    assert "Confirm your sign-in" in page.content.decode()
    assert "<svg" not in page.content.decode()
    code = current_code(device)
    assert enter(client, code)["Location"] == "/activity/"
    client.post(reverse("logout"))

    sign_in(client, "supervisor")
    replayed = enter(client, code)  # the same code again: refused
    assert replayed.status_code == 200
    device.refresh_from_db()
    with a_moment_later():
        assert enter(client, current_code(device))["Location"] == "/activity/"


def test_cashiers_and_technicians_sign_in_with_the_password_alone(client, cashier, technician):
    for user in ("cashier", "technician"):
        assert sign_in(client, user)["Location"] == "/activity/"
        assert client.get(reverse("home")).status_code == 200
        client.post(reverse("logout"))
    assert not TOTPDevice.objects.exists()


def test_the_admin_site_waits_for_the_second_factor_too(client, admin):
    client.post(
        reverse("admin:login"),
        {"username": "admin", "password": PASSWORD, "next": "/admin/"},
        REMOTE_ADDR=OFFICE_IP,
    )
    assert client.get("/admin/")["Location"] == f"{reverse('two-factor')}?next=/admin/"


def test_a_removed_device_ends_the_verified_session_and_asks_for_a_new_one(client, supervisor):
    device = TOTPDevice.objects.create(user=supervisor, name="Phone", confirmed=True)
    sign_in(client, "supervisor")
    enter(client, current_code(device))
    assert client.get("/activity/").status_code == 200
    device.delete()  # an administrator removed the lost phone
    assert client.get("/activity/").status_code == 302
    assert "Set up your authenticator app" in client.get(reverse("two-factor")).content.decode()


def test_demo_mode_shows_the_code_to_type(client, supervisor, settings):
    settings.DEMO_MODE = True
    sign_in(client, "supervisor")
    page = client.get(reverse("two-factor"))
    device = TOTPDevice.objects.get(user=supervisor)
    assert f"the code now is <strong data-demo-code>{current_code(device)}</strong>" in (
        page.content.decode()
    )


def test_the_code_is_the_one_an_authenticator_app_computes(supervisor):
    """RFC 6238's SHA-1 test vector: key "12345678901234567890", time 59, eight digits."""
    totp = TOTP(b"12345678901234567890", step=30, digits=8)
    totp.time = 59
    assert totp.token() == 94287082


def test_an_administrator_removes_a_lost_device_in_the_admin(client_for, admin, supervisor):
    device = TOTPDevice.objects.create(user=supervisor, name="Phone", confirmed=True)
    client = client_for(admin)
    listing = client.get(reverse("admin:otp_totp_totpdevice_changelist"))
    assert listing.status_code == 200
    assert "Phone" in listing.content.decode()
    client.post(reverse("admin:otp_totp_totpdevice_delete", args=[device.pk]), {"post": "yes"})
    assert not TOTPDevice.objects.filter(pk=device.pk).exists()


def test_the_second_factor_page_loads_no_exceptions_badge(client, supervisor):
    """Before the code is given, the navigation loads nothing: the badge's request would
    be sent to the second-factor page, which would then land inside the navigation."""
    device = TOTPDevice.objects.create(user=supervisor, name="Phone", confirmed=True)
    sign_in(client, "supervisor")
    page = client.get(reverse("two-factor")).content.decode()
    assert "Code from your authenticator app" in page
    assert reverse("audit:exceptions-badge") not in page

    assert enter(client, current_code(device))["Location"] == "/activity/"
    assert reverse("audit:exceptions-badge") in client.get("/").content.decode()
