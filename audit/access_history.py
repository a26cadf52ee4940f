"""History of who may do what: group memberships, group and user permissions, and the
user flags that grant access (active, staff, superuser).

Django's auth tables are not this project's, so they are tracked through proxy models
(pghistory's way for third-party models: the triggers land in this app's migrations).
The many-to-many tables have one row per link: adding a link is an insert, removing one
(`remove`, `clear`, `set`, or deleting the group) a delete, each caught by a trigger with
the request's audit context (who, from where), whatever wrote it.
"""

import pghistory
from django.contrib.auth.models import Group, User

from kent_cs.history import tracked


@tracked(
    pghistory.InsertEvent("group.add"),
    pghistory.DeleteEvent("group.remove"),
    obj_field=None,
    model_name="UserGroupEvent",
)
class UserGroupLink(User.groups.through):  # type: ignore[name-defined,misc]
    class Meta:
        proxy = True
        default_permissions = ()
        verbose_name = "user's role"


@tracked(
    pghistory.InsertEvent("permission.add"),
    pghistory.DeleteEvent("permission.remove"),
    obj_field=None,
    model_name="GroupPermissionEvent",
)
class GroupPermissionLink(Group.permissions.through):  # type: ignore[name-defined,misc]
    class Meta:
        proxy = True
        default_permissions = ()
        verbose_name = "role's permission"


@tracked(
    pghistory.InsertEvent("permission.add"),
    pghistory.DeleteEvent("permission.remove"),
    obj_field=None,
    model_name="UserPermissionEvent",
)
class UserPermissionLink(User.user_permissions.through):  # type: ignore[name-defined,misc]
    class Meta:
        proxy = True
        default_permissions = ()
        verbose_name = "user's own permission"


@tracked(
    pghistory.InsertEvent("user.create"),
    pghistory.UpdateEvent(
        "user.access", condition=pghistory.AnyChange("is_active", "is_staff", "is_superuser")
    ),
    fields=["username", "is_active", "is_staff", "is_superuser"],
    model_name="UserAccessEvent",
)
class UserAccess(User):
    class Meta:
        proxy = True
        default_permissions = ()
        verbose_name = "user's access"
