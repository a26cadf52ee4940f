"""Signing in: throttling, lockout and its expiry, the sign-in audit trail, idle sessions,
and login required everywhere else."""

import ipaddress
import re
from datetime import timedelta
from unittest import mock

import pytest
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from kent_cs.audit import client_ip
from kent_cs.models import AuthEvent
from kent_cs.two_factor import current_code
from tests.factories import PASSWORD

WAIT_TEXT = "Too many failed sign-ins for this username from this workstation. Try again in"
WRONG_TEXT = "The username or password is not right. Both are case-sensitive."
OFFICE_IP = "10.20.30.40"
HOME_IP = "192.0.2.7"


def sign_in(client, username, password=PASSWORD, ip=OFFICE_IP):
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip
    )


def signed_in_as(client):
    return client.session.get("_auth_user_id")


def kinds(**filters) -> list[str]:
    return list(
        AuthEvent.objects.filter(**filters)
        .order_by("created_at", "id")
        .values_list("kind", flat=True)
    )


@pytest.fixture(autouse=True)
def _default_limits(settings):
    settings.LOGIN_FAILURE_LIMIT = 5
    settings.LOGIN_LOCKOUT_MINUTES = 15


def fail(client, username, times, ip=OFFICE_IP):
    for _ in range(times):
        response = sign_in(client, username, "not-the-password", ip=ip)
        assert response.status_code == 200
        assert WRONG_TEXT in response.content.decode()


# ---------------------------------------------------------------------- lockout


def test_a_right_password_signs_in_and_is_recorded(client, cashier):
    response = sign_in(client, "cashier")
    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    assert signed_in_as(client) == str(cashier.pk)
    event = AuthEvent.objects.get()
    assert (event.kind, event.username, event.user, event.ip_address) == (
        "login",
        "cashier",
        cashier,
        OFFICE_IP,
    )


def test_a_wrong_password_is_refused_with_a_plain_message_and_recorded(client, cashier):
    fail(client, "cashier", 1)
    assert signed_in_as(client) is None
    event = AuthEvent.objects.get()
    assert (event.kind, event.username, event.user, event.ip_address) == (
        "failed",
        "cashier",
        None,
        OFFICE_IP,
    )


def test_after_the_failure_limit_the_same_workstation_waits(client, cashier):
    fail(client, "cashier", settings.LOGIN_FAILURE_LIMIT)
    response = sign_in(client, "cashier")  # right password, too soon
    assert response.status_code == 200
    page = response.content.decode()
    assert WAIT_TEXT in page
    assert "Try again in 30 seconds" in page
    assert "ask an administrator to clear the lockout" in page
    assert WRONG_TEXT not in page
    assert signed_in_as(client) is None
    assert kinds(username="cashier") == ["failed"] * 5 + ["locked"]
    assert AuthEvent.objects.get(kind="locked").ip_address == OFFICE_IP


def test_wrong_passwords_elsewhere_do_not_shut_the_cashier_out_of_the_counter(
    client, cashier, mailoutbox, settings
):
    """Anyone can type wrong passwords for a cashier's name: it does not lock her out."""
    settings.ADMINS = ["it@kentwa.gov"]
    for n in range(settings.LOGIN_FAILURE_LIMIT * 3):
        fail(client, "cashier", 1, ip=f"192.0.2.{n + 10}")  # many addresses, none at the counter
    fail(client, "cashier", settings.LOGIN_FAILURE_LIMIT, ip=HOME_IP)
    assert WAIT_TEXT in sign_in(client, "cashier", ip=HOME_IP).content.decode()
    # The right password from the cashier's own workstation still works.
    assert sign_in(client, "cashier", ip=OFFICE_IP).status_code == 302
    assert signed_in_as(client) == str(cashier.pk)
    # The burst raised one alert to the administrators, not one per failure.
    alert = AuthEvent.objects.get(kind="alert")
    assert alert.username == "cashier"
    assert [m.subject for m in mailoutbox] == ["[Django] Failed sign-ins for cashier"]
    assert "can still sign in from their own workstation" in mailoutbox[0].body


class Clock:
    """timezone.now() under the test's control: sign-ins happen at `at`."""

    def __init__(self):
        self.at = timezone.now()

    def advance(self, **delta):
        self.at += timedelta(**delta)


@pytest.fixture
def clock():
    clock = Clock()
    with mock.patch("django.utils.timezone.now", side_effect=lambda: clock.at):
        yield clock


def _wait_shown(response) -> str:
    return re.search(r"Try again in ([0-9]+ \w+)", response.content.decode())[1]


def test_the_wait_grows_with_each_further_failure(client, cashier, clock):
    fail(client, "cashier", settings.LOGIN_FAILURE_LIMIT)
    waits = []
    for seconds in (30, 60, 120, 240):
        waits.append(_wait_shown(sign_in(client, "cashier")))
        clock.advance(seconds=seconds + 1)  # the wait has passed: one more wrong password
        fail(client, "cashier", 1)
    assert waits == ["30 seconds", "60 seconds", "2 minutes", "4 minutes"]


def test_one_failure_short_of_the_limit_still_signs_in(client, cashier):
    fail(client, "cashier", settings.LOGIN_FAILURE_LIMIT - 1)
    assert sign_in(client, "cashier").status_code == 302
    assert signed_in_as(client) == str(cashier.pk)


def test_the_wait_ignores_the_case_of_the_username(client, cashier):
    fail(client, "CASHIER", 3)
    fail(client, "Cashier", 2)
    response = sign_in(client, "cashier")
    assert WAIT_TEXT in response.content.decode()


def test_a_wait_does_not_touch_other_users_elsewhere(client, cashier, cashier_b):
    fail(client, "cashier", settings.LOGIN_FAILURE_LIMIT)
    response = sign_in(client, "cashier_b", ip=HOME_IP)
    assert response.status_code == 302
    assert signed_in_as(client) == str(cashier_b.pk)


def test_a_successful_sign_in_starts_the_count_again(client, cashier):
    fail(client, "cashier", 4)
    assert sign_in(client, "cashier").status_code == 302
    client.logout()
    fail(client, "cashier", 4)
    assert sign_in(client, "cashier").status_code == 302


def test_the_address_waits_after_four_times_the_limit(client, cashier, cashier_b):
    limit = settings.LOGIN_FAILURE_LIMIT
    # Twenty failures spread over ten usernames: no single username reaches its limit.
    for n in range(limit * 2):
        fail(client, f"guess{n}", 2, ip=HOME_IP)
    response = sign_in(client, "cashier", ip=HOME_IP)
    assert "Too many failed sign-ins from this address" in response.content.decode()
    assert signed_in_as(client) is None
    locked = AuthEvent.objects.get(kind="locked")
    assert (locked.username, locked.ip_address) == ("cashier", HOME_IP)
    # The same person from the office is let in: only the address waits.
    assert sign_in(client, "cashier", ip=OFFICE_IP).status_code == 302


def test_one_short_of_the_address_limit_still_signs_in(client, cashier):
    for n in range(settings.LOGIN_FAILURE_LIMIT * 4 - 1):
        fail(client, f"guess{n}", 1, ip=HOME_IP)
    assert sign_in(client, "cashier", ip=HOME_IP).status_code == 302


def test_the_wait_ends_when_it_has_passed(client, cashier):
    fail(client, "cashier", settings.LOGIN_FAILURE_LIMIT)
    assert WAIT_TEXT in sign_in(client, "cashier").content.decode()

    almost = timezone.now() + timedelta(seconds=25)
    with mock.patch("django.utils.timezone.now", return_value=almost):
        assert WAIT_TEXT in sign_in(client, "cashier").content.decode()

    later = timezone.now() + timedelta(seconds=31)
    with mock.patch("django.utils.timezone.now", return_value=later):
        response = sign_in(client, "cashier")
    assert response.status_code == 302
    assert signed_in_as(client) == str(cashier.pk)
    assert kinds(username="cashier") == ["failed"] * 5 + ["locked", "locked", "login"]


def test_a_shorter_lockout_window_is_honoured(client, cashier, settings, clock):
    settings.LOGIN_LOCKOUT_MINUTES = 1
    fail(client, "cashier", 5)
    clock.advance(seconds=31)
    fail(client, "cashier", 1)
    assert _wait_shown(sign_in(client, "cashier")) == "60 seconds"  # at most the window
    clock.advance(seconds=61)  # the first five have left the window
    assert sign_in(client, "cashier").status_code == 302


def test_the_admin_sign_in_is_throttled_too(client, admin):
    fail(client, "admin", settings.LOGIN_FAILURE_LIMIT)
    response = client.post(
        reverse("admin:login"),
        {"username": "admin", "password": PASSWORD, "next": "/admin/"},
        REMOTE_ADDR=OFFICE_IP,
    )
    assert response.status_code == 200
    assert signed_in_as(client) is None
    assert kinds(kind="locked") == ["locked"]


# ------------------------------------------------------------- behind a reverse proxy

PROXY = [ipaddress.ip_network("127.0.0.1"), ipaddress.ip_network("10.0.0.0/8")]


@pytest.mark.parametrize(
    ("remote", "forwarded", "trusted", "expected"),
    [
        ("192.0.2.7", "", [], "192.0.2.7"),
        ("192.0.2.7", "203.0.113.9", [], "192.0.2.7"),  # no proxy trusted: header ignored
        ("198.51.100.1", "203.0.113.9", PROXY, "198.51.100.1"),  # not from our proxy
        ("127.0.0.1", "203.0.113.9", PROXY, "203.0.113.9"),
        ("127.0.0.1", "203.0.113.9, 10.1.2.3", PROXY, "203.0.113.9"),  # two proxies
        ("127.0.0.1", "6.6.6.6, 203.0.113.9", PROXY, "203.0.113.9"),  # forged left part
        ("127.0.0.1", "junk, 203.0.113.9", PROXY, "203.0.113.9"),
        ("127.0.0.1", "203.0.113.9, junk", PROXY, "127.0.0.1"),
        ("127.0.0.1", "", PROXY, "127.0.0.1"),
        ("127.0.0.1", "2001:db8::5", PROXY, "2001:db8::5"),
        ("", "203.0.113.9", PROXY, None),
        ("not-an-address", "", [], None),
    ],
)
def test_the_client_address_is_taken_from_trusted_proxies_only(
    rf, settings, remote, forwarded, trusted, expected
):
    settings.TRUSTED_PROXIES = trusted
    request = rf.get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


def test_behind_the_proxy_one_clients_failures_do_not_lock_out_the_office(
    client, cashier, settings
):
    settings.TRUSTED_PROXIES = PROXY
    for n in range(settings.LOGIN_FAILURE_LIMIT * 4):
        client.post(
            reverse("login"),
            {"username": f"guess{n}", "password": "nope"},
            REMOTE_ADDR="127.0.0.1",
            HTTP_X_FORWARDED_FOR="203.0.113.66",
        )
    response = client.post(
        reverse("login"),
        {"username": "cashier", "password": PASSWORD},
        REMOTE_ADDR="127.0.0.1",
        HTTP_X_FORWARDED_FOR="198.51.100.20",
    )
    assert response.status_code == 302
    assert AuthEvent.objects.get(kind="login").ip_address == "198.51.100.20"
    assert set(AuthEvent.objects.filter(kind="failed").values_list("ip_address", flat=True)) == {
        "203.0.113.66"
    }


# ----------------------------------------------------------------- the audit trail


def test_sign_in_events_appear_on_the_supervisors_activity_page(client, cashier, supervisor):
    fail(client, "cashier", settings.LOGIN_FAILURE_LIMIT)
    sign_in(client, "cashier")  # locked
    fail(client, "nobody", 1, ip=HOME_IP)
    assert sign_in(client, "supervisor", ip=HOME_IP).status_code == 302
    client.post(reverse("logout"), REMOTE_ADDR=HOME_IP)
    assert kinds() == ["failed"] * 5 + ["locked", "failed", "login", "logout"]
    logout = AuthEvent.objects.get(kind="logout")
    assert (logout.user, logout.ip_address) == (supervisor, HOME_IP)

    sign_in(client, "supervisor", ip=HOME_IP)
    device = TOTPDevice.objects.create(user=supervisor, name="Phone", confirmed=True)
    client.post(reverse("two-factor"), {"code": current_code(device)}, REMOTE_ADDR=HOME_IP)
    response = client.get(reverse("activity"), {"model": "kent_cs.AuthEvent"})
    assert response.status_code == 200
    page = response.content.decode()
    for kind in ("failed", "locked", "login", "logout"):
        assert f"<strong>kind</strong>: {kind}" in page
    assert "<strong>username</strong>: nobody" in page
    assert f"<strong>ip_address</strong>: {HOME_IP}" in page
    rows = response.context["page"].object_list
    assert len(rows) == AuthEvent.objects.count() == 10
    assert {row.pgh_obj_model for row in rows} == {"kent_cs.AuthEvent"}


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE kent_cs_authevent SET kind = 'login'",
        "UPDATE kent_cs_authevent SET created_at = created_at - interval '1 hour'",
        "DELETE FROM kent_cs_authevent",
    ],
)
def test_sign_in_events_cannot_be_changed_or_deleted(client, cashier, sql):
    fail(client, "cashier", 2)
    with (
        pytest.raises(DatabaseError, match="Cannot update or delete rows"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql)
    assert kinds() == ["failed", "failed"]


# ------------------------------------------------------------------------ sessions


def test_sessions_end_after_thirty_idle_minutes():
    assert settings.SESSION_IDLE_MINUTES == 30
    assert settings.SESSION_COOKIE_AGE == 30 * 60
    assert "kent_cs.sessions.IdleTimeoutMiddleware" in settings.MIDDLEWARE


def test_an_idle_session_is_signed_out_and_an_active_one_is_kept(client, cashier):
    sign_in(client, "cashier")
    start = timezone.now()
    # Requests every 20 minutes keep the session alive well past 30 minutes in total.
    for minutes in (20, 40, 60):
        with mock.patch(
            "django.utils.timezone.now", return_value=start + timedelta(minutes=minutes)
        ):
            assert client.get(reverse("home")).status_code == 200
    # 31 idle minutes later it is gone and the next page asks to sign in again.
    with mock.patch("django.utils.timezone.now", return_value=start + timedelta(minutes=91)):
        response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


# ------------------------------------------------------------ login required everywhere


def _routes(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern


def test_only_the_sign_in_pages_and_healthz_are_open_without_login():
    open_routes = {
        route
        for route, pattern in _routes(get_resolver().url_patterns)
        if getattr(pattern.callback, "login_required", True) is False
    }
    assert open_routes == {"login/", "healthz", "admin/login/"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "/",
        "/activity/",
        "/jobs/1/",
        "/jobs/1/download/",
        "/password/",
        "/password/done/",
        "/ledger/accounts/",
        "/ledger/trial-balance/",
        "/admin/ledger/glaccount/",
    ],
)
def test_anonymous_visitors_are_sent_to_sign_in(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


@pytest.mark.django_db
def test_the_admin_index_sends_anonymous_visitors_to_its_sign_in(client):
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('admin:login')}?next=/admin/"


@pytest.mark.django_db
def test_the_sign_in_page_and_healthz_answer_without_login(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert (
        '<label class="form-label" for="id_username">Username</label>' in response.content.decode()
    )
    assert client.get(reverse("healthz")).status_code in (200, 503)


def test_a_signed_in_user_is_sent_home_from_the_sign_in_page(client, cashier):
    client.force_login(cashier)
    response = client.get(reverse("login"))
    assert response.status_code == 302
    assert response["Location"] == reverse("home")


def test_a_missing_password_is_pointed_out_next_to_the_field(client, cashier):
    response = client.post(reverse("login"), {"username": "cashier", "password": ""})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="form-control is-invalid"' in html
    assert '<div class="invalid-feedback" id="id_password_error">This field is required.</div>' in (
        html
    )
    assert 'value="cashier"' in html  # what was typed is kept
    assert signed_in_as(client) is None


def test_changing_the_password_keeps_the_user_signed_in(client, cashier):
    client.force_login(cashier)
    new_password = "a-much-longer-new-passphrase-42"
    response = client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": new_password, "new_password2": new_password},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("password_change_done")
    done = client.get(reverse("password_change_done")).content.decode()
    assert "<title>Password changed · City of Kent Customer Services</title>" in done
    assert signed_in_as(client) == str(cashier.pk)
    cashier.refresh_from_db()
    assert cashier.check_password(new_password)
    client.logout()
    assert sign_in(client, "cashier", PASSWORD).status_code == 200  # the old one is refused
    assert sign_in(client, "cashier", new_password).status_code == 302


def test_a_short_new_password_is_refused(client, cashier):
    client.force_login(cashier)
    response = client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": "short-pw", "new_password2": "short-pw"},
    )
    assert response.status_code == 200
    assert "This password is too short. It must contain at least 12 characters." in (
        response.content.decode()
    )
    cashier.refresh_from_db()
    assert cashier.check_password(PASSWORD)


def test_a_request_reads_the_user_with_their_permissions_and_sees_new_ones(cashier):
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType

    from kent_cs.auth import ThrottledModelBackend

    backend = ThrottledModelBackend()
    user = backend.get_user(cashier.pk)
    assert user.has_perm("cashiering.operate_drawer")  # the Cashier role's
    assert not user.has_perm("kent_cs.special_audit")
    # A permission created after this process read the names (ids are never reused).
    permission = Permission.objects.create(
        codename="special_audit",
        name="Can run the special audit",
        content_type=ContentType.objects.get_for_model(AuthEvent),
    )
    cashier.user_permissions.add(permission)
    user = backend.get_user(cashier.pk)
    assert user.has_perm("kent_cs.special_audit")
    assert backend.get_all_permissions(user) >= {
        "kent_cs.special_audit",
        "cashiering.operate_drawer",
    }
    del user._perm_cache  # read again by get_all_permissions, in its own query
    assert "kent_cs.special_audit" in backend.get_all_permissions(user)


def test_a_request_reads_its_session_and_user_in_one_query(client, cashier):
    from django.test.utils import CaptureQueriesContext

    from kent_cs.models import Session

    sign_in(client, "cashier")
    stored = Session.objects.get(session_key=client.session.session_key)
    assert stored.user_id == cashier.pk
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("home")).status_code == 200
    reads = [q["sql"] for q in queries.captured_queries]
    assert "FROM kent_cs_session s LEFT JOIN auth_user u" in reads[0]
    assert not any('FROM "auth_user"' in sql or "FROM auth_user u WHERE" in sql for sql in reads)
    # Signing out removes the row; the next request is anonymous and asks to sign in.
    client.post(reverse("logout"))
    assert not Session.objects.filter(user_id=cashier.pk).exists()
    assert client.get(reverse("home")).status_code == 302


def test_the_user_read_with_the_session_is_checked_like_any_other(client, cashier):
    sign_in(client, "cashier")
    assert client.get(reverse("home")).status_code == 200
    # Deactivated, or with a new password set elsewhere: the session no longer signs in.
    cashier.is_active = False
    cashier.save(update_fields=["is_active"])
    assert client.get(reverse("home")).status_code == 302
    cashier.is_active = True
    cashier.save(update_fields=["is_active"])
    sign_in(client, "cashier")
    assert client.get(reverse("home")).status_code == 200
    cashier.set_password("a-brand-new-password-2026")
    cashier.save(update_fields=["password"])
    assert client.get(reverse("home")).status_code == 302


def test_clearsessions_removes_expired_sessions_only(client, cashier):
    from django.core.management import call_command

    from kent_cs.models import Session

    sign_in(client, "cashier")
    live = client.session.session_key
    Session.objects.create(
        session_key="expired-session-key-0000000000000000000",
        session_data="",
        expire_date=timezone.now() - timedelta(minutes=1),
    )
    call_command("clearsessions")
    assert list(Session.objects.values_list("session_key", flat=True)) == [live]


def test_decoded_session_data_is_the_callers_own_and_tampering_is_still_refused():
    from kent_cs.sessions import SessionStore

    store = SessionStore()
    text = store.encode({"_auth_user_id": "7", "_touched": 1})
    first = store.decode(text)
    first["_auth_user_id"] = "8"
    assert store.decode(text) == {"_auth_user_id": "7", "_touched": 1}
    assert store.decode(text[:-2] + ("AA" if not text.endswith("AA") else "BB")) == {}
