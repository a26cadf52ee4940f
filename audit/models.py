"""The audit app's models, one module per part of the app."""

from audit.access_history import (  # noqa: F401 - models live where Django looks for them
    GroupPermissionLink,
    UserAccess,
    UserGroupLink,
    UserPermissionLink,
)
