"""Licensing reads, one module per concern.

- businesses: business lookups, duplicate detection, the business search and page data.
- history: a business's merged history timeline.
- licenses: licenses and invoices, their status history, lines and payments.
- applications: applications, the review queue and reviews.
- renewals: renewals due and outstanding, delinquency, renewal runs, notice data.
- dashboard: the home page's licensing cards.
- imports: the records of license imports and their refused rows.
"""
