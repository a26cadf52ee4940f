"""Cashiering: the counter and the money's path to the bank. Tender types, drawers and
cashier sessions, receipts and their corrections, the blind close and balancing, business
days, deposits, returned checks, refunds, the utility and AR imports, inquiry and the
daily reports.

Writes are in `services/`, reads in `selectors/`, the errors they share in `errors.py`.
Other apps take payments through the payment-target registry (`targets.py`), never
through cashiering's models. Builds on ledger and kent_cs."""
