"""Sign-in throttling: repeated failures lock the username and the client address.

Counter staff often share one public address, so the address limit is higher than the
username limit. Every failure, lockout, sign-in and sign-out is an AuthEvent row.
"""

import functools
from contextvars import ContextVar
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model, user_logged_in, user_logged_out
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.dispatch import receiver
from django.utils import timezone

from kent_cs.audit import client_ip
from kent_cs.db import prepared_cursor
from kent_cs.models import AuthEvent


class LockedOut(PermissionDenied):
    def __init__(self, minutes: int) -> None:
        super().__init__(
            f"Too many failed sign-ins. Try again in {minutes} minutes, "
            "or ask an administrator to clear the lockout."
        )
        self.minutes = minutes


def _window_start():
    return timezone.now() - timedelta(minutes=settings.LOGIN_LOCKOUT_MINUTES)


def lockout_check(*, username: str, ip: str | None) -> None:
    """Raise LockedOut when the username or the address has failed too often lately."""
    since = _window_start()
    failures = AuthEvent.objects.filter(kind=AuthEvent.Kind.FAILED, created_at__gte=since)
    limit = settings.LOGIN_FAILURE_LIMIT
    by_user = failures.filter(username__iexact=username)
    # A successful sign-in, or an administrator clearing the lockout, starts the count anew.
    last_login = (
        AuthEvent.objects.filter(
            kind__in=[AuthEvent.Kind.LOGIN, AuthEvent.Kind.UNLOCKED], username__iexact=username
        )
        .values_list("created_at", flat=True)
        .first()
    )
    if last_login:
        by_user = by_user.filter(created_at__gt=last_login)
    locked = by_user.count() >= limit
    if not locked and ip:
        locked = failures.filter(ip_address=ip).count() >= limit * 4
    if locked:
        AuthEvent.objects.create(kind=AuthEvent.Kind.LOCKED, username=username[:150], ip_address=ip)
        raise LockedOut(settings.LOGIN_LOCKOUT_MINUTES)


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
            AuthEvent.objects.create(
                kind=AuthEvent.Kind.FAILED, username=(username or "")[:150], ip_address=ip
            )
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
