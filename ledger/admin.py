"""Admin for the ledger's reference data. Posted entries and period status are read-only
here: entries are posted and reversed by the services, periods closed on the periods page."""

from decimal import Decimal

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet

from kent_cs.admin import NoDeleteAdmin, ReadOnlyAdmin
from ledger.models import (
    AccountingPeriod,
    BankAccount,
    BankStatement,
    BankStatementImport,
    FeeCode,
    FeeDistribution,
    Fund,
    GLAccount,
    JournalEntry,
    JournalLine,
)

HUNDRED = Decimal(100)


@admin.register(Fund)
class FundAdmin(NoDeleteAdmin):
    list_display = ["code", "name", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["code", "name"]


@admin.register(GLAccount)
class GLAccountAdmin(NoDeleteAdmin):
    list_display = [
        "full_code",
        "name",
        "account_type",
        "is_cash",
        "is_clearing",
        "is_control",
        "is_active",
    ]
    list_filter = ["fund", "account_type", "is_cash", "is_clearing", "is_control", "is_active"]
    search_fields = ["code", "name", "fund__code"]
    list_select_related = ["fund"]
    ordering = ["fund__code", "code"]

    @admin.display(description="Account", ordering="code")
    def full_code(self, obj: GLAccount) -> str:
        return obj.full_code


class FeeDistributionFormSet(BaseInlineFormSet):
    """A fee code's percent rows share what is left after fixed amounts: they must add up
    to 100 whenever there are any, or part of every payment would go nowhere."""

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        percents = []
        rows = 0
        for form in self.forms:
            if not form.cleaned_data or form.cleaned_data.get("DELETE"):
                continue
            rows += 1
            percent = form.cleaned_data.get("percent")
            fixed = form.cleaned_data.get("fixed_amount")
            if (percent is None) == (fixed is None):
                raise ValidationError(
                    "Each distribution row needs either a percent or a fixed amount, not both."
                )
            if percent is not None:
                percents.append(percent)
        if rows == 0:
            raise ValidationError("A fee code needs at least one GL distribution row.")
        if percents and sum(percents, Decimal(0)) != HUNDRED:
            raise ValidationError(
                f"The percents add up to {sum(percents, Decimal(0)).normalize():f}%; "
                "they must add up to 100%."
            )


class FeeDistributionInline(admin.TabularInline):
    model = FeeDistribution
    formset = FeeDistributionFormSet
    extra = 0
    min_num = 1
    autocomplete_fields = ["account"]
    fields = ["account", "percent", "fixed_amount"]


@admin.register(FeeCode)
class FeeCodeAdmin(NoDeleteAdmin):
    list_display = ["code", "name", "default_amount", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["code", "name"]
    inlines = [FeeDistributionInline]


@admin.register(AccountingPeriod)
class AccountingPeriodAdmin(NoDeleteAdmin):
    """Periods can be added here; their status changes only on the periods page, where
    closing and reopening are recorded with who and why."""

    list_display = ["__str__", "start_date", "end_date", "status", "status_changed_at"]
    list_filter = ["status", "year"]
    ordering = ["-start_date"]
    readonly_fields = ["status", "status_changed_at", "status_changed_by"]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:  # dates of an existing period never move under its entries
            return ["year", "month", "start_date", "end_date", *self.readonly_fields]
        return self.readonly_fields


class JournalLineInline(admin.TabularInline):
    model = JournalLine
    fields = ["line_no", "account", "debit", "credit", "memo"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["line_no"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_view_permission(self, request, obj=None) -> bool:
        # The lines are part of the entry: whoever may view the entry sees them.
        return request.user.has_perm("ledger.view_journalentry")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("account__fund")


@admin.register(JournalEntry)
class JournalEntryAdmin(ReadOnlyAdmin):
    list_display = ["number", "entry_date", "period", "memo", "source", "posted_by"]
    list_filter = ["source", "period"]
    search_fields = ["=number", "memo", "source_ref"]
    date_hierarchy = "entry_date"
    list_select_related = ["period", "posted_by"]
    inlines = [JournalLineInline]


@admin.register(BankAccount)
class BankAccountAdmin(NoDeleteAdmin):
    """City bank accounts. Statements are matched to them by number; deactivate an account
    instead of deleting it."""

    list_display = ["name", "number", "currency", "gl_account", "is_default", "is_active"]
    list_filter = ["is_active", "currency"]
    search_fields = ["name", "number"]
    list_select_related = ["gl_account__fund"]
    autocomplete_fields = ["gl_account"]


class BankStatementInline(admin.TabularInline):
    model = BankStatement
    fields = [
        "bank_account",
        "statement_id",
        "start_date",
        "end_date",
        "currency",
        "opening_balance",
        "closing_balance",
        "source_line",
        "is_unbalanced",
    ]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(BankStatementImport)
class BankStatementImportAdmin(ReadOnlyAdmin):
    """Imported bank files, as the import page wrote them."""

    list_display = [
        "imported_at",
        "file_name",
        "format",
        "statement_count",
        "transaction_count",
        "total_credits",
        "total_debits",
        "imported_by",
        "discrepancy_approved_by",
    ]
    list_filter = ["format"]
    search_fields = ["file_name", "sha256", "file_id"]
    date_hierarchy = "imported_at"
    list_select_related = ["imported_by", "discrepancy_approved_by"]
    inlines = [BankStatementInline]
