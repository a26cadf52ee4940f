"""Access rules for the audit reports: whoever holds kent_cs.view_reports (technicians,
supervisors, administrators) reads them; cashiers and people without a role do not."""

from tests.url_rules._base import LEDGER_READERS, Rule

READERS = LEDGER_READERS
ONE = {"key": "cashier-activity"}
RANGE = {"date_from": "2026-03-01", "date_to": "2026-03-16"}

RULES = {
    "audit:reports": Rule(READERS),
    "audit:report": Rule(READERS, kwargs=lambda s: ONE, data=RANGE),
    "audit:report-pdf": Rule(READERS, kwargs=lambda s: ONE, data=RANGE),
    "audit:report-xlsx": Rule(READERS, kwargs=lambda s: ONE, data=RANGE),
}
