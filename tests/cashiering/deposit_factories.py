"""Builders for deposit and daily-report tests: sessions brought to "balanced".

`balance` goes through the closing services (blind close, over/short approval, balancing).
`balance(..., by_hand=True)` writes the same rows through the ORM for the one drawer the
blind close cannot count: one whose reversal handed a check back (a negative check).
"""

from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q, Sum

from cashiering.denominations import pieces_for
from cashiering.models import (
    CashierSession,
    Receipt,
    SessionCount,
    SessionCountLine,
    Tender,
    TenderType,
)
from cashiering.selectors.balancing import session_expected
from cashiering.services.closing import (
    CheckInput,
    over_short_approve,
    session_balance,
    session_blind_close,
)
from cashiering.services.sessions import session_close
from kent_cs.money import ZERO
from kent_cs.roles import Role
from tests.cashiering.factories import (
    fee,
    make_account,
    open_session,
    post,
    reverse,
    utility,
    void,
)
from tests.factories import make_user

D = Decimal
CHECK_KINDS = [TenderType.Kind.CHECK, TenderType.Kind.MONEY_ORDER]
CARD_KINDS = [TenderType.Kind.CARD]  # ACH is not counted at close


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


def _user_with_role(role: Role, username: str):
    user = get_user_model().objects.filter(groups__name=str(role)).order_by("pk").first()
    return user or make_user(username, role)


def _pieces(amount: Decimal) -> dict[str, int]:
    """A count by denomination adding up to `amount` (largest pieces first)."""
    return pieces_for(amount, ("100.00", "20.00", "5.00", "1.00", "0.25", "0.10", "0.05", "0.01"))


def balance(
    session: CashierSession,
    *,
    cash: Decimal | str | None = None,
    checks: Decimal | str | None = None,
    cards: Decimal | str | None = None,
    approver=None,
    explanation: str = "",
    by_hand: bool = False,
) -> CashierSession:
    """Blind-close `session` (counted amounts default to expected), have a supervisor
    approve an over/short above the threshold, and balance it, through the closing
    services. `by_hand` writes the same rows directly: for a drawer the blind close
    cannot count, one whose reversal gave a check back (a negative check to list)."""
    if by_hand:
        return _balance_by_hand(session, cash=cash, checks=checks, cards=cards, approver=approver)
    expected = session_expected(session)
    cash_amount = expected.cash if cash is None else D(cash)
    if checks is None:
        listed = [
            CheckInput(t.check_number or t.reference or f"#{t.pk}", t.amount)
            for t in Tender.objects.filter(
                receipt__session=session,
                receipt__status="posted",
                tender_type__kind__in=CHECK_KINDS,
            ).order_by("pk")
        ]
        assert all(c.amount > 0 for c in listed), "a negative check: use by_hand=True"
    else:
        listed = [CheckInput("COUNTED", D(checks))] if D(checks) else []
    count = session_blind_close(
        session=session,
        cash_count=_pieces(cash_amount),
        checks=listed,
        card_settlement=expected.cards if cards is None else D(cards),
        user=session.cashier,
    )
    if count.status == SessionCount.Status.PENDING:
        over_short_approve(
            count=count,
            explanation=explanation or "Counted twice",
            user=approver or _user_with_role(Role.SUPERVISOR, "approver"),
        )
    return session_balance(session=session, user=_user_with_role(Role.TECHNICIAN, "balancer"))


def _balance_by_hand(
    session: CashierSession, *, cash=None, checks=None, cards=None, approver=None
) -> CashierSession:
    if session.status == CashierSession.Status.OPEN:
        session = session_close(session=session, user=session.cashier)
    expected = expected_amounts(session)
    counted = {
        "cash": expected["cash"] if cash is None else D(cash),
        "checks": expected["checks"] if checks is None else D(checks),
        "cards": expected["cards"] if cards is None else D(cards),
    }
    differences = {kind: counted[kind] - expected[kind] for kind in counted}
    assert not any(differences.values()), "by hand: counted as expected only"
    with transaction.atomic():
        count = SessionCount.objects.create(
            session=session,
            counted_by=session.cashier,
            cash_count={},
            checks=[],
            card_settlement=counted["cards"],
            over_short=ZERO,
            status=SessionCount.Status.BALANCED,
        )
        SessionCountLine.objects.bulk_create(
            SessionCountLine(
                count=count,
                kind=kind,
                expected=expected[kind],
                counted=counted[kind],
                over_short=ZERO,
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
    # The blind close cannot list the negative check the reversal gave back.
    balance(again, by_hand=True)
    return first, second_b, again
