"""Business licensing: businesses, license types and fee schedules, applications and
reviews, licenses, invoices and payments, penalties and renewal runs."""

from licensing.models.business import Business, Contact, OwnershipType
from licensing.models.fees import (
    ExemptionRule,
    FeeComponent,
    FeeSchedule,
    FeeTier,
    LicenseType,
    ProrationRule,
)
from licensing.models.invoices import (
    InvoiceKind,
    LicenseInvoice,
    LicenseInvoiceLine,
    LicensePayment,
    PenaltyRule,
    PenaltySchedule,
    RenewalRun,
    invoice_number,
    invoice_series,
)
from licensing.models.licenses import (
    LICENSE_TRANSITIONS,
    RENEWAL_DUE_STATUSES,
    TERMINAL_STATUSES,
    Application,
    License,
    LicenseImport,
    LicenseStatus,
    LicenseStatusChange,
    Review,
    Transition,
    license_display_number,
)
from licensing.models.notices import NoticeChunk, NoticeRun

__all__ = [
    "LICENSE_TRANSITIONS",
    "RENEWAL_DUE_STATUSES",
    "TERMINAL_STATUSES",
    "Application",
    "Business",
    "Contact",
    "ExemptionRule",
    "FeeComponent",
    "FeeSchedule",
    "FeeTier",
    "InvoiceKind",
    "License",
    "LicenseImport",
    "LicenseInvoice",
    "LicenseInvoiceLine",
    "LicensePayment",
    "LicenseStatus",
    "LicenseStatusChange",
    "LicenseType",
    "NoticeChunk",
    "NoticeRun",
    "OwnershipType",
    "PenaltyRule",
    "PenaltySchedule",
    "ProrationRule",
    "RenewalRun",
    "Review",
    "Transition",
    "invoice_number",
    "invoice_series",
    "license_display_number",
]
