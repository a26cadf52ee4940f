"""Demo balancing history: every past drawer blind-closed and balanced, a deposit per
business day, business days closed, monthly bank statements imported and matched, one
returned check and one refund request. Deterministic and idempotent.

Everything goes through the services the pages use (closing, deposits, bank import and
matching, returned checks, refunds), attributed to the demo users in an audit context,
so the demo's history reads like the real thing. The latest two business days are left
for the technician: the day before yesterday counted and balanced but not deposited,
yesterday counted with one over/short waiting for the supervisor.
"""

import re
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal

import pgtrigger
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.utils import timezone

from cashiering.denominations import pieces_for
from cashiering.models import (
    CashierSession,
    Deposit,
    RefundRequest,
    ReturnedCheck,
    SessionCount,
    Tender,
    TenderType,
    UtilityAccount,
)
from cashiering.selectors.balancing import session_expected
from cashiering.selectors.deposits import default_bank_account
from cashiering.services.closing import (
    CheckInput,
    business_day_close,
    over_short_approve,
    session_balance,
    session_blind_close,
)
from cashiering.services.deposits import deposit_prepare
from cashiering.services.refunds import refund_request_create
from cashiering.services.returns import returned_check_process
from kent_cs.audit import audit_actor
from kent_cs.money import ZERO
from ledger.models import BankAccount, BankTransaction
from ledger.services_bank import bank_statement_import
from ledger.services_bank_matching import bank_auto_match

SOURCE = "demo data"
NAMESPACE = uuid.UUID("6b1f3c52-6a43-4d0e-9a55-0c9d1f6e2b7a")
# The latest business days left unfinished for the technician and the supervisor.
LEFT_FOR_TODAY = 2
# Cash over/shorts: (business days back from the last closed day, drawer index, amount,
# supervisor's explanation when above the threshold).
OVER_SHORTS = [
    (3, 0, "-0.25", ""),
    (9, 1, "1.00", ""),
    (17, 0, "-2.35", ""),
    (26, 1, "0.50", ""),
    (40, 0, "-4.00", ""),
    (55, 1, "-0.10", ""),
    (
        12,
        1,
        "-20.00",
        "Change for a $50 bill was counted out as for a $20; the customer could not be "
        "reached. Cashier reminded to lay large bills on the drawer until the change is given.",
    ),
    (
        33,
        0,
        "10.00",
        "Customer left $10 at the window without waiting for change; held as over until claimed.",
    ),
]
# A check deposited this long before the last statement day comes back.
RETURN_LOOKBACK_DAYS = 14
PENDING_SHORT = Decimal("-15.00")
PENDING_NOTE = "Short $15.00 after two recounts; the float was counted correctly this morning."
DEPOSIT_PIECES = ("100.00", "50.00", "20.00", "10.00", "5.00", "1.00", "0.25", "0.10", "0.05")
OPENING_BANK_BALANCE = 1_250_000_00  # cents
# How the bank describes each kind of deposit (BAI2 type code, text).
BANK_CREDITS: dict[str, tuple[str, str]] = {
    Deposit.Kind.CASH_CHECK: ("301", "COUNTER DEPOSIT"),
    Deposit.Kind.CARD: ("165", "MERCHANT CARD SETTLEMENT"),
    Deposit.Kind.ACH: ("165", "ACH SETTLEMENT"),
}
BANK_FEES = [
    ("ACCOUNT ANALYSIS FEE", Decimal("48.50")),
    ("CURRENCY DEPOSIT PROCESSING FEE", Decimal("12.00")),
]
# A minimal one-page PDF: the refund request's supporting document.
REFUND_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


def _pieces(amount: Decimal, keys: tuple[str, ...] = DEPOSIT_PIECES) -> dict[str, int]:
    return pieces_for(amount, (*keys, "0.01"))


def _next_weekday(day: date) -> date:
    day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


@contextmanager
def _as(user, reason: str | None = None) -> Iterator[None]:
    with audit_actor(user, source=SOURCE, reason=reason):
        yield


def seed_balancing(stdout, *, days: int | None = None, today: date | None = None) -> None:
    """Balance, deposit and close the past business days (the latest `days` of them, or
    all), then import and match the bank statements. Adds nothing if counts exist."""
    if SessionCount.objects.exists() or Deposit.objects.exists():
        return
    users = {
        u.username: u
        for u in get_user_model().objects.filter(username__in=["technician", "supervisor"])
    }
    if len(users) < 2:
        return
    technician, supervisor = users["technician"], users["supervisor"]
    today = today or timezone.localdate()
    dates = sorted(
        set(
            CashierSession.objects.filter(
                business_date__lt=today,
                is_training=False,
                status=CashierSession.Status.CLOSED,
            ).values_list("business_date", flat=True)
        )
    )
    if days is not None:
        dates = dates[-days:]
    if len(dates) <= LEFT_FOR_TODAY:
        return
    done, left = dates[:-LEFT_FOR_TODAY], dates[-LEFT_FOR_TODAY:]
    plan = {
        (done[-1 - back], drawer): (Decimal(amount), explanation)
        for back, drawer, amount, explanation in OVER_SHORTS
        if back < len(done)
    }
    with transaction.atomic():
        for day in done:
            sessions = _count_day(day, plan, supervisor)
            with _as(technician, "Drawers balanced"):
                for session in sessions:
                    session_balance(session=session, user=technician)
            with _as(technician, "Deposit prepared"):
                _deposit_day(day, sessions, technician)
            with _as(supervisor):
                business_day_close(business_date=day, user=supervisor)
        # The day before yesterday: counted and balanced, not yet deposited.
        with _as(technician, "Drawers balanced"):
            for session in _count_day(left[0], {}, supervisor):
                session_balance(session=session, user=technician)
        # Yesterday: counted; one drawer short above the threshold, waiting for approval.
        _count_day(left[1], _pending_short_plan(left[1]), supervisor)
        stdout.write(
            f"  cashiering: {len(done)} business days balanced, deposited and closed "
            f"({Deposit.objects.count()} deposits); {len(left)} left open for the technician"
        )
        statements, matched = _bank_statements(done, technician, today, left[0])
        stdout.write(f"  ledger: {statements} bank statements imported, {matched} lines matched")
        _refund_request(technician)
        times_as_worked(today)


def _closed_sessions(day: date) -> list[CashierSession]:
    return list(
        CashierSession.objects.filter(
            business_date=day, is_training=False, status=CashierSession.Status.CLOSED
        )
        .select_related("drawer", "cashier")
        .order_by("drawer__code")
    )


def _pending_short_plan(day: date) -> dict:
    """The shortage left for the supervisor: on the drawer that took the most cash, so
    that its deposit (cash counted less the float) is never negative."""
    taken = [session_expected(s).cash - s.opening_float for s in _closed_sessions(day)]
    if not taken:
        return {}
    index = max(range(len(taken)), key=taken.__getitem__)
    return {(day, index): (max(PENDING_SHORT, -taken[index]), "")}


def _count_day(day: date, plan: dict, supervisor) -> list[CashierSession]:
    """Each drawer of `day` blind-closed by its cashier; counts equal to expected except
    the planned cash over/shorts; those above the threshold approved when explained."""
    sessions = _closed_sessions(day)
    for index, session in enumerate(sessions):
        delta, explanation = plan.get((day, index), (ZERO, ""))
        expected = session_expected(session)
        if expected.cash - session.opening_float + delta < 0:
            delta = ZERO  # too little cash taken to lose any
        checks = [
            CheckInput(t.check_number or t.reference, t.amount)
            for t in Tender.objects.filter(
                receipt__session=session,
                receipt__status="posted",
                tender_type__kind__in=[TenderType.Kind.CHECK, TenderType.Kind.MONEY_ORDER],
            ).order_by("pk")
        ]
        note = PENDING_NOTE if delta and not explanation else ""
        with _as(session.cashier, "Drawer counted"):
            count = session_blind_close(
                session=session,
                cash_count=_pieces(
                    expected.cash + delta,
                    ("20.00", "10.00", "5.00", "1.00", "0.25", "0.10", "0.05"),
                ),
                checks=checks,
                card_settlement=expected.cards,
                note=note,
                user=session.cashier,
            )
        if count.status == SessionCount.Status.PENDING and explanation:
            with _as(supervisor):
                over_short_approve(count=count, explanation=explanation, user=supervisor)
    return sessions


def _deposit_day(day: date, sessions: list[CashierSession], technician) -> None:
    counts = {c.session_id: c for c in SessionCount.objects.filter(session__in=sessions)}
    cash = ZERO
    for session in sessions:
        counted = sum(
            (Decimal(key) * pieces for key, pieces in counts[session.pk].cash_count.items()),
            ZERO,
        )
        cash += counted - session.opening_float
    deposit_prepare(
        sessions=sessions,
        currency_count=_pieces(cash),
        idempotency_key=uuid.uuid5(NAMESPACE, f"deposit {day}"),
        user=technician,
        deposit_date=day,
    )


# --- bank statements ------------------------------------------------------------------


def _bai2_month(
    *, account: BankAccount, groups: dict[date, list[tuple]], opening: int, file_id: str
) -> tuple[bytes, int]:
    """A BAI2 file with a group per bank day; lines are (code, cents, bank ref, customer
    ref, text). Returns the file and the closing balance in cents."""
    out: list[str] = []
    file_total = 0
    last = max(groups)
    out.append(f"01,KENTBANK,CITYKENT,{_next_weekday(last):%y%m%d},0600,{file_id},80,,2/")
    balance = opening
    for day in sorted(groups):
        lines = groups[day]
        credits = sum(c for code, c, *_ in lines if int(code) < 400)
        debits = sum(c for code, c, *_ in lines if int(code) >= 400)
        closing = balance + credits - debits
        records = [
            f"03,{account.number},USD,010,{balance},,,015,{closing},,/",
            f"88,100,{credits},{sum(int(c) < 400 for c, *_ in lines)},,"
            f"400,{debits},{sum(int(c) >= 400 for c, *_ in lines)},/",
        ]
        records += [
            f"16,{code},{cents},0,{ref},{cref},{text}/" for code, cents, ref, cref, text in lines
        ]
        account_total = balance + closing + credits + debits + credits + debits
        count = len(records) + 1
        out.append(f"02,CITYKENT,KENTBANK,1,{day:%y%m%d},2400,USD,2/")
        out += records
        out.append(f"49,{account_total},{count}/")
        out.append(f"98,{account_total},1,{count + 2}/")
        file_total += account_total
        balance = closing
    out.append(f"99,{file_total},{len(groups)},{len(out) + 1}/")
    return ("\n".join(out) + "\n").encode("ascii"), balance


def _bank_statements(
    done: list[date], technician, today: date, return_day: date
) -> tuple[int, int]:
    """Monthly BAI2 statements through the last closed day: each deposit credited the
    next bank day with its number as the customer reference; in the last month two fees
    and one returned check. The last closed day's deposits are still in transit."""
    account = default_bank_account()
    if account is None or not done:
        return 0, 0
    end = done[-1]
    lines: dict[date, list[tuple]] = defaultdict(list)
    ref = 0
    for deposit in Deposit.objects.filter(bank_account=account).order_by("number"):
        credited = _next_weekday(deposit.deposit_date)
        if credited > end:
            continue
        ref += 1
        code, text = BANK_CREDITS[deposit.kind]
        lines[credited].append(
            (code, int(deposit.total * 100), f"{ref:010d}", str(deposit.number), text)
        )
    returned = _returned_check_tender(end)
    returned_day = None
    if returned is not None:
        # The bank returns it on a day still open: nothing posts into a closed day.
        tender, returned_day = returned[0], return_day
        ref += 1
        lines[returned_day].append(
            (
                "555",
                int(tender.amount * 100),
                f"{ref:010d}",
                tender.check_number,
                f"DEPOSITED ITEM RETURNED NSF CHECK {tender.check_number}",
            )
        )
    fee_days = sorted(d for d in lines if d >= end - timedelta(days=30))
    for (text, amount), day in zip(BANK_FEES, fee_days[2::7], strict=False):
        ref += 1
        lines[day].append(("698", int(amount * 100), f"{ref:010d}", "", text))

    months: dict[tuple[int, int], dict[date, list[tuple]]] = defaultdict(dict)
    for day, day_lines in lines.items():
        months[(day.year, day.month)][day] = day_lines
    balance = OPENING_BANK_BALANCE
    with _as(technician, "Bank statement imported"):
        for year, month in sorted(months):
            data, balance = _bai2_month(
                account=account,
                groups=months[(year, month)],
                opening=balance,
                file_id=f"{year % 100:02d}{month:02d}01",
            )
            bank_statement_import(
                source=ContentFile(data, name=f"kentbank-{year}-{month:02d}.bai2"),
                file_name=f"kentbank-{year}-{month:02d}.bai2",
                user=technician,
            )
    if returned is not None and returned_day is not None:
        tender, _day = returned
        line = BankTransaction.objects.get(
            bank_account=account, is_returned_item=True, customer_ref=tender.check_number
        )
        with _as(technician):
            returned_check_process(
                tender=tender,
                bank_transaction=line,
                reason=ReturnedCheck.Reason.NSF,
                returned_on=returned_day,
                user=technician,
                note="The bank returned the check for insufficient funds.",
            )
    with _as(technician, "Bank lines matched automatically"):
        matched = bank_auto_match(bank_account=account, user=technician)
    return len(months), matched


def _returned_check_tender(end: date) -> tuple[Tender, date] | None:
    """A check deposited about two weeks before `end` on a utility payment, and the
    bank day it came back (a week after it was credited)."""
    tender = (
        Tender.objects.filter(
            tender_type__kind=TenderType.Kind.CHECK,
            receipt__status="posted",
            receipt__session__status=CashierSession.Status.DEPOSITED,
            receipt__business_date__lte=end - timedelta(days=RETURN_LOOKBACK_DAYS),
            receipt__lines__target_kind="utility",
            amount__gte=Decimal("40.00"),
        )
        .select_related("receipt")
        .order_by("-receipt__business_date", "pk")
        .first()
    )
    if tender is None:
        return None
    day = _next_weekday(tender.receipt.business_date)
    for _ in range(5):
        day = _next_weekday(day)
    return (tender, day) if day <= end else None


def _refund_request(technician) -> None:
    """A refund of a utility credit, with the final bill attached, waiting for
    verification."""
    if RefundRequest.objects.exists():
        return
    account = UtilityAccount.objects.filter(balance__lt=-5).order_by("balance", "number").first()
    if account is None:
        return
    with _as(technician):
        refund_request_create(
            kind="utility",
            ref=account.number,
            payee_name=account.name,
            payee_address=account.service_address,
            amount=-account.balance,
            reason="Credit left after the final bill; the customer has moved out of Kent.",
            user=technician,
            documents=[ContentFile(REFUND_PDF, name="final-bill.pdf")],
        )


# --- times ----------------------------------------------------------------------------

# The demo is seeded in one sitting; these set the times a person working each business
# day would have left (drawers opened at 8, receipts through the day, the blind count
# after 5, the deposit and the day's close after it), so that no page reads "closed 5
# minutes ago" of a day weeks back. Triggers that keep posted rows unchanged are
# suspended for these statements only, and no history row is written for them.
_TIMES_SQL = [
    (
        ["cashiering.CashierSession:update_update"],
        """
        UPDATE cashiering_cashiersession s SET
            opened_at = (s.business_date + time '08:00') AT TIME ZONE %(tz)s
                + (s.drawer_id %% 5) * interval '4 minutes',
            closed_at = CASE WHEN s.closed_at IS NULL THEN NULL
                ELSE (s.business_date + time '17:02') AT TIME ZONE %(tz)s
                    + (s.drawer_id %% 5) * interval '3 minutes' END
        WHERE s.business_date < %(today)s
        """,
    ),
    (
        [
            "cashiering.Receipt:update_update",
            "cashiering.Receipt:receipt_posted_readonly",
            "cashiering.Receipt:receipt_business_day_open",
        ],
        """
        UPDATE cashiering_receipt r SET
            posted_at = s.opened_at + interval '21 minutes'
                + (n.position - 1) * (interval '8 hours' / greatest(n.total, 1))
        FROM cashiering_cashiersession s,
             (SELECT id, row_number() OVER (PARTITION BY session_id ORDER BY id) AS position,
                     count(*) OVER (PARTITION BY session_id) AS total
              FROM cashiering_receipt) n
        WHERE n.id = r.id AND s.id = r.session_id AND s.business_date < %(today)s
        """,
    ),
    (
        ["cashiering.SessionCount:update_update"],
        """
        UPDATE cashiering_sessioncount c SET
            counted_at = s.closed_at + interval '6 minutes',
            decided_at = CASE WHEN c.decided_at IS NULL THEN NULL
                ELSE s.closed_at + interval '40 minutes' END
        FROM cashiering_cashiersession s
        WHERE s.id = c.session_id AND s.business_date < %(today)s
        """,
    ),
    (
        ["cashiering.Deposit:append_only", "cashiering.Deposit:update_update"],
        """
        UPDATE cashiering_deposit d SET
            prepared_at = (d.deposit_date + time '17:35') AT TIME ZONE %(tz)s
        WHERE d.deposit_date < %(today)s
        """,
    ),
    (
        ["cashiering.BusinessDay:update_update"],
        """
        UPDATE cashiering_businessday b SET
            closed_at = CASE WHEN b.closed_at IS NULL THEN NULL
                ELSE (b.business_date + time '17:50') AT TIME ZONE %(tz)s END
        WHERE b.business_date < %(today)s
        """,
    ),
]


def times_as_worked(today: date) -> None:
    """Set the demo's past drawers, receipts, counts, deposits and day closes at the times
    of their business dates (the city's time zone)."""
    zone = timezone.get_current_timezone_name()
    with transaction.atomic(), connection.cursor() as cursor:
        for triggers, sql in _TIMES_SQL:
            # Positional parameters: pgtrigger.ignore puts its own before the statement.
            params = [zone if name == "tz" else today for name in _placeholders(sql)]
            with pgtrigger.ignore(*triggers):
                cursor.execute(sql.replace("%(tz)s", "%s").replace("%(today)s", "%s"), params)


def _placeholders(sql: str) -> list[str]:
    return re.findall(r"%\((tz|today)\)s", sql)
