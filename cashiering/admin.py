from django.contrib import admin

from cashiering.models import (
    BusinessDay,
    CounterPolicy,
    Deposit,
    DepositItem,
    DepositSession,
    RefundRequest,
    ReturnedCheck,
    SessionCount,
    SessionCountLine,
    TenderType,
)
from kent_cs.admin import NoDeleteAdmin, ReadOnlyAdmin


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


@admin.register(CounterPolicy)
class CounterPolicyAdmin(NoDeleteAdmin):
    """The one row of counter settings: the administrator changes it, never adds another."""

    list_display = [
        "__str__",
        "over_short_threshold",
        "over_short_account",
        "deposit_within_hours",
        "returned_check_limit",
        "returned_check_months",
    ]
    autocomplete_fields = [
        "over_short_account",
        "returned_checks_receivable",
        "refunds_payable",
        "nsf_fee_code",
    ]

    def has_add_permission(self, request) -> bool:
        return super().has_add_permission(request) and not CounterPolicy.objects.exists()


@admin.register(BusinessDay)
class BusinessDayAdmin(ReadOnlyAdmin):
    list_display = ["business_date", "status", "closed_by", "closed_at", "reopened_by"]
    list_filter = ["status"]
    date_hierarchy = "business_date"
    list_select_related = ["closed_by", "reopened_by"]


class SessionCountLineInline(admin.TabularInline):
    model = SessionCountLine
    fields = ["kind", "expected", "counted", "over_short"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(SessionCount)
class SessionCountAdmin(ReadOnlyAdmin):
    list_display = ["session", "counted_by", "counted_at", "over_short", "status", "decided_by"]
    list_filter = ["status"]
    search_fields = ["session__drawer__code", "session__cashier__username"]
    list_select_related = ["session__drawer", "session__cashier", "counted_by", "decided_by"]
    inlines = [SessionCountLineInline]


class DepositSessionInline(admin.TabularInline):
    model = DepositSession
    fields = ["session", "kind", "amount"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class DepositItemInline(DepositSessionInline):
    model = DepositItem
    fields = ["tender", "amount"]
    readonly_fields = fields


@admin.register(Deposit)
class DepositAdmin(ReadOnlyAdmin):
    """Deposits are written only by deposit preparation (posted money: never edited)."""

    list_display = ["number", "kind", "deposit_date", "bank_account", "total", "prepared_by"]
    list_filter = ["kind", "deposit_date"]
    search_fields = ["=number"]
    date_hierarchy = "deposit_date"
    list_select_related = ["bank_account", "prepared_by"]
    inlines = [DepositSessionInline, DepositItemInline]


@admin.register(ReturnedCheck)
class ReturnedCheckAdmin(ReadOnlyAdmin):
    list_display = ["pk", "status", "returned_on", "receipt", "payer_name", "amount", "fee_amount"]
    list_filter = ["status", "reason"]
    search_fields = ["payer_name", "tender__check_number"]
    list_select_related = ["receipt"]


@admin.register(RefundRequest)
class RefundRequestAdmin(ReadOnlyAdmin):
    list_display = ["number", "status", "target_kind", "target_ref", "payee_name", "amount"]
    list_filter = ["status"]
    search_fields = ["number", "payee_name", "target_ref", "export_batch"]
