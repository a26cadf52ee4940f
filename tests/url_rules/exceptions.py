"""Access rules for the exceptions dashboard: technicians and supervisors only."""

from tests.url_rules._base import BACK_OFFICE, Rule

RULES = {
    "audit:exceptions": Rule(BACK_OFFICE),
    "audit:exceptions-badge": Rule(BACK_OFFICE),
}
