"""Reads of deposits: sessions ready to deposit with their funds, the checks they hold, bank
accounts, the deposit list, a deposit's detail and its slip."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import (
    Count,
    DecimalField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.http import Http404

from cashiering.denominations import DENOMINATIONS
from cashiering.models import (
    CashierSession,
    Deposit,
    DepositItem,
    DepositSession,
    Receipt,
    SessionCountLine,
    Tender,
    TenderType,
)
from cashiering.selectors.balancing import CHECK_TENDER_KINDS, HANDED_BACK, REVERSED_CHECK
from kent_cs.money import ZERO, to_money
from ledger.models import BankAccount

DEPOSIT_PAGE_SIZE = 50


COIN_TOTAL_KEY = "coin-total"  # coin taken to the bank as a total (rolled), not by kind


CHECK_KINDS = CHECK_TENDER_KINDS


SETTLEMENT_KINDS = {Deposit.Kind.CARD: TenderType.Kind.CARD, Deposit.Kind.ACH: TenderType.Kind.ACH}


KIND_ORDER = [Deposit.Kind.CASH_CHECK, Deposit.Kind.CARD, Deposit.Kind.ACH]


MONEY = DecimalField(max_digits=14, decimal_places=2)


def _count_line(kind: str, column: str = "counted") -> Subquery:
    return Subquery(
        SessionCountLine.objects.filter(count__session=OuterRef("pk"), kind=kind).values(column)[
            :1
        ],
        output_field=MONEY,
    )


def _drawer_checks_now() -> Coalesce:
    """The session's checks and money orders that are still to go to the bank: posted,
    less those handed back (a reversal's checks and the checks it reversed)."""
    return Coalesce(
        Subquery(
            Tender.objects.filter(
                receipt__session=OuterRef("pk"),
                receipt__status=Receipt.Status.POSTED,
                tender_type__kind__in=list(CHECK_KINDS),
            )
            .exclude(HANDED_BACK)
            .order_by()
            .values("receipt__session")
            .annotate(total=Sum("amount"))
            .values("total")[:1],
            output_field=MONEY,
        ),
        Value(ZERO),
        output_field=MONEY,
    )


def _tender_sum(kinds: Iterable[str]) -> Coalesce:
    return Coalesce(
        Sum(
            "receipts__tenders__amount",
            filter=Q(
                receipts__status=Receipt.Status.POSTED,
                receipts__tenders__tender_type__kind__in=list(kinds),
            ),
        ),
        Value(ZERO),
        output_field=MONEY,
    )


def with_funds(sessions: QuerySet[CashierSession]) -> QuerySet[CashierSession]:
    """Each session with what it deposits: counted cash less float, counted checks, the
    card terminal's settlement and its ACH tenders (one query however many sessions).

    A check reversed after the count was counted but is handed back, not deposited: the
    checks expected at the count less those expected now is what was handed back since."""
    return sessions.select_related("drawer", "cashier").annotate(
        counted_cash=_count_line(SessionCountLine.Kind.CASH),
        counted_checks=_count_line(SessionCountLine.Kind.CHECKS),
        expected_checks_at_count=_count_line(SessionCountLine.Kind.CHECKS, "expected"),
        checks_now=_drawer_checks_now(),
        # The processor deposits what the terminal settled: the counted card total, which
        # includes any card over/short already posted to the clearing account.
        card_amount=Coalesce(
            _count_line(SessionCountLine.Kind.CARDS), _tender_sum([TenderType.Kind.CARD])
        ),
        ach_amount=_tender_sum([TenderType.Kind.ACH]),
    )


@dataclass(frozen=True)
class SessionFunds:
    session: CashierSession
    cash: Decimal  # counted cash less the opening float
    checks: Decimal  # counted checks and money orders, less those handed back since
    card: Decimal
    ach: Decimal
    has_count: bool

    @property
    def cash_and_checks(self) -> Decimal:
        return self.cash + self.checks


def session_funds(session: Any) -> SessionFunds:
    counted = session.counted_cash
    return SessionFunds(
        session=session,
        cash=(counted if counted is not None else ZERO) - session.opening_float,
        checks=ZERO
        if session.counted_checks is None
        else session.counted_checks - (session.expected_checks_at_count - session.checks_now),
        card=session.card_amount,
        ach=session.ach_amount,
        has_count=counted is not None,
    )


def _ready_sessions() -> QuerySet[CashierSession]:
    return CashierSession.objects.filter(
        status=CashierSession.Status.BALANCED, is_training=False
    ).order_by("business_date", "drawer__code", "opened_at", "pk")


def sessions_ready_for_deposit() -> list[SessionFunds]:
    """Balanced, live sessions not yet deposited, oldest business date first."""
    return [session_funds(s) for s in with_funds(_ready_sessions())]


def sessions_ready_by_ids(ids: Iterable[int]) -> list[SessionFunds]:
    return [session_funds(s) for s in with_funds(_ready_sessions().filter(pk__in=list(ids)))]


@dataclass(frozen=True)
class CheckItem:
    """A check or money order: going to the bank, or handed back to its payer because its
    receipt was reversed (`reversed_by`)."""

    tender: Tender
    amount: Decimal

    @property
    def number(self) -> str:
        return self.tender.check_number or self.tender.reference

    @property
    def payer(self) -> str:
        return self.tender.check_payer or self.tender.receipt.payer_name

    @property
    def receipt(self) -> Receipt:
        return self.tender.receipt

    @property
    def reversed_by(self) -> Receipt | None:
        return getattr(self.tender.receipt, "reversed_by", None)


def tenders_of(sessions: Sequence[CashierSession], kinds: Iterable[str]) -> QuerySet[Tender]:
    return (
        Tender.objects.filter(
            receipt__session__in=[s.pk for s in sessions],
            receipt__status=Receipt.Status.POSTED,
            tender_type__kind__in=list(kinds),
        )
        .select_related("tender_type", "receipt__session__drawer")
        .order_by("receipt__session__business_date", "receipt__number", "line_no")
    )


def deposit_checks(sessions: Sequence[CashierSession]) -> list[CheckItem]:
    """The checks and money orders of `sessions` for the slip, in receipt order: tenders on
    voided receipts are left out, and so are checks handed back (a reversal's negative
    check and the check it reversed; see `checks_handed_back`)."""
    return [CheckItem(t, t.amount) for t in tenders_of(sessions, CHECK_KINDS).exclude(HANDED_BACK)]


def checks_handed_back(sessions: Sequence[CashierSession]) -> list[CheckItem]:
    """The checks and money orders `sessions` took whose receipts were reversed: taken out
    of the deposit and given back to the payer, with the reversal that did it."""
    tenders = (
        tenders_of(sessions, CHECK_KINDS)
        .filter(REVERSED_CHECK)
        .select_related("receipt__reversed_by__session__drawer")
    )
    return [CheckItem(t, t.amount) for t in tenders]


def default_bank_account() -> BankAccount | None:
    return (
        BankAccount.objects.select_related("gl_account__fund")
        .filter(is_default=True, is_active=True)
        .first()
    )


def bank_accounts_active() -> QuerySet[BankAccount]:
    return BankAccount.objects.filter(is_active=True).select_related("gl_account__fund")


def _deposits() -> QuerySet[Deposit]:
    return Deposit.objects.select_related("bank_account", "prepared_by", "journal_entry")


def deposit_get(*, pk: int) -> Deposit:
    """A deposit; every back-office user with view_deposit sees every deposit."""
    deposit = _deposits().filter(pk=pk).first()
    if deposit is None:
        raise Http404("No such deposit.")
    return deposit


def deposit_list_page(*, page_number: Any = None, kind: str = "") -> Page:
    """Deposits, newest number first, with how many sessions and items each carries
    (count + page queries, nothing per row)."""
    deposits = _deposits().annotate(
        session_count=Count("session_links"),
    )
    if kind:
        deposits = deposits.filter(kind=kind)
    return Paginator(deposits.order_by("-number"), DEPOSIT_PAGE_SIZE).get_page(page_number)


@dataclass(frozen=True)
class SlipLine:
    label: str
    pieces: int | None
    amount: Decimal


@dataclass
class DepositDetail:
    deposit: Deposit
    sessions: list[DepositSession]
    items: list[DepositItem]
    bills: list[SlipLine] = field(default_factory=list)
    coins: list[SlipLine] = field(default_factory=list)
    related: list[Deposit] = field(default_factory=list)
    handed_back: list[CheckItem] = field(default_factory=list)

    @property
    def checks(self) -> list[DepositItem]:
        return self.items if self.deposit.kind == Deposit.Kind.CASH_CHECK else []

    @property
    def item_total(self) -> Decimal:
        return sum((i.amount for i in self.items), ZERO)


def slip_lines(currency_count: dict[str, Any]) -> tuple[list[SlipLine], list[SlipLine]]:
    """(bills, coin) lines of a slip from a deposit's stored count."""
    bills: list[SlipLine] = []
    coins: list[SlipLine] = []
    for key, label, value, is_coin in DENOMINATIONS:
        pieces = int(currency_count.get(key) or 0)
        if pieces:
            (coins if is_coin else bills).append(SlipLine(label, pieces, value * pieces))
    if currency_count.get(COIN_TOTAL_KEY):
        coins.append(SlipLine("Coin (total)", None, to_money(currency_count[COIN_TOTAL_KEY])))
    return bills, coins


def deposit_detail(deposit: Deposit) -> DepositDetail:
    """The deposit with its sessions, items (checks listed on the slip), the checks its
    sessions handed back instead, and the other deposits made with it (the settlements of
    the same sessions)."""
    sessions = list(
        deposit.session_links.select_related("session__drawer", "session__cashier").order_by(
            "session__business_date", "session__drawer__code", "session_id"
        )
    )
    items = list(
        deposit.items.select_related("tender__tender_type", "tender__receipt").order_by(
            "tender__receipt__number", "tender__line_no"
        )
    )
    related = list(
        _deposits()
        .filter(session_links__session__in=[link.session_id for link in sessions])
        .exclude(pk=deposit.pk)
        .distinct()
        .order_by("number")
    )
    bills, coins = slip_lines(deposit.currency_count)
    handed_back = (
        checks_handed_back([link.session for link in sessions])
        if deposit.kind == Deposit.Kind.CASH_CHECK
        else []
    )
    return DepositDetail(deposit, sessions, items, bills, coins, related, handed_back)


def session_deposit_total(funds: Sequence[SessionFunds]) -> dict[str, Decimal]:
    return {
        "cash": sum((f.cash for f in funds), ZERO),
        "checks": sum((f.checks for f in funds), ZERO),
        "card": sum((f.card for f in funds), ZERO),
        "ach": sum((f.ach for f in funds), ZERO),
    }
