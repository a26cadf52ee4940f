"""Cashiering reads: scoped fetches, the payer search, session summaries and lists."""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import Count, Q, QuerySet, Sum
from django.http import Http404
from django.urls import reverse

from cashiering.models import CashierSession, Drawer, Receipt, Tender, TenderType
from cashiering.targets import TargetError, TargetItem, get_target_type
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


# --- scoped fetches -------------------------------------------------------------------


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


# --- reference data -------------------------------------------------------------------


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


# --- payer search ---------------------------------------------------------------------

#: A payer-index row ranks as a fuzzy match from this pg_trgm word similarity up.
FUZZY_THRESHOLD = 0.3
#: Rows taken from each candidate source before ranking: bounds the work of a search
#: whatever the number of rows that match a common word ("smith", "kent").
WORD_CANDIDATES = 60
FUZZY_CANDIDATES = 200
MAX_WORDS = 6

_WORD_SPLIT = re.compile(r"[\s,;]+")

# One statement, four sources, each cheap on its own index, ranked in order:
#   exact    the number exactly as typed (or upper/lower case): btree equality;
#   prefix   numbers starting with the text: btree range on varchar_pattern_ops;
#   words    rows containing every typed word (a word of one or two characters: a word
#            starting with it): trigram GIN, plain LIKE recheck (cheap);
#   fuzzy    only when the above found too little: rows where every name word of three
#            letters or more starts a word with its first two letters, and every other
#            word (numbers, "st") is present as typed (trigram GIN); then each name word
#            must be like a word of the name (pg_trgm word_similarity, which forgives
#            typos: "jon smth" finds "John Smith") or be present as typed.
# Trigram functions cost microseconds a row (a row's whole search text costs five times
# its name), so they only run on a bounded set of candidates, never on every row that
# shares a trigram with the query.
_SEARCH_SQL = """
WITH exact AS (
    SELECT id, 0 AS tier, 1.0::real AS score FROM cashiering_payerindex
    WHERE is_active AND number IN (%(raw)s, %(upper)s, %(lower)s)
), by_prefix AS (
    SELECT id, 1 AS tier, 0.0::real AS score FROM cashiering_payerindex
    WHERE is_active AND (number LIKE %(prefix)s OR number LIKE %(prefix_upper)s)
    ORDER BY number USING ~<~ LIMIT %(limit)s
), by_words AS MATERIALIZED (
    SELECT id, 2 AS tier, similarity(%(lower)s, name) AS score FROM (
        SELECT id, name FROM cashiering_payerindex
        WHERE is_active AND {word_conditions} LIMIT %(word_candidates)s
    ) w ORDER BY score DESC LIMIT %(limit)s
){fuzzy_cte}
SELECT p.kind, p.ref, p.number, p.name, p.address, p.detail
FROM (
    SELECT DISTINCT ON (id) id, tier, score FROM (
        SELECT * FROM exact UNION ALL SELECT * FROM by_prefix
        UNION ALL SELECT * FROM by_words{fuzzy_union}
    ) found ORDER BY id, tier
) hit JOIN cashiering_payerindex p ON p.id = hit.id
ORDER BY hit.tier, hit.score DESC, p.number
LIMIT %(limit)s
"""
_FUZZY_CTE = """, by_fuzzy AS MATERIALIZED (
    SELECT id, 3 AS tier, {match_sum} + similarity(%(fuzzy_text)s, name) AS score
    FROM (
        SELECT id, name, {match_columns} FROM (
            SELECT id, name, search_text FROM cashiering_payerindex
            WHERE is_active AND {fuzzy_conditions}
              AND NOT EXISTS (SELECT 1 FROM exact)
              AND (SELECT count(*) FROM by_words) + (SELECT count(*) FROM by_prefix)
                  < %(limit)s
            LIMIT %(fuzzy_candidates)s
        ) candidate
        OFFSET 0
    ) measured
    WHERE {all_match}
    ORDER BY score DESC LIMIT %(limit)s
)"""


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True)
class IndexHit:
    kind: str
    ref: str
    number: str
    name: str
    address: str
    detail: str


@dataclass(frozen=True)
class PayerHit:
    """One search result with what is owed now, for the counter's result list."""

    kind: str
    kind_label: str
    ref: str
    number: str
    name: str
    address: str
    detail: str
    amount_due: Decimal | None  # None: a fee item, priced at the counter
    balance: Decimal | None
    default_amount: Decimal | None
    priced_by_quantity: bool
    inquiry_url: str | None = None

    @property
    def has_credit(self) -> bool:
        return self.balance is not None and self.balance < 0


def search_words(q: str) -> list[str]:
    return [w for w in _WORD_SPLIT.split(q.strip().lower()) if w][:MAX_WORDS]


def payer_index_search(q: str, limit: int = 20) -> list[IndexHit]:
    """Payer-index rows matching `q`, best first, in one query (see _SEARCH_SQL)."""
    raw = q.strip()[:100]
    words = search_words(raw)
    if not words or limit <= 0:
        return []
    lower = raw.lower()
    params: dict[str, object] = {
        "raw": raw,
        "upper": raw.upper(),
        "lower": lower,
        "prefix": _like_escape(raw) + "%",
        "prefix_upper": _like_escape(raw.upper()) + "%",
        "limit": limit,
        "word_candidates": max(WORD_CANDIDATES, limit),
        "fuzzy_candidates": FUZZY_CANDIDATES,
        "threshold": FUZZY_THRESHOLD,
    }
    word_conditions = []
    fuzzy_conditions = []
    fuzzy_words = []
    for index, word in enumerate(words):
        # A word of one or two characters must start a word ("st", "24"): a substring
        # that short has no trigram to look up, and would match nearly everything.
        pattern = f"% {_like_escape(word)}%" if len(word) < 3 else f"%{_like_escape(word)}%"
        params[f"word{index}"] = pattern
        condition = f"search_text LIKE %(word{index})s"
        word_conditions.append(condition)
        if len(word) >= 3 and word.isalpha():
            # A name word may be misspelt, but rarely in its first two letters:
            # requiring them at the start of a word keeps the candidates few.
            params[f"start{index}"] = f"% {_like_escape(word[:2])}%"
            fuzzy_conditions.append(f"search_text LIKE %(start{index})s")
            fuzzy_words.append(word)
        else:
            fuzzy_conditions.append(condition)  # numbers and short words: as typed
    # Each name word matches when the name holds a word like it, or when it is found as
    # typed anywhere (a street name in the address).
    match_columns = ", ".join(
        f"GREATEST(word_similarity(%(fuzzy{i})s, name), "
        f"CASE WHEN search_text LIKE %(fuzzy_like{i})s THEN 1 ELSE 0 END) AS match{i}"
        for i in range(len(fuzzy_words))
    )
    for i, word in enumerate(fuzzy_words):
        params[f"fuzzy{i}"] = word
        params[f"fuzzy_like{i}"] = f"%{_like_escape(word)}%"
    sql = _SEARCH_SQL.format(
        word_conditions=" AND ".join(word_conditions),
        fuzzy_cte=(
            _FUZZY_CTE.format(
                fuzzy_conditions=" AND ".join(fuzzy_conditions),
                match_columns=match_columns,
                match_sum=" + ".join(f"match{i}" for i in range(len(fuzzy_words))),
                all_match=" AND ".join(
                    f"match{i} >= %(threshold)s" for i in range(len(fuzzy_words))
                ),
            )
            if fuzzy_words
            else ""
        ),
        fuzzy_union=" UNION ALL SELECT * FROM by_fuzzy" if fuzzy_words else "",
    )
    params["fuzzy_text"] = " ".join(fuzzy_words)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [IndexHit(*row) for row in cursor.fetchall()]


def load_items(pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], TargetItem]:
    """Current items for (kind, ref) pairs through the registry: one query per kind.
    Unknown kinds and refs that no longer exist are left out."""
    by_kind: dict[str, list[str]] = {}
    for kind, ref in pairs:
        refs = by_kind.setdefault(kind, [])
        if ref not in refs:
            refs.append(ref)
    items: dict[tuple[str, str], TargetItem] = {}
    for kind, refs in by_kind.items():
        try:
            target_type = get_target_type(kind)
        except TargetError:
            continue
        for ref, item in target_type.load(refs).items():
            items[(kind, ref)] = item
    return items


def payer_search(q: str, limit: int = 20) -> list[PayerHit]:
    """The counter's search: index rows for `q` with their amounts due (one index query,
    then one query per kind of item found)."""
    hits = payer_index_search(q, limit=limit)
    items = load_items((hit.kind, hit.ref) for hit in hits)
    results = []
    for hit in hits:
        item = items.get((hit.kind, hit.ref))
        if item is None:
            continue  # indexed but gone (or a fee item switched off since)
        target_type = get_target_type(hit.kind)
        results.append(
            PayerHit(
                kind=hit.kind,
                kind_label=target_type.label,
                ref=hit.ref,
                number=hit.number,
                name=hit.name,
                address=hit.address,
                detail=hit.detail,
                amount_due=None if item.balance is None else item.amount_due,
                balance=item.balance,
                default_amount=item.default_amount,
                priced_by_quantity=target_type.priced_by_quantity,
                inquiry_url=target_type.inquiry_url(hit.ref),
            )
        )
    return results


# --- sessions -------------------------------------------------------------------------


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
