"""Licensing writes, one module per entity. Every service validates, locks what a
concurrent request could change, writes in one transaction and records why
(LicenseStatusChange rows, the pghistory context). The counter reaches these only
through licensing.payables.

- common: LicensingError and the helpers every write shares.
- invoice_index: the counter's payer index rows for licensing invoices.
- licenses: license status transitions and the license side of a paid invoice.
- invoices: creating and cancelling invoices; applying and undoing payments.
- businesses: businesses and their contacts.
- applications: applications, reviews, approval, denial and withdrawal.
- penalties: the daily run: expiry, late penalties and lapse.
"""
