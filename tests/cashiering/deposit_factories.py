"""Builders for deposit and daily-report tests: sessions brought to "balanced".

`balance` writes what the blind close and the technician's balancing write: the session
closed, its SessionCount with one line per kind of tender (expected from the receipts,
counted as given), the over/short posted against the clearing accounts, and the session
balanced. Status changes go through the ORM (the database's FSM trigger still checks
them), so these tests do not depend on the closing screens.
"""

from decimal import Decimal

from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from cashiering.models import (
    CashierSession,
    CounterPolicy,
    Receipt,
    SessionCount,
    SessionCountLine,
    Tender,
    TenderType,
)
from cashiering.services import session_close
from kent_cs.money import ZERO
from ledger.services import LineSpec, journal_entry_post
from tests.cashiering.factories import (
    fee,
    make_account,
    open_session,
    post,
    reverse,
    utility,
    void,
)

D = Decimal
CHECK_KINDS = [TenderType.Kind.CHECK, TenderType.Kind.MONEY_ORDER]
CARD_KINDS = [TenderType.Kind.CARD, TenderType.Kind.ACH]


def expected_amounts(session: CashierSession) -> dict[str, Decimal]:
    """Expected cash in the drawer (float + cash - change), checks, cards and ACH."""
    tenders = Tender.objects.filter(receipt__session=session, receipt__status="posted")

    def total(condition: Q) -> Decimal:
        return tenders.filter(condition).aggregate(s=Sum("amount"))["s"] or ZERO

    change = (
        Receipt.objects.filter(session=session, status="posted").aggregate(s=Sum("change_given"))[
            "s"
        ]
        or ZERO
    )
    return {
        "cash": session.opening_float + total(Q(tender_type__kind="cash")) - change,
        "checks": total(Q(tender_type__kind__in=CHECK_KINDS)),
        "cards": total(Q(tender_type__kind__in=CARD_KINDS)),
    }


def balance(
    session: CashierSession,
    *,
    cash: Decimal | str | None = None,
    checks: Decimal | str | None = None,
    cards: Decimal | str | None = None,
    approver=None,
    explanation: str = "",
) -> CashierSession:
    """Close (if open), count and balance `session`. Counted amounts default to expected;
    a difference is posted as over/short (approved by `approver` when given)."""
    if session.status == CashierSession.Status.OPEN:
        session = session_close(session=session, user=session.cashier)
    expected = expected_amounts(session)
    counted = {
        "cash": expected["cash"] if cash is None else D(cash),
        "checks": expected["checks"] if checks is None else D(checks),
        "cards": expected["cards"] if cards is None else D(cards),
    }
    differences = {kind: counted[kind] - expected[kind] for kind in counted}
    over_short = sum(differences.values(), ZERO)
    policy = CounterPolicy.current()
    with transaction.atomic():
        entry = None
        if over_short or any(differences.values()):
            lines = []
            for kind, difference in differences.items():
                if not difference:
                    continue
                clearing = TenderType.objects.filter(
                    kind="card" if kind == "cards" else "cash"
                ).first()
                account = clearing.clearing_account
                if difference > 0:
                    lines.append(LineSpec(account, debit=difference))
                else:
                    lines.append(LineSpec(account, credit=-difference))
            if over_short > 0:
                lines.append(LineSpec(policy.over_short_account, credit=over_short))
            elif over_short < 0:
                lines.append(LineSpec(policy.over_short_account, debit=-over_short))
            entry = journal_entry_post(
                entry_date=session.business_date,
                memo=f"Over/short {session}",
                lines=lines,
                user=approver or session.cashier,
                source="over_short",
                source_ref=str(session.pk),
            )
        if not any(differences.values()):
            status = SessionCount.Status.BALANCED
        elif approver is not None:
            status = SessionCount.Status.APPROVED
        else:
            status = SessionCount.Status.POSTED
        count = SessionCount.objects.create(
            session=session,
            counted_by=session.cashier,
            cash_count={},
            checks=[],
            card_settlement=counted["cards"],
            over_short=over_short,
            status=status,
            over_short_entry=entry,
            decided_by=approver,
            decided_at=timezone.now() if approver else None,
            explanation=explanation or ("Counted twice" if approver else ""),
        )
        SessionCountLine.objects.bulk_create(
            SessionCountLine(
                count=count,
                kind=kind,
                expected=expected[kind],
                counted=counted[kind],
                over_short=differences[kind],
            )
            for kind in ("cash", "checks", "cards")
        )
        session.status = CashierSession.Status.BALANCED
        session.save(update_fields=["status"])
    return session


def build_day(counter, cashier, cashier_b, supervisor):
    """Two drawers on TODAY, and the first cashier's second session carrying a reversal.

    Drawer D1 (Casey, float 160): utility 120 in cash (150 tendered, 30 change), a pet
    license by check #1042, one by money order, one by card, one by ACH, one by check
    #2001 that is voided, one by check #3003 later reversed. D2 (Jordan, float 160): two
    pet licenses, 60 cash. D1 again (Casey's second session): the reversal of #3003.
    """
    account = make_account("104455-01", balance="120.00")
    first = open_session(cashier, "D1")
    post(first, [utility(account.number, "120.00")], [counter.cash("150.00")])
    post(first, [fee("PET")], [counter.check("30.00", number="1042", payer="Dana Whitfield")])
    post(first, [fee("PET")], [counter.money_order("30.00", reference="MO-55501234")])
    post(first, [fee("PET")], [counter.card("30.00")])
    post(first, [fee("PET")], [counter.ach("30.00")])
    voided = post(first, [fee("PET")], [counter.check("30.00", number="2001", payer="Lee Chu")])
    void(voided, requester=cashier, approver=supervisor)
    reversed_check = post(
        first, [fee("PET")], [counter.check("30.00", number="3003", payer="Pat Moore")]
    )
    second_b = open_session(cashier_b, "D2")
    post(second_b, [fee("PET", quantity=2)], [counter.cash("60.00")], payer="Ana Ruiz")
    balance(first)
    again = open_session(cashier, "D3")
    reverse(reversed_check, requester=cashier, approver=supervisor, session=again)
    balance(second_b)
    balance(again)
    return first, second_b, again
