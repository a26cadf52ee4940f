"""The exceptions dashboard's checks: one small function per kind of problem left for the
technician or the supervisor, each returning how many there are, since when the oldest
has waited, the page that fixes them and the first items.

`CHECKS` is the registry the dashboard reads, in order. Another app adds a kind of its own
(for example the subsystems' error items) with `register(Check(...))` from its AppConfig's
`ready()`; its function takes an `ExceptionsContext` and returns a `Line`.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Any

from django.conf import settings
from django.db.models import Count, Q, Sum
from django.urls import reverse
from django.utils import timezone

from cashiering.models import BusinessDay, CashierSession, RefundRequest
from cashiering.selectors.balancing import day_flags, session_label
from cashiering.selectors.returns import unmatched_returned_items
from kent_cs.models import Job
from ledger.models import GLAccount
from ledger.selectors_bank import unmatched_bank_lines_booked_before
from licensing.import_files import refused_rows_filename
from licensing.models import Application, LicenseImport

# Items listed per line on the exceptions page (the count is always the full number).
ITEM_LIMIT = 25

# Who sees the dashboard: those who watch every drawer (technician and supervisor).
PERMISSION = "cashiering.view_all_sessions"


@dataclass(frozen=True)
class Item:
    label: str
    since: date | datetime
    url: str = ""
    detail: str = ""


@dataclass(frozen=True)
class Line:
    key: str
    title: str
    count: int
    oldest: date | datetime | None
    url: str
    link_text: str
    items: list[Item] = field(default_factory=list)

    @property
    def oldest_days(self) -> int | None:
        """Whole days the oldest item has waited (0 for today)."""
        if self.oldest is None:
            return None
        oldest = self.oldest
        if isinstance(oldest, datetime):
            oldest = timezone.localdate(oldest)
        return (timezone.localdate() - oldest).days


class ExceptionsContext:
    """One moment for every check of a request, and reads two checks share."""

    def __init__(self, *, user: Any, now: datetime | None = None) -> None:
        self.user = user
        self.now = now or timezone.now()
        self.today = timezone.localdate(self.now)

    @cached_property
    def session_flags(self) -> dict[str, list[CashierSession]]:
        return day_flags(self.today, now=self.now)


@dataclass(frozen=True)
class Check:
    key: str
    title: str
    run: Callable[[ExceptionsContext], Line]


CHECKS: list[Check] = []


def register(check: Check) -> None:
    """Add a kind of exception to the dashboard (once per key)."""
    if any(existing.key == check.key for existing in CHECKS):
        raise ValueError(f"An exceptions check named {check.key!r} is already registered.")
    CHECKS.append(check)


def _line(key: str, title: str, url: str, link_text: str, count: int, items: list[Item]) -> Line:
    oldest = min((item.since for item in items), default=None)
    return Line(key, title, count, oldest, url, link_text, items[:ITEM_LIMIT])


def drawers_open_after_day(ctx: ExceptionsContext) -> Line:
    """Drawer sessions still open after their business date."""
    sessions = ctx.session_flags["left_open"]
    items = [
        Item(
            session_label(s),
            s.business_date,
            reverse("cashiering:session-detail", args=[s.pk]),
            f"business date {s.business_date:%Y-%m-%d}",
        )
        for s in sessions
    ]
    return _line(
        "drawers_open",
        "Drawers still open after their day",
        reverse("cashiering:sessions") + "?status=open",
        "Drawer sessions",
        len(items),
        items,
    )


def business_days_not_closed(ctx: ExceptionsContext) -> Line:
    """Earlier business dates with live sessions that no supervisor has closed."""
    closed = BusinessDay.objects.filter(status=BusinessDay.Status.CLOSED).values("business_date")
    dates = list(
        CashierSession.objects.filter(business_date__lt=ctx.today, is_training=False)
        .exclude(business_date__in=closed)
        .values_list("business_date", flat=True)
        .annotate(sessions=Count("id"))
        .order_by("business_date")
    )
    items = [
        Item(
            f"{day:%A %B %-d, %Y}",
            day,
            reverse("cashiering:day-balancing", args=[day.isoformat()]),
        )
        for day in dates
    ]
    return _line(
        "days_not_closed",
        "Business days not closed",
        reverse("cashiering:balancing"),
        "Daily balancing",
        len(items),
        items,
    )


def money_undeposited(ctx: ExceptionsContext) -> Line:
    """Closed sessions whose money is not in the bank within the counter policy's hours
    (24 by default, RCW 43.09.240): the daily balancing page's own flag."""
    sessions = ctx.session_flags["undeposited"]
    items = [
        Item(
            session_label(s),
            s.closed_at or s.opened_at,
            reverse("cashiering:session-detail", args=[s.pk]),
            f"business date {s.business_date:%Y-%m-%d}, {s.get_status_display().lower()}",
        )
        for s in sessions
    ]
    return _line(
        "undeposited",
        "Money undeposited past 24 hours",
        reverse("cashiering:deposit-prepare"),
        "Prepare a deposit",
        len(items),
        items,
    )


def clearing_accounts_not_zero(ctx: ExceptionsContext) -> Line:
    """Clearing accounts with a balance at the end of the latest closed business day (they
    are zero once each day's money is deposited)."""
    latest = (
        BusinessDay.objects.filter(status=BusinessDay.Status.CLOSED, business_date__lt=ctx.today)
        .order_by("-business_date")
        .values_list("business_date", flat=True)
        .first()
    )
    if latest is None:  # no day closed yet
        return _line("clearing", "Clearing accounts not at zero on a closed day", "", "", 0, [])
    through = Q(lines__entry__entry_date__lte=latest)
    accounts = (
        GLAccount.objects.filter(is_clearing=True)
        .select_related("fund")
        .annotate(
            debits=Sum("lines__debit", filter=through), credits=Sum("lines__credit", filter=through)
        )
        .order_by("fund__code", "code")
    )
    url = reverse("cashiering:day-balancing", args=[latest.isoformat()])
    items = []
    for account in accounts:
        balance = (account.debits or 0) - (account.credits or 0)
        if balance:
            items.append(
                Item(
                    f"{account.full_code} {account.name}",
                    latest,
                    url,
                    f"{balance:,.2f} at the end of {latest:%Y-%m-%d}",
                )
            )
    return _line(
        "clearing",
        "Clearing accounts not at zero on a closed day",
        url,
        f"Balancing of {latest:%Y-%m-%d}",
        len(items),
        items,
    )


def bank_lines_unmatched(ctx: ExceptionsContext) -> Line:
    """Bank statement lines in no match, booked more than N days ago (setting)."""
    days = settings.EXCEPTIONS_BANK_UNMATCHED_DAYS
    lines = unmatched_bank_lines_booked_before(day=ctx.today - timedelta(days=days))
    count = lines.count()
    items = [
        Item(
            f"{line.bank_account.name}: {line.amount:,.2f} {line.description}".strip(),
            line.booked_date,
            reverse("ledger:bank-reconcile", args=[line.bank_account_id]),
            f"booked {line.booked_date:%Y-%m-%d}",
        )
        for line in (lines[:ITEM_LIMIT] if count else [])
    ]
    oldest = items[0].since if items else None
    return Line(
        "bank_unmatched",
        f"Bank lines unmatched after {days} days",
        count,
        oldest,
        reverse("ledger:bank-accounts"),
        "Bank reconciliation",
        items,
    )


def returned_checks_waiting(ctx: ExceptionsContext) -> Line:
    """Returned-item bank lines not yet processed as a returned check nor dismissed."""
    items = [
        Item(
            f"{line.amount:,.2f} {line.description}".strip(),
            line.booked_date,
            reverse("cashiering:returned-checks"),
            f"{line.bank_account.name}, booked {line.booked_date:%Y-%m-%d}",
        )
        for line in unmatched_returned_items()
    ]
    return _line(
        "returned_checks",
        "Returned checks waiting",
        reverse("cashiering:returned-checks"),
        "Returned checks",
        len(items),
        items,
    )


REFUND_WAITING = {
    RefundRequest.Status.REQUESTED: "to verify",
    RefundRequest.Status.VERIFIED: "to approve",
    RefundRequest.Status.APPROVED: "to send to accounts payable",
}


def refunds_waiting(ctx: ExceptionsContext) -> Line:
    """Refund requests not yet verified, approved or sent to accounts payable."""
    refunds = RefundRequest.objects.filter(status__in=list(REFUND_WAITING)).order_by(
        "requested_at", "pk"
    )
    count = refunds.count()
    items = [
        Item(
            f"Refund {r.number}: {r.amount:,.2f} to {r.payee_name}",
            r.requested_at,
            reverse("cashiering:refund-detail", args=[r.pk]),
            REFUND_WAITING[RefundRequest.Status(r.status)],
        )
        for r in (refunds[:ITEM_LIMIT] if count else [])
    ]
    return Line(
        "refunds",
        "Refunds waiting",
        count,
        items[0].since if items else None,
        reverse("cashiering:refunds"),
        "Refunds",
        items,
    )


def imports_refused(ctx: ExceptionsContext) -> Line:
    """License imports of the last days that refused lines, until the corrected refused
    lines (the file the import hands back, under its name) are imported. Utility, AR and
    bank files are refused whole and leave no record to follow up."""
    since = ctx.now - timedelta(days=settings.EXCEPTIONS_RECENT_DAYS)
    refused = list(
        LicenseImport.objects.filter(refused_count__gt=0, created_at__gte=since).order_by(
            "created_at", "pk"
        )
    )
    later: dict[str, datetime] = {}
    if refused:
        for name, at in LicenseImport.objects.filter(
            created_at__gte=refused[0].created_at
        ).values_list("file_name", "created_at"):
            later[name] = max(at, later.get(name, at))
    items = [
        Item(
            f"{record.file_name}: {record.refused_count} "
            f"line{'' if record.refused_count == 1 else 's'} refused",
            record.created_at,
            reverse("licensing:license-import-refused-csv", args=[record.pk]),
            "download the refused lines, correct them and import that file",
        )
        for record in refused
        if later.get(refused_rows_filename(record), record.created_at) <= record.created_at
    ]
    return _line(
        "imports_refused",
        "Imports with refused lines",
        reverse("licensing:license-import"),
        "Import license records",
        len(items),
        items,
    )


def _job_item(ctx: ExceptionsContext, job: Job, since: datetime, detail: str) -> Item:
    may_open = job.created_by_id == ctx.user.pk or ctx.user.has_perm("kent_cs.view_all_jobs")
    url = reverse("job-detail", args=[job.pk]) if may_open else ""
    return Item(job.title, since, url, detail)


def jobs_failed(ctx: ExceptionsContext) -> Line:
    """Background jobs that failed in the last days, unless a later job of the same kind
    and parameters has finished since."""
    since = ctx.now - timedelta(days=settings.EXCEPTIONS_RECENT_DAYS)
    failed = list(
        Job.objects.filter(status=Job.Status.FAILED, finished_at__gte=since)
        .defer("result_data")
        .order_by("finished_at", "pk")
    )
    done: dict[str, list[tuple[Any, datetime]]] = {}
    if failed:
        for kind, params, at in Job.objects.filter(
            status=Job.Status.SUCCEEDED,
            kind__in={job.kind for job in failed},
            finished_at__gte=failed[0].finished_at,
        ).values_list("kind", "params", "finished_at"):
            if at is not None:
                done.setdefault(kind, []).append((params, at))
    items = [
        _job_item(ctx, job, job.finished_at or job.created_at, job.message or "failed")
        for job in failed
        if not any(
            params == job.params and at > (job.finished_at or job.created_at)
            for params, at in done.get(job.kind, [])
        )
    ]
    return _line(
        "jobs_failed",
        "Background jobs failed",
        items[0].url if items and items[0].url else "",
        "The oldest job",
        len(items),
        items,
    )


def jobs_stuck(ctx: ExceptionsContext) -> Line:
    """Running jobs with no progress reported for more than N minutes (setting)."""
    minutes = settings.EXCEPTIONS_JOB_STUCK_MINUTES
    jobs = list(
        Job.objects.filter(status=Job.Status.RUNNING)
        .filter(
            Q(progressed_at__lt=ctx.now - timedelta(minutes=minutes))
            | Q(progressed_at__isnull=True, started_at__lt=ctx.now - timedelta(minutes=minutes))
        )
        .defer("result_data")
        .order_by("started_at", "pk")
    )
    items = [
        _job_item(
            ctx,
            job,
            job.progressed_at or job.started_at or job.created_at,
            f"{job.progress_done} of {job.progress_total}, no progress for over {minutes} minutes",
        )
        for job in jobs
    ]
    return _line(
        "jobs_stuck",
        "Background jobs stuck",
        items[0].url if items and items[0].url else "",
        "The oldest job",
        len(items),
        items,
    )


def licenses_past_deadline(ctx: ExceptionsContext) -> Line:
    """Applications still in review longer than the processing time (setting)."""
    days = settings.LICENSE_PROCESSING_DAYS
    applications = (
        Application.objects.filter(
            status=Application.Status.IN_REVIEW,
            received_on__lt=ctx.today - timedelta(days=days),
        )
        .select_related("business", "license_type")
        .order_by("received_on", "number")
    )
    count = applications.count()
    items = [
        Item(
            f"Application {a.number}: {a.business.legal_name}, {a.license_type.name}",
            a.received_on,
            reverse("licensing:application-detail", args=[a.pk]),
            f"received {a.received_on:%Y-%m-%d}, "
            f"due {a.received_on + timedelta(days=days):%Y-%m-%d}",
        )
        for a in (applications[:ITEM_LIMIT] if count else [])
    ]
    return Line(
        "licenses_late",
        f"License applications in review over {days} days",
        count,
        items[0].since if items else None,
        reverse("licensing:application-list"),
        "Applications in review",
        items,
    )


for _check in (
    Check("drawers_open", "Drawers still open after their day", drawers_open_after_day),
    Check("days_not_closed", "Business days not closed", business_days_not_closed),
    Check("undeposited", "Money undeposited past 24 hours", money_undeposited),
    Check("clearing", "Clearing accounts not at zero", clearing_accounts_not_zero),
    Check("bank_unmatched", "Bank lines unmatched", bank_lines_unmatched),
    Check("returned_checks", "Returned checks waiting", returned_checks_waiting),
    Check("refunds", "Refunds waiting", refunds_waiting),
    Check("imports_refused", "Imports with refused lines", imports_refused),
    Check("jobs_failed", "Background jobs failed", jobs_failed),
    Check("jobs_stuck", "Background jobs stuck", jobs_stuck),
    Check("licenses_late", "License applications past their deadline", licenses_past_deadline),
):
    register(_check)


@dataclass(frozen=True)
class Summary:
    lines: list[Line]

    @property
    def total(self) -> int:
        return sum(line.count for line in self.lines)

    @property
    def open_lines(self) -> list[Line]:
        return [line for line in self.lines if line.count]


def exceptions_summary(*, user: Any, now: datetime | None = None) -> Summary:
    """Every registered check, for a user who may see the dashboard (about one or two
    queries per check, whatever the number of items)."""
    ctx = ExceptionsContext(user=user, now=now)
    return Summary([check.run(ctx) for check in CHECKS])


def may_see_exceptions(user: Any) -> bool:
    return bool(user.is_authenticated and user.has_perm(PERMISSION))
