"""Access rules for the training course and the user guide.

Cashiers, technicians and supervisors take their role's course (an exercise outside it is
404: the blind close is in the cashier's and technician's courses, not the supervisor's);
administrators and people without a role have no course (403). Only supervisors see
other staff members' progress. The guide is for everyone signed in.
"""

from tests.url_rules._base import EVERYONE, Rule

TAKERS = {"cashier", "cashier_b", "technician", "supervisor"}
COUNTER_COURSE = {"cashier", "cashier_b", "technician"}
BLIND_CLOSE = {"code": "blind-close"}

RULES = {
    "audit:training": Rule(TAKERS),
    "audit:training-exercise": Rule(
        COUNTER_COURSE, kwargs=lambda s: BLIND_CLOSE, not_found={"supervisor"}
    ),
    "audit:training-start": Rule(
        COUNTER_COURSE, method="post", kwargs=lambda s: BLIND_CLOSE, not_found={"supervisor"}
    ),
    "audit:training-check": Rule(
        COUNTER_COURSE, method="post", kwargs=lambda s: BLIND_CLOSE, not_found={"supervisor"}
    ),
    "audit:training-staff": Rule({"supervisor"}),
    "audit:training-staff-detail": Rule(
        {"supervisor"}, kwargs=lambda s: {"pk": s["session"].cashier_id}
    ),
    "audit:help": Rule(EVERYONE, data={"page": "/cashiering/"}),
    "audit:help-role": Rule(EVERYONE, kwargs=lambda s: {"role": "cashier"}),
}
