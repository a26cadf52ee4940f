"""Admin for the shared core, and the mixins every app's admin uses."""

from django.contrib import admin

from kent_cs.models import AuthEvent, Job, NumberSeries


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
