"""Reads of the counter: the home page's cards, cashier sessions and receipts a user may
see, drawers, tender types (and the per-process copy receipt posting uses), a session's
summary and the session list."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.core.paginator import Page, Paginator
from django.db.models import Count, Q, QuerySet, Sum
from django.http import Http404
from django.urls import reverse

from cashiering.models import CashierSession, Drawer, Receipt, Tender, TenderType
from kent_cs.db import placeholders, prepared_cursor
from kent_cs.money import ZERO
from ledger.models import GLAccount

SESSION_PAGE_SIZE = 50


def dashboard_cards(user) -> list[dict]:
    """Home page: the cashier's own drawer; for those who watch every drawer, how many
    are open now."""
    cards = []
    if user.has_perm("cashiering.operate_drawer"):
        session = (
            CashierSession.objects.select_related("drawer")
            .filter(cashier=user, status=CashierSession.Status.OPEN)
            .annotate(
                receipt_count=Count("receipts", filter=Q(receipts__status=Receipt.Status.POSTED)),
                receipt_total=Sum(
                    "receipts__total", filter=Q(receipts__status=Receipt.Status.POSTED)
                ),
            )
            .first()
        )
        if session is None:
            cards.append(
                {
                    "title": "My drawer",
                    "value": "Not open",
                    "note": "Count the float and open a drawer to take payments.",
                    "url": reverse("cashiering:session-open"),
                    "link_text": "Open a drawer",
                }
            )
        else:
            training = " (training)" if session.is_training else ""
            cards.append(
                {
                    "title": "My drawer",
                    "value": f"{session.drawer.code} open{training}",
                    "note": f"{session.receipt_count} receipts, "
                    f"{session.receipt_total or ZERO:,.2f} taken",
                    "url": reverse("cashiering:receipt-new", args=[session.pk]),
                    "link_text": "New receipt",
                }
            )
    if user.has_perm("cashiering.view_all_sessions"):
        open_count = CashierSession.objects.filter(status=CashierSession.Status.OPEN).count()
        cards.append(
            {
                "title": "Drawers open",
                "value": str(open_count),
                "note": "Sessions taking payments now.",
                "url": reverse("cashiering:sessions") + "?status=open",
                "link_text": "Drawer sessions",
            }
        )
    return cards


def _sessions_for(user) -> QuerySet[CashierSession]:
    sessions = CashierSession.objects.select_related("drawer", "cashier")
    if not user.has_perm("cashiering.view_all_sessions"):
        sessions = sessions.filter(cashier=user)
    return sessions


def session_get_for_user(*, user, pk: int, for_update: bool = False) -> CashierSession:
    """The session `pk` if `user` may see it (own, or every session with view_all_sessions);
    404 otherwise, so a cashier cannot learn that another cashier's session exists."""
    sessions = _sessions_for(user)
    if for_update:
        sessions = sessions.select_for_update(of=("self",))
    session = sessions.filter(pk=pk).first()
    if session is None:
        raise Http404("No such session.")
    return session


def session_get_for_operator(*, user, pk: int) -> CashierSession:
    """The session `pk` if it is `user`'s own: payments are taken only in one's own drawer."""
    session = (
        CashierSession.objects.select_related("drawer", "cashier")
        .filter(pk=pk, cashier=user)
        .first()
    )
    if session is None:
        raise Http404("No such session.")
    return session


def open_session_for(user) -> CashierSession | None:
    return (
        CashierSession.objects.select_related("drawer", "cashier")
        .filter(cashier=user, status=CashierSession.Status.OPEN)
        .first()
    )


def _receipts_for(user) -> QuerySet[Receipt]:
    receipts = Receipt.objects.select_related(
        "session__drawer",
        "session__cashier",
        "posted_by",
        "journal_entry",
        "void_entry",
        "reverses",
    )
    if not user.has_perm("cashiering.view_all_receipts"):
        receipts = receipts.filter(session__cashier=user)
    return receipts


def receipt_get_for_user(*, user, pk: int) -> Receipt:
    """The receipt `pk` if it was taken in `user`'s session (or `user` sees every receipt)."""
    receipt = _receipts_for(user).filter(pk=pk).first()
    if receipt is None:
        raise Http404("No such receipt.")
    return receipt


def receipt_lines(receipt: Receipt) -> list:
    return list(receipt.lines.select_related("fee_code").order_by("line_no"))


def receipt_tenders(receipt: Receipt) -> list[Tender]:
    return list(receipt.tenders.select_related("tender_type").order_by("line_no"))


def receipt_corrections(receipt: Receipt) -> list:
    return list(
        receipt.corrections.select_related(
            "requested_by", "decided_by", "reversal_receipt", "target_session"
        ).order_by("-requested_at")
    )


def receipt_reversed_by(receipt: Receipt) -> Receipt | None:
    return Receipt.objects.filter(reverses=receipt).first()


def receipt_print_count(receipt: Receipt) -> int:
    return receipt.prints.count()


def drawers_available() -> QuerySet[Drawer]:
    """Active drawers nobody has open right now."""
    return Drawer.objects.filter(is_active=True).exclude(
        sessions__status=CashierSession.Status.OPEN
    )


def tender_types_active(codes: Sequence[str] | None = None) -> list[TenderType]:
    """The active tender types (only those of `codes`, when given: a post reads the ones
    it was paid with), with their clearing accounts: posting debits them (no query per
    tender). Read on every post, so written out."""
    tender_columns = [f.attname for f in TenderType._meta.concrete_fields]
    account_columns = [f.attname for f in GLAccount._meta.concrete_fields]
    wanted = sorted(set(codes)) if codes is not None else []
    if codes is not None and not wanted:
        return []
    with prepared_cursor() as cursor:
        cursor.execute(
            "SELECT "
            + ", ".join(f"t.{c}" for c in tender_columns)
            + ", "
            + ", ".join(f"a.{c}" for c in account_columns)
            + " FROM cashiering_tendertype t JOIN ledger_glaccount a "
            "ON a.id = t.clearing_account_id WHERE t.is_active"
            + (f" AND t.code IN ({placeholders(len(wanted))})" if codes is not None else "")
            + " ORDER BY t.sort_order, t.code",
            wanted,
        )
        rows = cursor.fetchall()
    found = []
    split = len(tender_columns)
    for row in rows:
        tender = TenderType.from_db("default", tender_columns, row[:split])
        tender.clearing_account = GLAccount.from_db("default", account_columns, row[split:])
        found.append(tender)
    return found


# The active tender types as a post takes them, per process: posting checks them against
# the database in its first statement (cashiering.services.TenderTypesChanged), so a copy
# changed since is refused there and read again, never posted with.
_posting_tender_types: dict[str, TenderType] = {}


def tender_types_for_posting(codes: Sequence[str]) -> list[TenderType]:
    """The active tender types of `codes` (with their clearing accounts) without a query
    while the process's copy holds them all; read again when a code is missing from it."""
    global _posting_tender_types
    wanted = sorted(set(codes))
    known = _posting_tender_types
    if any(code not in known for code in wanted):
        known = _posting_tender_types = {t.code: t for t in tender_types_active()}
    return [known[code] for code in wanted if code in known]


def forget_tender_types() -> None:
    """Drop the process's copy (posting found it out of date)."""
    global _posting_tender_types
    _posting_tender_types = {}


@dataclass(frozen=True)
class TenderTotal:
    tender_type: TenderType
    count: int
    amount: Decimal


@dataclass(frozen=True)
class SessionSummary:
    receipt_count: int
    void_count: int
    total: Decimal
    by_tender: list[TenderTotal]
    cash_received: Decimal
    change_given: Decimal
    expected_cash: Decimal


def session_receipts(session: CashierSession) -> list[Receipt]:
    return list(
        session.receipts.select_related("posted_by", "reverses").order_by("number", "posted_at")
    )


def session_summary(session: CashierSession, receipts: Sequence[Receipt]) -> SessionSummary:
    """Running totals of a session's posted (not voided) receipts, by tender type.

    Expected cash in the drawer = opening float + cash taken - change given (reversals
    pay cash back out as negative cash tenders).
    """
    posted = [r for r in receipts if r.status == Receipt.Status.POSTED]
    rows = (
        Tender.objects.filter(receipt__session=session, receipt__status=Receipt.Status.POSTED)
        .values("tender_type")
        .annotate(count=Count("id"), amount=Sum("amount"))
        .order_by()
    )
    amounts = {row["tender_type"]: (row["count"], row["amount"] or ZERO) for row in rows}
    types = TenderType.objects.filter(pk__in=amounts).order_by("sort_order", "code")
    by_tender = [TenderTotal(t, *amounts[t.pk]) for t in types]
    cash = sum((t.amount for t in by_tender if t.tender_type.gives_change), ZERO)
    change = sum((r.change_given for r in posted), ZERO)
    return SessionSummary(
        receipt_count=len(posted),
        void_count=len(receipts) - len(posted),
        total=sum((r.total for r in posted), ZERO),
        by_tender=by_tender,
        cash_received=cash,
        change_given=change,
        expected_cash=session.opening_float + cash - change,
    )


def session_list_page(
    *, business_date: date | None = None, status: str = "", page_number=None
) -> Page:
    """Every session, newest business date first, with receipt counts and totals (three
    queries whatever the page size: count, page, nothing per row)."""
    posted = Q(receipts__status=Receipt.Status.POSTED)
    sessions = (
        CashierSession.objects.select_related("drawer", "cashier")
        .annotate(
            receipt_count=Count("receipts", filter=posted),
            void_count=Count("receipts", filter=Q(receipts__status=Receipt.Status.VOIDED)),
            receipt_total=Sum("receipts__total", filter=posted),
        )
        .order_by("-business_date", "drawer__code", "-opened_at")
    )
    if business_date is not None:
        sessions = sessions.filter(business_date=business_date)
    if status:
        sessions = sessions.filter(status=status)
    return Paginator(sessions, SESSION_PAGE_SIZE).get_page(page_number)
