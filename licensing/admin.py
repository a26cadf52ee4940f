"""Admin for licensing's reference data: license types, fee schedules (components, FTE
tiers, proration and exemption rules) and the late-penalty schedule, which the
Administrator maintains. Businesses, licenses and invoices are read-only here: they
change through the services (applications, payments, renewal runs), which keep the
status history and the payer index right."""

from decimal import Decimal

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet

from kent_cs.admin import NoDeleteAdmin, ReadOnlyAdmin
from ledger.models import FeeCode
from licensing.models import (
    Business,
    ExemptionRule,
    FeeComponent,
    FeeSchedule,
    FeeTier,
    License,
    LicenseImport,
    LicenseInvoice,
    LicenseInvoiceLine,
    LicenseType,
    PenaltyRule,
    PenaltySchedule,
    ProrationRule,
    RenewalRun,
)


def _check_fee_code(code: str) -> None:
    if code and not FeeCode.objects.filter(code=code, is_active=True).exists():
        raise ValidationError(f"{code} is not an active fee code in the ledger.")


class FeeCodeCheckedForm(forms.ModelForm):
    """The fee code must be one the ledger knows (it decides the GL accounts credited)."""

    def clean_fee_code(self):
        code = self.cleaned_data["fee_code"]
        _check_fee_code(code)
        return code


class FeeComponentForm(FeeCodeCheckedForm):
    class Meta:
        model = FeeComponent
        fields = [
            "schedule",
            "position",
            "kind",
            "label",
            "fee_code",
            "method",
            "amount",
            "minimum_amount",
            "charged_on",
            "inside_city_only",
            "prorate",
            "exemptible",
            "penalty_base",
        ]


class PenaltyScheduleForm(FeeCodeCheckedForm):
    class Meta:
        model = PenaltySchedule
        fields = [
            "name",
            "source",
            "effective_from",
            "effective_to",
            "due_month",
            "due_day",
            "due_in_prior_year",
            "grace_days",
            "lapse_after_days",
            "max_total_percent",
            "max_total_amount",
            "fee_code",
        ]


class FeeComponentInline(admin.TabularInline):
    model = FeeComponent
    form = FeeComponentForm
    extra = 0
    fields = [
        "position",
        "kind",
        "label",
        "fee_code",
        "method",
        "amount",
        "minimum_amount",
        "charged_on",
        "inside_city_only",
        "prorate",
        "exemptible",
        "penalty_base",
    ]
    show_change_link = True  # FTE tiers are edited on the component's page


class ProrationRuleInline(admin.TabularInline):
    model = ProrationRule
    extra = 0


class ExemptionRuleInline(admin.TabularInline):
    model = ExemptionRule
    extra = 0


class FeeScheduleInline(admin.TabularInline):
    model = FeeSchedule
    extra = 0
    fields = ["name", "effective_from", "effective_to"]
    show_change_link = True

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(LicenseType)
class LicenseTypeAdmin(NoDeleteAdmin):
    list_display = [
        "code",
        "name",
        "requires_fire_review",
        "requires_planning_review",
        "requires_police_review",
        "unit_label",
        "is_renewable",
        "is_active",
    ]
    list_filter = ["is_active", "is_renewable"]
    search_fields = ["code", "name"]
    inlines = [FeeScheduleInline]


@admin.register(FeeSchedule)
class FeeScheduleAdmin(NoDeleteAdmin):
    list_display = ["license_type", "name", "effective_from", "effective_to"]
    list_filter = ["license_type"]
    list_select_related = ["license_type"]
    inlines = [FeeComponentInline, ProrationRuleInline, ExemptionRuleInline]


class FeeTierFormSet(BaseInlineFormSet):
    """Tiers of an FTE-tiered component start at 0 FTE, so every business has a tier."""

    def clean(self):
        super().clean()
        if any(self.errors) or self.instance.method != FeeComponent.Method.FTE_TIERS:
            return
        minimums = [
            form.cleaned_data["min_fte"]
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]
        if not minimums:
            raise ValidationError("Add the FTE tiers, starting at 0 FTE.")
        if min(minimums) != Decimal(0):
            raise ValidationError("The first tier starts at 0 FTE.")


class FeeTierInline(admin.TabularInline):
    model = FeeTier
    formset = FeeTierFormSet
    extra = 0


@admin.register(FeeComponent)
class FeeComponentAdmin(NoDeleteAdmin):
    list_display = ["schedule", "position", "label", "fee_code", "method", "amount"]
    list_select_related = ["schedule__license_type"]
    list_filter = ["schedule__license_type", "kind", "method"]
    form = FeeComponentForm
    inlines = [FeeTierInline]


class PenaltyRuleInline(admin.TabularInline):
    model = PenaltyRule
    extra = 0


@admin.register(PenaltySchedule)
class PenaltyScheduleAdmin(NoDeleteAdmin):
    list_display = [
        "name",
        "effective_from",
        "effective_to",
        "due_month",
        "due_day",
        "grace_days",
        "lapse_after_days",
        "max_total_percent",
    ]
    form = PenaltyScheduleForm
    inlines = [PenaltyRuleInline]


@admin.register(Business)
class BusinessAdmin(ReadOnlyAdmin):
    list_display = ["legal_name", "trade_name", "ubi", "naics_code", "status", "opened_on"]
    list_filter = ["status", "ownership_type", "inside_city_limits"]
    search_fields = ["legal_name", "trade_name", "ubi"]


@admin.register(LicenseImport)
class LicenseImportAdmin(ReadOnlyAdmin):
    list_display = [
        "file_name",
        "mode",
        "rows",
        "licenses_created",
        "refused_count",
        "created_by",
        "created_at",
    ]
    list_filter = ["mode"]
    list_select_related = ["created_by"]
    search_fields = ["file_name"]


@admin.register(License)
class LicenseAdmin(ReadOnlyAdmin):
    list_display = ["display_number", "business", "license_type", "status", "license_year"]
    list_filter = ["status", "license_type", "license_year"]
    list_select_related = ["business", "license_type"]
    search_fields = ["business__legal_name", "business__ubi", "legacy_number"]


class LicenseInvoiceLineInline(admin.TabularInline):
    model = LicenseInvoiceLine
    extra = 0
    fields = ["position", "label", "fee_code", "amount", "amount_due", "rule"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(LicenseInvoice)
class LicenseInvoiceAdmin(ReadOnlyAdmin):
    list_display = ["number", "business", "kind", "year", "status", "total", "amount_due"]
    list_filter = ["status", "kind", "year"]
    list_select_related = ["business"]
    search_fields = ["number", "business__legal_name"]
    inlines = [LicenseInvoiceLineInline]


@admin.register(RenewalRun)
class RenewalRunAdmin(ReadOnlyAdmin):
    list_display = [
        "year",
        "status",
        "licenses_due",
        "invoices_created",
        "already_invoiced",
        "skipped",
        "started_by",
        "created_at",
    ]
    list_filter = ["status", "year"]
