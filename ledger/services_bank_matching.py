"""Bank reconciliation writes: matching a bank account's statement lines to its book lines,
automatically (amount, date window, references) or by hand, and undoing a match.

Services: `bank_auto_match`, `bank_match_create`, `bank_match_undo`. Lines of a statement
stored unbalanced (see ledger.services_bank) are matched only by hand.
"""

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from kent_cs.audit import audit_reason
from kent_cs.money import ZERO
from ledger.models import BankAccount, BankMatch, BankMatchItem
from ledger.selectors_bank import unmatched_bank_lines, unmatched_book_lines
from ledger.services_bank import BankError

# A deposit made on day D is credited by the bank on D..D+5 (weekends, holidays, a
# deposit made after the bank's cut-off).
MATCH_WINDOW_DAYS = 5


MATCH_NOTE_MAX = 300


@dataclass
class _BankSide:
    pk: int
    amount: Decimal
    booked: date
    text: str  # customer_ref, bank_ref and description, upper case
    customer_ref: str


@dataclass
class _BookSide:
    pk: int
    amount: Decimal  # + debit (money into the bank), - credit
    entry_date: date
    source_ref: str
    memo: str  # entry and line memo, upper case
    candidates: list[int] = field(default_factory=list)
    ref_candidates: list[int] = field(default_factory=list)


_TOKEN = re.compile(r"[A-Z0-9]+(?:-[A-Z0-9]+)*")


def _references(bank: _BankSide, book: _BookSide) -> bool:
    """The book entry's reference (the deposit number) is written on the bank line, or
    the bank line's customer reference is the entry's reference or in its memo."""
    ref = book.source_ref.strip().upper()
    if ref and (ref in set(_TOKEN.findall(bank.text)) or ref == bank.customer_ref):
        return True
    customer_ref = bank.customer_ref
    return len(customer_ref) >= 3 and customer_ref in set(_TOKEN.findall(book.memo))


def _pairs(
    banks: list[_BankSide], books: list[_BookSide], window: int
) -> list[tuple[_BankSide, _BookSide]]:
    """1-to-1 pairs that nothing else competes for: first by reference, then by amount
    and date alone among the lines left."""
    by_amount: dict[Decimal, list[_BookSide]] = defaultdict(list)
    for book in books:
        by_amount[book.amount].append(book)
    candidates: dict[int, list[_BookSide]] = {}
    ref_candidates: dict[int, list[_BookSide]] = {}
    for bank in banks:
        fitting = [
            book
            for book in by_amount.get(bank.amount, ())
            if book.entry_date <= bank.booked <= book.entry_date + timedelta(days=window)
        ]
        candidates[bank.pk] = fitting
        ref_candidates[bank.pk] = [book for book in fitting if _references(bank, book)]
        for book in fitting:
            book.candidates.append(bank.pk)
        for book in ref_candidates[bank.pk]:
            book.ref_candidates.append(bank.pk)

    paired: list[tuple[_BankSide, _BookSide]] = []
    taken_banks: set[int] = set()
    taken_books: set[int] = set()
    for bank in banks:
        refs = ref_candidates[bank.pk]
        if len(refs) == 1 and refs[0].ref_candidates == [bank.pk]:
            paired.append((bank, refs[0]))
            taken_banks.add(bank.pk)
            taken_books.add(refs[0].pk)
    for bank in banks:
        if bank.pk in taken_banks or ref_candidates[bank.pk]:
            continue  # a reference that is not unique is a question for a person
        fitting = [book for book in candidates[bank.pk] if book.pk not in taken_books]
        if len(fitting) != 1:
            continue
        book = fitting[0]
        rivals = [pk for pk in book.candidates if pk not in taken_banks]
        if rivals == [bank.pk] and not book.ref_candidates:
            paired.append((bank, book))
            taken_banks.add(bank.pk)
            taken_books.add(book.pk)
    return paired


def _lock_account(bank_account: BankAccount) -> None:
    # Two technicians matching the same account at once would both see a line unmatched;
    # the partial unique indexes would refuse the second, but with an error instead of a
    # message. Matching per account is serialised on the account row instead.
    BankAccount.objects.select_for_update().filter(pk=bank_account.pk).first()


def bank_auto_match(
    *, bank_account: BankAccount, user: Any, window_days: int = MATCH_WINDOW_DAYS
) -> int:
    """Match unmatched bank lines 1-to-1 to unmatched book lines of the same amount on
    the bank's GL account, booked by the bank 0..`window_days` days after the book date:
    money in to debits, money out (returned items, fees) to credits. A reference match
    wins; a line with more than one possible partner is left for a person. Returns the
    number of matches made."""
    with transaction.atomic():
        _lock_account(bank_account)
        banks = [
            _BankSide(
                pk=row.pk,
                amount=row.amount,
                booked=row.booked_date,
                text=f"{row.customer_ref} {row.bank_ref} {row.description}".upper(),
                customer_ref=row.customer_ref.strip().upper(),
            )
            for row in unmatched_bank_lines(bank_account=bank_account, returned_items=None)
            .exclude(amount=ZERO)
            # A statement that did not add up is matched only by a person.
            .exclude(statement__is_unbalanced=True)
            .only("pk", "amount", "booked_date", "customer_ref", "bank_ref", "description")
        ]
        if not banks:
            return 0
        earliest = min(bank.booked for bank in banks) - timedelta(days=window_days)
        latest = max(bank.booked for bank in banks)
        books = [
            _BookSide(
                pk=row.pk,
                amount=row.debit - row.credit,
                entry_date=row.entry.entry_date,
                source_ref=row.entry.source_ref,
                memo=f"{row.entry.memo} {row.memo}".upper(),
            )
            for row in unmatched_book_lines(
                bank_account=bank_account, date_from=earliest, date_to=latest
            ).only(
                "pk",
                "debit",
                "credit",
                "memo",
                "entry__entry_date",
                "entry__source_ref",
                "entry__memo",
            )
        ]
        pairs = _pairs(banks, books, window_days)
        if not pairs:
            return 0
        matches = BankMatch.objects.bulk_create(
            BankMatch(
                bank_account=bank_account,
                method=BankMatch.Method.AUTO,
                amount=bank.amount,
                matched_by=user,
            )
            for bank, _book in pairs
        )
        BankMatchItem.objects.bulk_create(
            item
            for match, (bank, book) in zip(matches, pairs, strict=True)
            for item in (
                BankMatchItem(match=match, bank_transaction_id=bank.pk, amount=bank.amount),
                BankMatchItem(match=match, journal_line_id=book.pk, amount=book.amount),
            )
        )
    return len(pairs)


def bank_match_create(
    *,
    bank_account: BankAccount,
    bank_transaction_ids: Sequence[int],
    journal_line_ids: Sequence[int],
    note: str,
    user: Any,
) -> BankMatch:
    """Match bank lines to book lines by hand. Both sides must add up to the same amount
    (book debits count as money in), and no line may be in another active match."""
    note = note.strip()
    if not bank_transaction_ids or not journal_line_ids:
        raise BankError("Choose at least one bank line and at least one book line.")
    if not note:
        raise BankError("Enter a note saying why these lines go together.")
    with transaction.atomic():
        _lock_account(bank_account)
        banks = list(
            unmatched_bank_lines(bank_account=bank_account, returned_items=None).filter(
                pk__in=set(bank_transaction_ids)
            )
        )
        books = list(
            unmatched_book_lines(bank_account=bank_account).filter(pk__in=set(journal_line_ids))
        )
        if len(banks) != len(set(bank_transaction_ids)) or len(books) != len(set(journal_line_ids)):
            raise BankError(
                "Some of the chosen lines are already matched or are not on this bank "
                "account. Reload the page and choose again."
            )
        bank_total = sum((line.amount for line in banks), ZERO)
        book_total = sum((line.amount for line in books), ZERO)
        if bank_total != book_total:
            raise BankError(
                f"The bank lines add up to {bank_total:,.2f} and the book lines to "
                f"{book_total:,.2f}; a match needs equal totals "
                f"(difference {bank_total - book_total:,.2f})."
            )
        match = BankMatch.objects.create(
            bank_account=bank_account,
            method=BankMatch.Method.MANUAL,
            amount=bank_total,
            note=note[:MATCH_NOTE_MAX],
            matched_by=user,
        )
        BankMatchItem.objects.bulk_create(
            [
                *(
                    BankMatchItem(match=match, bank_transaction=line, amount=line.amount)
                    for line in banks
                ),
                *(
                    BankMatchItem(match=match, journal_line=line, amount=line.amount)
                    for line in books
                ),
            ]
        )
    return match


def bank_match_undo(*, match: BankMatch, user: Any, reason: str) -> BankMatch:
    """Undo a match: its lines are unmatched again. The match is kept, marked undone."""
    reason = reason.strip()
    if not reason:
        raise BankError("Enter the reason for undoing the match.")
    with transaction.atomic(), audit_reason(reason):
        _lock_account(match.bank_account)
        locked = BankMatch.objects.select_for_update().get(pk=match.pk)
        if locked.undone_at is not None:
            raise BankError(f"Match {locked.pk} was already undone.")
        locked.undone_at = timezone.now()
        locked.undone_by = user
        locked.undo_reason = reason[:MATCH_NOTE_MAX]
        locked.save(update_fields=["undone_at", "undone_by", "undo_reason"])
        locked.items.update(is_active=False)
    return locked
