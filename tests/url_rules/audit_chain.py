"""Access rules for the audit chain page and its daily digest: supervisors only."""

from tests.url_rules._base import Rule

SUPERVISORS = {"supervisor"}

RULES = {
    "audit:chain": Rule(SUPERVISORS),
    "audit:chain-digest-write": Rule(SUPERVISORS, method="post", data={"day": "2026-03-16"}),
    "audit:chain-digest-csv": Rule(SUPERVISORS),
    "audit:chain-digest-pdf": Rule(SUPERVISORS),
    "audit:chain-digest-print": Rule(SUPERVISORS),
}
