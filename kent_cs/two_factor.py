"""The second sign-in factor: a time-based code (TOTP, RFC 6238) from an authenticator
app, through django-otp. Required of everyone who holds the permission
`kent_cs.sign_in_with_second_factor` (supervisors and administrators; superusers too).

After the password, such a user is sent to the second-factor page until the session is
verified: the first time, the page shows a QR code (and the key to type in) to set the
app up, and the code confirms it; afterwards it asks for the code. An administrator who
removes a lost device in the admin makes the person set up a new one at next sign-in.
"""

import base64
import time

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

PERMISSION = "kent_cs.sign_in_with_second_factor"
# Reachable before the second factor: the page itself, signing out, the health check.
OPEN_VIEWS = {"two-factor", "logout", "login", "healthz"}


def second_factor_required(user) -> bool:
    return bool(settings.KENT_SECOND_FACTOR and user.is_authenticated and user.has_perm(PERMISSION))


def confirmed_device(user) -> TOTPDevice | None:
    return TOTPDevice.objects.devices_for_user(user, confirmed=True).first()


def device_for_setup(user) -> TOTPDevice:
    """The user's unconfirmed device (made on the first visit, kept until confirmed)."""
    device = TOTPDevice.objects.devices_for_user(user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)
    return device


def current_code(device: TOTPDevice) -> str:
    """A code the device takes now, as its app would show it (demo mode shows it on the
    page; browser tests type it). A code is taken once: after one was used in this time
    step, the next step's (within the device's tolerance) is given."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    now = time.time()
    totp.time = now
    step = max(totp.t(), device.last_t + 1)
    totp.time = now + (step - totp.t()) * device.step
    return f"{totp.token():0{device.digits}d}"


def key_text(device: TOTPDevice) -> str:
    """The key in base32, in groups of four, for typing into an app by hand."""
    key = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(key[i : i + 4] for i in range(0, len(key), 4))


def qr_svg(device: TOTPDevice) -> str:
    """The otpauth:// address of the device as an inline SVG QR code."""
    image = qrcode.make(
        device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2
    )
    return image.to_string(encoding="unicode")


def safe_next(request, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


class SecondFactorMiddleware:
    """Send a signed-in user who needs the second factor, and has not given it in this
    session, to the second-factor page (after django_otp's OTPMiddleware)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        if match is not None and match.url_name in OPEN_VIEWS and not match.namespace:
            return None
        user = request.user
        if not second_factor_required(user) or user.is_verified():
            return None
        page = reverse("two-factor")
        if request.method == "GET":
            return redirect(f"{page}?next={request.get_full_path()}")
        return redirect(page)
