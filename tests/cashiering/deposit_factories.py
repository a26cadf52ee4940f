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
