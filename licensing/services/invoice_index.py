"""The counter's payer index of licensing invoices (kind "license"): the row one invoice
shows at the counter, and refreshing it after invoices change."""

from collections.abc import Sequence

from cashiering.targets import IndexRow, index_bulk_upsert
from licensing.models import (
    Business,
    License,
    LicenseInvoice,
)

TARGET_KIND = "license"


def invoice_index_row(invoice: LicenseInvoice, business: Business, license: License) -> IndexRow:
    return IndexRow(
        kind=TARGET_KIND,
        ref=invoice.number,
        number=invoice.number,
        name=business.display_name,
        address=business.location_address,
        detail=f"{invoice.description} ({license.display_number})",
        is_active=invoice.status == LicenseInvoice.Status.OPEN,
    )


def index_invoices(invoices: Sequence[LicenseInvoice]) -> None:
    """Refresh the counter's payer index for these invoices (business and license loaded)."""
    index_bulk_upsert(invoice_index_row(i, i.business, i.license) for i in invoices)
