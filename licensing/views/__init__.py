"""The licensing screens: businesses, fee preview, applications and reviews, licenses and
certificates, renewals and notices, and imports. Function views; each states the
permission it needs, fetches through licensing.selectors (or views.queries) and writes
only through licensing.services."""
