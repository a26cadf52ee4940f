"""Bank reconciliation reads: bank accounts with their unmatched counts, unmatched bank and
book lines, returned-item lines, active matches, recent imports, and the pagination of the
reconciliation pages. Fetches raise 404 for what does not exist."""

from collections.abc import Mapping
from datetime import date

from django.core.paginator import Page, Paginator
from django.db.models import Count, Exists, F, OuterRef, Prefetch, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404

from ledger.models import (
    BankAccount,
    BankDiscrepancy,
    BankMatch,
    BankMatchItem,
    BankStatement,
    BankStatementImport,
    BankTransaction,
    JournalLine,
)

PAGE_SIZE = 50


def bank_imports_recent(*, limit: int = 10) -> list[BankStatementImport]:
    return list(BankStatementImport.objects.select_related("imported_by")[:limit])


def _unexplained() -> QuerySet[BankStatement]:
    return BankStatement.objects.filter(is_unbalanced=True, explanation__isnull=True)


def bank_accounts_for_reconciliation() -> QuerySet[BankAccount]:
    """Every bank account with its number of unmatched bank lines and of unbalanced
    statements nobody has explained yet (one query)."""
    unmatched = (
        BankTransaction.objects.filter(bank_account=OuterRef("pk"))
        .exclude(_bank_matched())
        .order_by()
        .values("bank_account")
        .annotate(count=Count("pk"))
        .values("count")
    )
    unbalanced = (
        _unexplained()
        .filter(bank_account=OuterRef("pk"))
        .order_by()
        .values("bank_account")
        .annotate(count=Count("pk"))
        .values("count")
    )
    return BankAccount.objects.select_related("gl_account__fund").annotate(
        unmatched_count=Coalesce(Subquery(unmatched), 0),
        unbalanced_count=Coalesce(Subquery(unbalanced), 0),
    )


def unbalanced_statements(*, bank_account: BankAccount) -> list[BankStatement]:
    """The account's statements imported with discrepancies and not yet explained, with
    their discrepancies, importer and approver (two queries)."""
    return list(
        _unexplained()
        .filter(bank_account=bank_account)
        .select_related(
            "statement_import__imported_by", "statement_import__discrepancy_approved_by"
        )
        .prefetch_related(
            Prefetch(
                "discrepancies", queryset=BankDiscrepancy.objects.order_by("source_line", "id")
            )
        )
        .order_by("start_date", "id")
    )


def bank_statement_get(*, pk: int) -> BankStatement:
    statement = BankStatement.objects.select_related("bank_account").filter(pk=pk).first()
    if statement is None:
        raise Http404("No such statement.")
    return statement


def bank_account_get(*, pk: int) -> BankAccount:
    account = BankAccount.objects.select_related("gl_account__fund").filter(pk=pk).first()
    if account is None:
        raise Http404("No such bank account.")
    return account


def _bank_matched() -> Exists:
    return Exists(BankMatchItem.objects.filter(bank_transaction=OuterRef("pk"), is_active=True))


def _book_matched() -> Exists:
    return Exists(BankMatchItem.objects.filter(journal_line=OuterRef("pk"), is_active=True))


def unmatched_bank_lines(
    *,
    bank_account: BankAccount,
    date_from: date | None = None,
    date_to: date | None = None,
    returned_items: bool | None = False,
) -> QuerySet[BankTransaction]:
    """Bank lines in no active match. `returned_items`: False leaves them out, True gives
    only them, None gives both."""
    lines = BankTransaction.objects.filter(bank_account=bank_account).exclude(_bank_matched())
    if returned_items is not None:
        lines = lines.filter(is_returned_item=returned_items)
    if date_from:
        lines = lines.filter(booked_date__gte=date_from)
    if date_to:
        lines = lines.filter(booked_date__lte=date_to)
    return lines.order_by("booked_date", "id")


def unmatched_book_lines(
    *,
    bank_account: BankAccount,
    date_from: date | None = None,
    date_to: date | None = None,
) -> QuerySet[JournalLine]:
    lines = (
        JournalLine.objects.filter(account_id=bank_account.gl_account_id)
        .exclude(_book_matched())
        .select_related("entry")
    )
    if date_from:
        lines = lines.filter(entry__entry_date__gte=date_from)
    if date_to:
        lines = lines.filter(entry__entry_date__lte=date_to)
    return lines.order_by("entry__entry_date", "entry__number", "line_no")


def unmatched_bank_lines_booked_before(*, day: date) -> QuerySet[BankTransaction]:
    """Every bank account's lines in no active match booked before `day`, returned items
    left out (the returned-checks page handles those), oldest first."""
    return (
        BankTransaction.objects.filter(booked_date__lt=day, is_returned_item=False)
        .exclude(_bank_matched())
        .select_related("bank_account")
        .order_by("booked_date", "id")
    )


def returned_item_lines(*, bank_account: BankAccount | None = None) -> QuerySet[BankTransaction]:
    """Returned-item bank lines not yet matched to a book entry (for cashiering's
    returned-check page to propose as returned checks)."""
    lines = (
        BankTransaction.objects.filter(is_returned_item=True)
        .exclude(_bank_matched())
        .select_related("bank_account")
    )
    if bank_account is not None:
        lines = lines.filter(bank_account=bank_account)
    return lines.order_by("booked_date", "id")


def bank_matches(*, bank_account: BankAccount) -> QuerySet[BankMatch]:
    """Active matches, newest first, with their lines (three queries for any page)."""
    return (
        BankMatch.objects.filter(bank_account=bank_account, undone_at__isnull=True)
        .select_related("matched_by")
        .prefetch_related(
            Prefetch(
                "items",
                queryset=BankMatchItem.objects.select_related(
                    "bank_transaction", "journal_line__entry"
                ).order_by("id"),
            )
        )
        .order_by("-matched_at", "-id")
    )


def bank_match_get(*, pk: int) -> BankMatch:
    match = BankMatch.objects.select_related("bank_account").filter(pk=pk).first()
    if match is None:
        raise Http404("No such match.")
    return match


def paginate(queryset: QuerySet, page_number: str | None, *, per_page: int = PAGE_SIZE) -> Page:
    return Paginator(queryset, per_page).get_page(page_number)


def reconciliation_pages(
    *,
    bank_account: BankAccount,
    date_from: date | None,
    date_to: date | None,
    page_numbers: Mapping[str, str | None],
) -> dict[str, Page]:
    """The reconciliation page's four lists, each on its own page number (`bank_page`,
    `book_page`, `returned_page`, `match_page`): unmatched bank lines, unmatched book
    lines, unmatched returned items and active matches."""
    return {
        "bank_page": paginate(
            unmatched_bank_lines(
                bank_account=bank_account, date_from=date_from, date_to=date_to
            ).annotate(from_unbalanced=F("statement__is_unbalanced")),
            page_numbers.get("bank_page"),
        ),
        "book_page": paginate(
            unmatched_book_lines(bank_account=bank_account, date_from=date_from, date_to=date_to),
            page_numbers.get("book_page"),
        ),
        "returned_page": paginate(
            unmatched_bank_lines(
                bank_account=bank_account,
                date_from=date_from,
                date_to=date_to,
                returned_items=True,
            ),
            page_numbers.get("returned_page"),
        ),
        "match_page": paginate(
            bank_matches(bank_account=bank_account), page_numbers.get("match_page")
        ),
    }
