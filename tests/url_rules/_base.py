"""The rule type and persona sets shared by the URL-by-persona test and its area modules."""

from dataclasses import dataclass, field

PERSONAS = ["cashier", "cashier_b", "technician", "supervisor", "admin", "outsider"]
EVERYONE = set(PERSONAS)
LEDGER_READERS = {"technician", "supervisor", "admin"}
COUNTER = {"cashier", "cashier_b", "technician"}
ALL_SESSIONS = {"technician", "supervisor"}
BACK_OFFICE = {"technician", "supervisor"}


@dataclass
class Rule:
    allowed: set[str]
    method: str = "get"
    kwargs: object = None  # callable(scenario) -> dict of URL kwargs
    data: dict = field(default_factory=dict)
    not_found: set[str] = field(default_factory=set)  # may use the page, but not this object


def pk_of(key):
    return lambda s: {"pk": s[key].pk}
