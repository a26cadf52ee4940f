"""The four roles and the permissions each one holds.

Groups are created and granted by data migrations (`grant_role_permissions`), so every
database gets the same roles. Views check permissions, never group names; navigation
shows a link only when the user holds the permission its view needs.
"""

from enum import StrEnum


class Role(StrEnum):
    CASHIER = "Cashier"
    TECHNICIAN = "Accounting Technician"
    SUPERVISOR = "Supervisor"
    ADMINISTRATOR = "Administrator"


def grant_role_permissions(apps, role_permissions: dict[Role, list[str]]) -> None:
    """Give each role's group the listed "app_label.codename" permissions.

    For use in data migrations: permissions are normally created after migrations run,
    so this creates those of the apps involved first.
    """
    from django.contrib.auth.management import create_permissions

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    for role, names in role_permissions.items():
        group, _ = Group.objects.get_or_create(name=str(role))
        for name in names:
            app_label, codename = name.split(".")
            try:
                permission = Permission.objects.get(
                    content_type__app_label=app_label, codename=codename
                )
            except Permission.DoesNotExist:
                raise LookupError(f"Permission {name} does not exist") from None
            group.permissions.add(permission)


def roles_of(user) -> list[str]:
    return [group.name for group in user.groups.all()]
