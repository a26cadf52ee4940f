from django.contrib import admin

from cashiering.models import TenderType
from kent_cs.admin import NoDeleteAdmin


@admin.register(TenderType)
class TenderTypeAdmin(NoDeleteAdmin):
    list_display = [
        "code",
        "name",
        "kind",
        "counts_in_drawer",
        "requires_reference",
        "gives_change",
        "clearing_account",
        "sort_order",
        "is_active",
    ]
    list_filter = ["kind", "is_active"]
    list_editable = ["sort_order"]
    search_fields = ["code", "name"]
    list_select_related = ["clearing_account__fund"]
    autocomplete_fields = ["clearing_account"]
