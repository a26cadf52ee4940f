"""The licensing screens: businesses, fee preview, applications and reviews, licenses and
certificates, renewals and notices, and imports. Function views; each states the
permission it needs, fetches through the licensing.selectors modules and writes
only through the licensing.services modules."""
