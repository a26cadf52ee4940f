"""Cashiering's reads, by the pages they build: the counter (sessions, receipts, tender
types), payer search, balancing, deposits, returned checks and refunds. Selectors never
import a write module."""
