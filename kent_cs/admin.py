"""Admin for the shared core, and the mixins every app's admin uses."""

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from kent_cs.auth import lockout_clear
from kent_cs.models import AuthEvent, Job, NumberSeries
from kent_cs.roles import Role


class NoDeleteAdmin(admin.ModelAdmin):
    """Audited records are never hard-deleted; they are deactivated instead.

    Takes away the delete permission (so no delete button or page) and the bulk
    "delete selected" action. Saves go through `save_model` as usual, so the history
    triggers and the audit middleware record who changed what.
    """

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_actions(self, request, action_location=admin.ActionLocation.CHANGE_LIST):
        # Without the delete permission Django already hides it; removed here as well so
        # that a subclass granting the permission back cannot bring the bulk delete along.
        actions = super().get_actions(request, action_location=action_location)
        actions.pop("delete_selected", None)
        return actions


class ReadOnlyAdmin(NoDeleteAdmin):
    """Records written only by the application (append-only logs, posted money)."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AuthEvent)
class AuthEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "kind", "username", "user", "ip_address"]
    list_filter = ["kind", "created_at"]
    search_fields = ["username", "ip_address"]
    date_hierarchy = "created_at"
    list_select_related = ["user"]


@admin.register(Job)
class JobAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "title", "kind", "status", "progress_done", "progress_total"]
    list_filter = ["status", "kind"]
    search_fields = ["title", "kind", "created_by__username"]
    list_select_related = ["created_by"]
    exclude = ["result_data"]
    date_hierarchy = "created_at"


@admin.register(NumberSeries)
class NumberSeriesAdmin(ReadOnlyAdmin):
    """Shown for reference only: editing a counter would leave a gap or a duplicate."""

    list_display = ["key", "next_value"]


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class KentUserAdmin(NoDeleteAdmin, UserAdmin):
    """Users are deactivated, never deleted (their name is on posted money).

    An administrator who is not a superuser manages staff accounts by role only: no
    superuser flag, no one-off permissions, no changes to superusers or to their own
    roles, so the Administrator role cannot raise itself above what it was given.
    """

    actions = ["clear_lockout"]
    list_display = ["username", "first_name", "last_name", "is_active", "role_names", "last_login"]
    list_filter = ["is_active", "groups"]

    @admin.display(description="Roles")
    def role_names(self, obj) -> str:
        return ", ".join(group.name for group in obj.groups.all())

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if request.user.is_superuser or obj is None:
            return fieldsets
        limited = []
        for title, options in fieldsets:
            fields = [
                f
                for f in options.get("fields", ())
                if f not in ("is_superuser", "user_permissions")
            ]
            limited.append((title, {**options, "fields": fields}))
        return limited

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser and obj is not None and obj.pk == request.user.pk:
            readonly += ["groups", "is_staff", "is_active"]
        return readonly

    def has_change_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "groups" and not request.user.is_superuser:
            from django.contrib.auth.models import Group

            kwargs["queryset"] = Group.objects.filter(name__in=[str(role) for role in Role])
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    @admin.action(description="Clear sign-in lockout", permissions=["change"])
    def clear_lockout(self, request, queryset):
        for user in queryset:
            lockout_clear(user=user)
        self.message_user(
            request, f"Cleared the sign-in lockout of {queryset.count()} user(s).", messages.SUCCESS
        )
