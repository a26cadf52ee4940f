"""Builders for deposit and daily-report tests: sessions brought to "balanced".

`balance` goes through the closing services (blind close, over/short approval, balancing).
"""

from decimal import Decimal

from django.contrib.auth import get_user_model

from cashiering.denominations import pieces_for
from cashiering.models import (
    CashierSession,
    SessionCount,
    Tender,
    TenderType,
)
from cashiering.selectors.balancing import HANDED_BACK, session_expected
from cashiering.services.closing import (
    CheckInput,
    over_short_approve,
    session_balance,
    session_blind_close,
)
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
) -> CashierSession:
    """Blind-close `session` (counted amounts default to expected), have a supervisor
    approve an over/short above the threshold, and balance it, through the closing
    services."""
    expected = session_expected(session)
    cash_amount = expected.cash if cash is None else D(cash)
    if checks is None:
        listed = [
            CheckInput(t.check_number or t.reference or f"#{t.pk}", t.amount)
            for t in Tender.objects.filter(
                receipt__session=session,
                receipt__status="posted",
                tender_type__kind__in=CHECK_KINDS,
            )
            .exclude(HANDED_BACK)
            .order_by("pk")
        ]
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
    # The reversal's check #3003 is not in D3's drawer: it goes back from D1's funds.
    balance(again)
    return first, second_b, again
