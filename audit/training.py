"""The training course per role: its exercises, the check of each one against the
database, and the attempts and completions they write.

Every exercise runs in training mode (a training drawer session: receipts numbered T-…,
no journal entry, no payment applied to its target, never deposited or reported). A check
looks only at work the staff member did since starting the exercise, and only at training
records: a live receipt never completes an exercise, and nothing passes without the work.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Prefetch, Q
from django.shortcuts import get_object_or_404

from audit.models import TrainingAttempt, TrainingCompletion
from cashiering.models import CorrectionRequest, Receipt, ReceiptLine, SessionCount, TenderType
from kent_cs.roles import Role
from licensing.models import LicenseInvoice
from licensing.services.invoice_index import TARGET_KIND as LICENSE_KIND

Check = Callable[..., str | None]


@dataclass(frozen=True)
class Step:
    text: str
    url_name: str = ""  # the page to do it on
    url_label: str = ""
    url_query: str = ""


@dataclass(frozen=True)
class Exercise:
    code: str
    title: str
    goal: str
    steps: tuple[Step, ...]
    check: Check | None = None
    # Why the system cannot check this exercise in training mode (when check is None).
    not_checked: str = ""

    @property
    def is_checked(self) -> bool:
        return self.check is not None


@dataclass(frozen=True)
class Course:
    role: str  # the slug used in URLs and the guide: cashier, technician, supervisor
    title: str
    group: Role
    exercises: tuple[Exercise, ...] = field(default=())

    @property
    def checked(self) -> tuple[Exercise, ...]:
        return tuple(e for e in self.exercises if e.is_checked)

    def exercise(self, code: str) -> Exercise | None:
        return next((e for e in self.exercises if e.code == code), None)


# ---- checks: each returns what it saw, or None when the work is not done yet ----------


def _cash_payment_with_change(*, user, since: datetime) -> str | None:
    receipt = (
        Receipt.objects.filter(
            is_training=True,
            posted_by=user,
            posted_at__gte=since,
            reverses__isnull=True,
            change_given__gt=0,
            tenders__tender_type__kind=TenderType.Kind.CASH,
        )
        .order_by("posted_at", "pk")
        .first()
    )
    if receipt is None:
        return None
    return (
        f"Training receipt {receipt}: total ${receipt.total:,.2f}, tendered "
        f"${receipt.tendered:,.2f} with cash, change given ${receipt.change_given:,.2f}."
    )


def _void_with_approval(*, user, since: datetime) -> str | None:
    request = (
        CorrectionRequest.objects.filter(
            kind=CorrectionRequest.Kind.VOID,
            status=CorrectionRequest.Status.APPROVED,
            requested_by=user,
            receipt__is_training=True,
            receipt__status=Receipt.Status.VOIDED,
            requested_at__gte=since,
        )
        .exclude(decided_by=user)
        .select_related("receipt", "decided_by")
        .order_by("decided_at", "pk")
        .first()
    )
    if request is None:
        return None
    assert request.decided_by is not None  # approved requests name their approver
    return (
        f"Training receipt {request.receipt} voided: requested for “{request.reason}”, "
        f"approved by {request.decided_by.get_username()}."
    )


def _approve_void(*, user, since: datetime) -> str | None:
    request = (
        CorrectionRequest.objects.filter(
            kind=CorrectionRequest.Kind.VOID,
            status=CorrectionRequest.Status.APPROVED,
            decided_by=user,
            receipt__is_training=True,
            decided_at__gte=since,
        )
        .exclude(requested_by=user)
        .select_related("receipt", "requested_by")
        .order_by("decided_at", "pk")
        .first()
    )
    if request is None:
        return None
    return (
        f"Approved the void of training receipt {request.receipt}, requested by "
        f"{request.requested_by.get_username()}."
    )


def _blind_close(*, user, since: datetime) -> str | None:
    count = (
        SessionCount.objects.filter(
            session__is_training=True,
            session__cashier=user,
            counted_by=user,
            counted_at__gte=since,
        )
        .select_related("session__drawer")
        .order_by("counted_at", "pk")
        .first()
    )
    if count is None:
        return None
    return (
        f"Training session on drawer {count.session.drawer.code} blind-closed: "
        f"over/short ${count.over_short:,.2f} ({count.get_status_display().lower()})."
    )


def _renew_license(*, user, since: datetime) -> str | None:
    renewals = LicenseInvoice.objects.filter(kind=LicenseInvoice.Kind.RENEWAL).values("number")
    line = (
        ReceiptLine.objects.filter(
            receipt__is_training=True,
            receipt__posted_by=user,
            receipt__posted_at__gte=since,
            receipt__reverses__isnull=True,
            target_kind=LICENSE_KIND,
            target_ref__in=renewals,
        )
        .select_related("receipt")
        .order_by("receipt__posted_at", "receipt_id", "line_no")
        .first()
    )
    if line is None:
        return None
    return (
        f"Training receipt {line.receipt} paid ${line.amount:,.2f} on renewal invoice "
        f"{line.target_ref} ({line.description})."
    )


# ---- the exercises -------------------------------------------------------------------

OPEN_TRAINING = Step(
    "Open a training session: choose a free drawer, count the float, and tick "
    "“Training session”. Every receipt in it is numbered T-… and never reaches the ledger.",
    "cashiering:session-open",
    "Open a training drawer",
    "?training=1",
)

CASH_PAYMENT = Exercise(
    code="cash-payment",
    title="Take a cash payment with change",
    goal="Post a training receipt paid in cash where the payer hands over more than is owed.",
    steps=(
        OPEN_TRAINING,
        Step(
            "Find a utility account or a counter fee, add it to the receipt, and enter a cash "
            "tender larger than the total (for $37.50 owed, $40.00 tendered).",
            "cashiering:my-session",
            "My drawer",
        ),
        Step("Check that the change shown is right, then post the payment."),
    ),
    check=_cash_payment_with_change,
)

VOID_WITH_APPROVAL = Exercise(
    code="void-with-approval",
    title="Void a receipt with a supervisor's approval",
    goal="Request the void of a training receipt and have a supervisor approve it.",
    steps=(
        OPEN_TRAINING,
        Step("Post a training receipt.", "cashiering:my-session", "My drawer"),
        Step(
            "Open the receipt, choose “Request void” and give the reason (for example "
            "“Keyed the wrong account”)."
        ),
        Step(
            "Ask a supervisor to approve it under Counter → Voids and reversals. The receipt "
            "then shows as Void."
        ),
    ),
    check=_void_with_approval,
)

APPROVE_VOID = Exercise(
    code="approve-void",
    title="Approve a void",
    goal="Approve a cashier's void request on a training receipt (never your own request).",
    steps=(
        Step("Ask a cashier doing the void exercise to request the void of a training receipt."),
        Step(
            "Open Voids and reversals, read the reason and approve the void.",
            "cashiering:corrections",
            "Voids and reversals",
        ),
    ),
    check=_approve_void,
)

BLIND_CLOSE = Exercise(
    code="blind-close",
    title="Blind close a drawer",
    goal="Close a training session with a blind count of cash, checks and card settlement.",
    steps=(
        OPEN_TRAINING,
        Step("Post one or two training receipts.", "cashiering:my-session", "My drawer"),
        Step(
            "Choose “Close session and count drawer”: count the cash by denomination, list "
            "the checks and enter the card terminal's settlement without seeing what was "
            "expected."
        ),
        Step("Read the over/short shown after the count."),
    ),
    check=_blind_close,
)

RENEW_LICENSE = Exercise(
    code="renew-license",
    title="Take a license renewal payment",
    goal="Take payment of a business license renewal invoice in a training session.",
    steps=(
        OPEN_TRAINING,
        Step(
            "In the counter's search box type the business name or the renewal invoice "
            "number (L-…) and add the invoice; the components (license fee, fire inspection, "
            "technology fee, any penalty) are filled in.",
            "cashiering:my-session",
            "My drawer",
        ),
        Step(
            "Take the payment and post it. In training mode the invoice stays unpaid and the "
            "license is not renewed: the receipt shows what a live payment would do."
        ),
    ),
    check=_renew_license,
)

BUILD_DEPOSIT = Exercise(
    code="build-deposit",
    title="Build a deposit",
    goal="Choose balanced sessions, check the deposit's cash and check totals, print the slip.",
    steps=(
        Step("Open Deposits and choose the balanced sessions.", "cashiering:deposits", "Deposits"),
        Step("Compare the cash and check totals with the bag, then prepare the deposit."),
        Step("Print the deposit slip."),
    ),
    not_checked=(
        "A deposit takes only live, balanced sessions and posts Dr bank, Cr undeposited "
        "cash: training sessions are never deposited, so there is no training deposit for "
        "the system to check. Walk through it with a technician on a real deposit."
    ),
)

RETURNED_CHECK = Exercise(
    code="returned-check",
    title="Process a returned check",
    goal="Record a check the bank returned: reverse the payment, charge the NSF fee.",
    steps=(
        Step(
            "Open Returned checks and find the check by number, receipt or amount.",
            "cashiering:returned-checks",
            "Returned checks",
        ),
        Step("Choose the reason, the date returned and whether to charge the NSF fee."),
    ),
    not_checked=(
        "Returned-check processing reverses a deposited live check in the ledger and on "
        "its target; training receipts took no real money and are refused by it, so the "
        "system cannot check this exercise in training mode."
    ),
)

COURSES: tuple[Course, ...] = (
    Course(
        role="cashier",
        title="Cashier course",
        group=Role.CASHIER,
        exercises=(CASH_PAYMENT, VOID_WITH_APPROVAL, BLIND_CLOSE, RENEW_LICENSE),
    ),
    Course(
        role="technician",
        title="Accounting technician course",
        group=Role.TECHNICIAN,
        exercises=(CASH_PAYMENT, BLIND_CLOSE, RENEW_LICENSE, BUILD_DEPOSIT, RETURNED_CHECK),
    ),
    Course(
        role="supervisor",
        title="Supervisor course",
        group=Role.SUPERVISOR,
        exercises=(APPROVE_VOID, BUILD_DEPOSIT, RETURNED_CHECK),
    ),
)
COURSE_BY_GROUP = {str(course.group): course for course in COURSES}


def courses_for(user) -> list[Course]:
    """The courses of the user's roles (a user may hold more than one role)."""
    if not user.is_authenticated:
        return []
    names = {group.name for group in user.groups.all()}
    return [course for course in COURSES if str(course.group) in names]


def exercise_for(user, code: str) -> Exercise | None:
    """The exercise if it is in one of the user's courses, else None."""
    for course in courses_for(user):
        found = course.exercise(code)
        if found is not None:
            return found
    return None


# ---- writes --------------------------------------------------------------------------


class TrainingError(Exception):
    pass


def training_start(*, user, exercise: Exercise) -> TrainingAttempt:
    if not exercise.is_checked:
        raise TrainingError(f"“{exercise.title}” is not checked by the system.")
    return TrainingAttempt.objects.create(user=user, exercise=exercise.code)


@dataclass(frozen=True)
class CheckResult:
    passed: bool
    message: str
    completion: TrainingCompletion | None = None


def training_check(*, user, exercise: Exercise) -> CheckResult:
    """Look for the exercise's work since the latest attempt; record the completion once."""
    assert exercise.check is not None
    done = TrainingCompletion.objects.filter(user=user, exercise=exercise.code).first()
    if done is not None:
        return CheckResult(True, f"Already completed: {done.evidence}", done)
    attempt = (
        TrainingAttempt.objects.filter(user=user, exercise=exercise.code)
        .order_by("-started_at", "-pk")
        .first()
    )
    if attempt is None:
        return CheckResult(False, "Start the exercise first: only work done after it counts.")
    evidence = exercise.check(user=user, since=attempt.started_at)
    if evidence is None:
        return CheckResult(
            False,
            "Not done yet: the system found no training work for this exercise since you "
            f"started it ({attempt.started_at:%b %-d, %Y %-I:%M %p}). Follow the steps, in a "
            "training session, and check again.",
        )
    try:
        # The race: two clicks of "Check my work" at once; the unique constraint keeps one.
        with transaction.atomic():
            completion = TrainingCompletion.objects.create(
                user=user, exercise=exercise.code, attempt=attempt, evidence=evidence[:300]
            )
    except IntegrityError:
        completion = TrainingCompletion.objects.get(user=user, exercise=exercise.code)
    return CheckResult(True, f"Completed. {completion.evidence}", completion)


# ---- reads ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ExerciseProgress:
    exercise: Exercise
    started_at: datetime | None
    completion: TrainingCompletion | None


def progress_for(user, course: Course) -> list[ExerciseProgress]:
    completions = {
        c.exercise: c for c in TrainingCompletion.objects.filter(user=user).order_by("pk")
    }
    started: dict[str, datetime] = {}
    for code, at in TrainingAttempt.objects.filter(user=user).values_list("exercise", "started_at"):
        started[code] = max(at, started.get(code, at))
    return [
        ExerciseProgress(e, started.get(e.code), completions.get(e.code)) for e in course.exercises
    ]


@dataclass(frozen=True)
class StaffProgress:
    user: object
    course: Course
    completed: int
    last_completed_at: datetime | None

    @property
    def total(self) -> int:
        return len(self.course.checked)


def staff_progress() -> list[StaffProgress]:
    """Every active staff member holding a role with a course, per course: two queries."""
    User = get_user_model()
    groups = [str(course.group) for course in COURSES]
    users = (
        User.objects.filter(is_active=True, groups__name__in=groups)
        .distinct()
        .order_by("username")
        .prefetch_related(
            "groups",
            Prefetch("training_completions", queryset=TrainingCompletion.objects.order_by("pk")),
        )
    )
    rows = []
    for user in users:
        done = {c.exercise: c.completed_at for c in user.training_completions.all()}
        for course in courses_for(user):
            times = [done[e.code] for e in course.checked if e.code in done]
            rows.append(StaffProgress(user, course, len(times), max(times, default=None)))
    return rows


def staff_member_get(*, pk: int):
    """A staff member who holds a role with a course, or 404."""
    User = get_user_model()
    groups = [str(course.group) for course in COURSES]
    return get_object_or_404(
        User.objects.filter(Q(groups__name__in=groups)).distinct().prefetch_related("groups"),
        pk=pk,
    )
