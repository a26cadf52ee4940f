"""Sign-in throttling: repeated failures make a username wait at the address they come
from, and an address wait for every username, with delays that grow with each failure.
A username is never locked out everywhere; a burst of failures for one raises an alert.

Counter staff often share one public address, so the address limit is higher than the
username limit. Every failure, refusal, alert, sign-in and sign-out is an AuthEvent row.
"""

import functools
import logging
import math
from contextvars import ContextVar
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model, user_logged_in, user_logged_out
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import mail_admins
from django.db import connection
from django.db.models import Q
from django.dispatch import receiver
from django.utils import timezone

from kent_cs.audit import client_ip
from kent_cs.db import prepared_cursor
from kent_cs.models import AuthEvent

logger = logging.getLogger(__name__)


class LockedOut(PermissionDenied):
    def __init__(self, wait: timedelta, *, where: str) -> None:
        super().__init__(
            f"Too many failed sign-ins {where}. Try again in {wait_text(wait)}, "
            "or ask an administrator to clear the lockout."
        )
        self.wait = wait


def wait_text(wait: timedelta) -> str:
    seconds = max(1, math.ceil(wait.total_seconds()))
    if seconds < 90:
        return f"{seconds} seconds"
    minutes = math.ceil(seconds / 60)
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


def _window_start():
    return timezone.now() - timedelta(minutes=settings.LOGIN_LOCKOUT_MINUTES)


FIRST_DELAY_SECONDS = 30
ADDRESS_FACTOR = 4  # counter staff often share one address: it gets four times the limit
BURST_FACTOR = 2  # failures for one username, from anywhere, that raise an alert


def throttle_delay(failures: int, limit: int) -> timedelta | None:
    """How long to wait after the latest failure: none below `limit` failures, then 30
    seconds doubling with each further failure, never more than the lockout window."""
    if failures < limit:
        return None
    seconds = FIRST_DELAY_SECONDS * 2 ** min(failures - limit, 16)
    return min(timedelta(seconds=seconds), timedelta(minutes=settings.LOGIN_LOCKOUT_MINUTES))


def _wait(times: list, limit: int):
    """The time left to wait, given failure times newest first (None: no wait)."""
    delay = throttle_delay(len(times), limit)
    if delay is None:
        return None
    left = times[0] + delay - timezone.now()
    return left if left.total_seconds() > 0 else None


def lockout_check(*, username: str, ip: str | None) -> None:
    """Raise LockedOut while this username from this address, or this address for any
    username, must wait after repeated failures. The waits grow with each failure.

    A username is never locked everywhere: failures from one address do not keep the
    same person out at another (anyone could otherwise shut a cashier out of the
    counter by typing wrong passwords for her name). Bursts raise an alert instead."""
    since = _window_start()
    limit = settings.LOGIN_FAILURE_LIMIT
    failures = AuthEvent.objects.filter(kind=AuthEvent.Kind.FAILED, created_at__gte=since)
    # A sign-in from this address, or an administrator clearing the lockout, starts the
    # pair's count anew.
    resets = AuthEvent.objects.filter(username__iexact=username).filter(
        Q(kind=AuthEvent.Kind.UNLOCKED) | Q(kind=AuthEvent.Kind.LOGIN, ip_address=ip)
    )
    last_reset = resets.order_by("-created_at").values_list("created_at", flat=True).first()
    pair = failures.filter(username__iexact=username, ip_address=ip)
    if last_reset:
        pair = pair.filter(created_at__gt=last_reset)
    newest = "-created_at"
    wait = _wait(list(pair.order_by(newest).values_list("created_at", flat=True)[:64]), limit)
    where = "for this username from this workstation"
    if wait is None and ip:
        address = failures.filter(ip_address=ip).order_by(newest)
        wait = _wait(
            list(address.values_list("created_at", flat=True)[:256]), limit * ADDRESS_FACTOR
        )
        where = "from this address"
    if wait is not None:
        AuthEvent.objects.create(kind=AuthEvent.Kind.LOCKED, username=username[:150], ip_address=ip)
        raise LockedOut(wait, where=where)


def failure_record(*, username: str, ip: str | None) -> None:
    """Record a failed sign-in; a burst for one username from anywhere alerts the
    administrators (once per window) instead of locking the person out."""
    AuthEvent.objects.create(kind=AuthEvent.Kind.FAILED, username=username[:150], ip_address=ip)
    since = _window_start()
    recent = AuthEvent.objects.filter(username__iexact=username, created_at__gte=since)
    failed = recent.filter(kind=AuthEvent.Kind.FAILED)
    if failed.count() < settings.LOGIN_FAILURE_LIMIT * BURST_FACTOR:
        return
    if recent.filter(kind=AuthEvent.Kind.ALERT).exists():
        return
    addresses = sorted({str(a) for a in failed.values_list("ip_address", flat=True) if a})
    AuthEvent.objects.create(kind=AuthEvent.Kind.ALERT, username=username[:150], ip_address=ip)
    message = (
        f"{failed.count()} failed sign-ins for {username!r} in the last "
        f"{settings.LOGIN_LOCKOUT_MINUTES} minutes, from {len(addresses)} address(es): "
        f"{', '.join(addresses) or 'unknown'}. The person can still sign in from their own "
        "workstation; check the Activity page and clear or disable the account if needed."
    )
    logger.warning("Burst of failed sign-ins: %s", message)
    try:
        mail_admins(f"Failed sign-ins for {username}", message)
    except Exception:  # the mail server is down: the alert stays in the log and the trail
        logger.exception("The sign-in alert for %s could not be mailed", username)


def lockout_clear(*, user) -> AuthEvent:
    """Let `user` try again at once (an administrator's action; attributed by the audit
    context of the request that calls it)."""
    return AuthEvent.objects.create(
        kind=AuthEvent.Kind.UNLOCKED, username=user.get_username(), user=user
    )


def _permission_ids_sql(user_id: str) -> str:
    """The ids of a user's own and group permissions (`user_id`: an SQL expression). Names
    come from `_permission_names`: joining auth_permission and django_content_type on
    every request cost the server several times more than this."""
    return (
        f"SELECT permission_id FROM auth_user_user_permissions WHERE user_id = {user_id} "
        "UNION ALL SELECT permission_id FROM auth_group_permissions WHERE group_id = ANY("
        f"ARRAY(SELECT group_id FROM auth_user_groups WHERE user_id = {user_id}))"
    )


PERMISSION_IDS_SQL = _permission_ids_sql("%s")  # parameter: the user's id


@functools.cache  # built for every request: once per process
def user_columns_sql(alias: str, user_id: str) -> str:
    """The select list `ThrottledModelBackend.user_from_row` reads: the user's columns
    (table `alias`) and the ids of their permissions (`user_id`: an SQL expression)."""
    columns = ", ".join(f"{alias}.{column}" for column in _user_columns())
    return f"{columns}, ARRAY({_permission_ids_sql(user_id)})"


@functools.cache
def _user_columns() -> list[str]:
    return [field.attname for field in get_user_model()._meta.concrete_fields]


# The session of the request being handled (set by kent_cs.sessions.IdleTimeoutMiddleware):
# reading it reads its user too, and get_user takes the user from it.
current_session: ContextVar = ContextVar("current_session", default=None)
_names: dict[int, str] = {}


def _permission_names(ids) -> set[str]:
    """ "app_label.codename" of permission ids. Permissions are rows that migrations
    create and ids are never reused, so the names are read once per process, and again
    when an id is new to it."""
    global _names
    names = _names
    if any(pk not in names for pk in ids):
        with prepared_cursor() as cursor:
            cursor.execute(
                "SELECT p.id, t.app_label || '.' || p.codename FROM auth_permission p "
                "JOIN django_content_type t ON t.id = p.content_type_id"
            )
            names = _names = dict(cursor.fetchall())
    return {names[pk] for pk in ids if pk in names}


class ThrottledModelBackend(ModelBackend):
    def get_user(self, user_id):
        """The signed-in user of a request, with their permissions: read with the session
        (kent_cs.sessions) or else in one plain query (every request reads the user, and
        nearly every view checks a permission)."""
        user_model = get_user_model()
        try:
            pk = user_model._meta.pk.to_python(user_id)
        except ValidationError:
            return None
        session = current_session.get()
        row = getattr(session, "user_row", None)
        if row is None or row[0] != pk:
            with prepared_cursor() as cursor:
                cursor.execute(
                    f"SELECT {user_columns_sql('u', '%s')} FROM {user_model._meta.db_table} u "
                    "WHERE u.id = %s",
                    [pk, pk, pk],
                )
                row = cursor.fetchone()
        if row is None:
            return None
        user = self.user_from_row(row)
        return user if self.user_can_authenticate(user) else None

    @staticmethod
    def user_from_row(row):
        """The user of a row of `user_columns_sql`, its permission names cached on it."""
        user = get_user_model().from_db(connection.alias, _user_columns(), row[:-1])
        if not user.is_superuser:  # a superuser has every permission, not only these
            user._perm_cache = _permission_names(row[-1])  # as get_all_permissions fills it
        return user

    def get_all_permissions(self, user_obj, obj=None):
        """The user's own and group permissions in one query (ModelBackend takes two);
        cached on the user object for the request, as ModelBackend does."""
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if user_obj.is_superuser:
            return super().get_all_permissions(user_obj, obj)
        if not hasattr(user_obj, "_perm_cache"):
            with prepared_cursor() as cursor:
                cursor.execute(PERMISSION_IDS_SQL, [user_obj.pk, user_obj.pk])
                ids = [pk for (pk,) in cursor.fetchall()]
            user_obj._perm_cache = _permission_names(ids)
        return user_obj._perm_cache

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(self._username_field_name(), "")
        ip = client_ip(request) if request is not None else None
        lockout_check(username=username or "", ip=ip)
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            failure_record(username=username or "", ip=ip)
        return user

    @staticmethod
    def _username_field_name() -> str:
        from django.contrib.auth import get_user_model

        return get_user_model().USERNAME_FIELD


@receiver(user_logged_in)
def _record_login(sender, request, user, **kwargs):
    AuthEvent.objects.create(
        kind=AuthEvent.Kind.LOGIN,
        username=user.get_username(),
        user=user,
        ip_address=client_ip(request) if request else None,
    )


@receiver(user_logged_out)
def _record_logout(sender, request, user, **kwargs):
    if user is not None:
        AuthEvent.objects.create(
            kind=AuthEvent.Kind.LOGOUT,
            username=user.get_username(),
            user=user,
            ip_address=client_ip(request) if request else None,
        )
