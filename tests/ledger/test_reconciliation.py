"""Matching bank lines to book lines: automatic, by hand, undone; the reconciliation page."""

from datetime import date
from decimal import Decimal

import pghistory.models
import pytest
from django.urls import reverse

from ledger.bankfiles import CsvMapping
from ledger.models import BankAccount, BankMatch, BankMatchItem, BankTransaction, JournalLine
from ledger.selectors_bank import returned_item_lines, unmatched_bank_lines, unmatched_book_lines
from ledger.services import LineSpec, journal_entry_post
from ledger.services_bank import BankError, bank_statement_import
from ledger.services_bank_matching import bank_auto_match, bank_match_create, bank_match_undo

D = Decimal
_files = iter(range(1, 10_000))


@pytest.fixture
def account(chart) -> BankAccount:
    return BankAccount.objects.get(is_default=True)


def deposit(chart, user, day: date, amount: str, number: str = "") -> JournalLine:
    """A deposit's entry (Dr bank, Cr undeposited clearing); returns its bank line."""
    entry = journal_entry_post(
        entry_date=day,
        memo=f"Deposit {number}".strip(),
        lines=[
            LineSpec(chart["001.101.10"], debit=D(amount)),
            LineSpec(chart["001.101.30"], credit=D(amount)),
        ],
        user=user,
        source="deposit",
        source_ref=number,
    )
    return entry.lines.get(account=chart["001.101.10"])


def returned_check(chart, user, day: date, amount: str, memo: str) -> JournalLine:
    entry = journal_entry_post(
        entry_date=day,
        memo=memo,
        lines=[
            LineSpec(chart["001.122.40"], debit=D(amount)),
            LineSpec(chart["001.101.10"], credit=D(amount)),
        ],
        user=user,
        source="returned_check",
    )
    return entry.lines.get(account=chart["001.101.10"])


def statement(account, user, *rows: tuple[date, str, str, str]) -> list[BankTransaction]:
    """Bank lines (date, amount, reference, description) imported from a CSV export."""
    text = "Date,Amount,Reference,Description\n" + "".join(
        f"{day.isoformat()},{amount},{ref},{description}\n"
        for day, amount, ref, description in rows
    )
    result = bank_statement_import(
        source=text.encode(),
        file_name=f"export-{next(_files)}.csv",
        user=user,
        csv_mapping=CsvMapping(
            date="Date",
            amount="Amount",
            reference="Reference",
            description="Description",
            default_account_number=account.number,
        ),
    )
    return list(
        BankTransaction.objects.filter(
            statement__statement_import=result.statement_import
        ).order_by("source_line")
    )


def matched_pairs(account) -> set[tuple[int, int]]:
    pairs = set()
    for match in BankMatch.objects.filter(bank_account=account, undone_at__isnull=True):
        items = list(match.items.filter(is_active=True))
        banks = [i.bank_transaction_id for i in items if i.bank_transaction_id]
        books = [i.journal_line_id for i in items if i.journal_line_id]
        assert len(banks) == len(books) == 1
        pairs.add((banks[0], books[0]))
    return pairs


# ---------------------------------------------------------------------- automatic match


def test_same_amount_within_the_window_is_matched(chart, account, technician):
    book = deposit(chart, technician, date(2026, 3, 13), "1250.50", "D-0001")
    (bank,) = statement(account, technician, (date(2026, 3, 16), "1250.50", "", "DEPOSIT"))
    assert bank_auto_match(bank_account=account, user=technician) == 1
    assert matched_pairs(account) == {(bank.pk, book.pk)}
    match = BankMatch.objects.get()
    assert (match.method, match.amount, match.matched_by) == ("auto", D("1250.50"), technician)
    assert list(match.items.order_by("id").values_list("amount", flat=True)) == [
        D("1250.50"),
        D("1250.50"),
    ]
    assert not unmatched_bank_lines(bank_account=account).exists()
    assert not unmatched_book_lines(bank_account=account).exists()
    assert bank_auto_match(bank_account=account, user=technician) == 0  # nothing left


@pytest.mark.parametrize(
    ("book_day", "bank_day"),
    [
        (date(2026, 3, 10), date(2026, 3, 16)),  # six days later: outside the window
        (date(2026, 3, 17), date(2026, 3, 16)),  # the bank before the books
    ],
)
def test_outside_the_date_window_is_left(chart, account, technician, book_day, bank_day):
    deposit(chart, technician, book_day, "300.00")
    statement(account, technician, (bank_day, "300.00", "", "DEPOSIT"))
    assert bank_auto_match(bank_account=account, user=technician) == 0
    assert not BankMatch.objects.exists()


def test_window_edges_are_inside(chart, account, technician):
    same_day = deposit(chart, technician, date(2026, 3, 16), "10.00")
    five_days = deposit(chart, technician, date(2026, 3, 11), "20.00")
    banks = statement(
        account,
        technician,
        (date(2026, 3, 16), "10.00", "", "DEPOSIT"),
        (date(2026, 3, 16), "20.00", "", "DEPOSIT"),
    )
    assert bank_auto_match(bank_account=account, user=technician) == 2
    assert matched_pairs(account) == {(banks[0].pk, same_day.pk), (banks[1].pk, five_days.pk)}


def test_other_amounts_do_not_match(chart, account, technician):
    deposit(chart, technician, date(2026, 3, 16), "300.00")
    statement(account, technician, (date(2026, 3, 16), "300.01", "", "DEPOSIT"))
    assert bank_auto_match(bank_account=account, user=technician) == 0


def test_two_deposits_of_the_same_amount_are_left_for_a_person(chart, account, technician):
    deposit(chart, technician, date(2026, 3, 13), "500.00")
    deposit(chart, technician, date(2026, 3, 14), "500.00")
    statement(account, technician, (date(2026, 3, 16), "500.00", "", "DEPOSIT"))
    assert bank_auto_match(bank_account=account, user=technician) == 0
    assert unmatched_book_lines(bank_account=account).count() == 2


def test_two_bank_lines_for_one_deposit_are_left(chart, account, technician):
    deposit(chart, technician, date(2026, 3, 13), "500.00")
    statement(
        account,
        technician,
        (date(2026, 3, 16), "500.00", "", "DEPOSIT"),
        (date(2026, 3, 17), "500.00", "", "DEPOSIT"),
    )
    assert bank_auto_match(bank_account=account, user=technician) == 0


def test_the_deposit_number_on_the_bank_line_decides(chart, account, technician):
    deposit(chart, technician, date(2026, 3, 13), "500.00", "D-0041")
    named = deposit(chart, technician, date(2026, 3, 14), "500.00", "D-0042")
    (bank,) = statement(
        account, technician, (date(2026, 3, 16), "500.00", "", "COUNTER DEPOSIT D-0042")
    )
    assert bank_auto_match(bank_account=account, user=technician) == 1
    assert matched_pairs(account) == {(bank.pk, named.pk)}


def test_reference_in_the_customer_reference_and_the_rest_by_amount(chart, account, technician):
    first = deposit(chart, technician, date(2026, 3, 13), "500.00", "D-0041")
    second = deposit(chart, technician, date(2026, 3, 14), "500.00", "D-0042")
    banks = statement(
        account,
        technician,
        (date(2026, 3, 16), "500.00", "D-0041", "DEPOSIT"),
        (date(2026, 3, 16), "500.00", "", "DEPOSIT"),
    )
    assert bank_auto_match(bank_account=account, user=technician) == 2
    assert matched_pairs(account) == {(banks[0].pk, first.pk), (banks[1].pk, second.pk)}


def test_a_reference_wins_over_a_closer_date(chart, account, technician):
    named = deposit(chart, technician, date(2026, 3, 11), "75.00", "D-0007")
    deposit(chart, technician, date(2026, 3, 16), "75.00", "D-0008")
    (bank,) = statement(account, technician, (date(2026, 3, 16), "75.00", "D-0007", "DEPOSIT"))
    assert bank_auto_match(bank_account=account, user=technician) == 1
    assert matched_pairs(account) == {(bank.pk, named.pk)}


def test_returned_item_matches_the_returned_check_entry(chart, account, technician):
    book = returned_check(chart, technician, date(2026, 3, 16), "45.00", "Returned check 1042")
    banks = statement(
        account,
        technician,
        (date(2026, 3, 17), "-45.00", "", "RETURNED ITEM CHECK 1042"),
        (date(2026, 3, 17), "-12.00", "", "SERVICE CHARGE"),
    )
    assert banks[0].is_returned_item and not banks[1].is_returned_item
    assert list(returned_item_lines(bank_account=account)) == [banks[0]]
    assert bank_auto_match(bank_account=account, user=technician) == 1
    assert matched_pairs(account) == {(banks[0].pk, book.pk)}
    assert not returned_item_lines().exists()
    assert list(unmatched_bank_lines(bank_account=account)) == [banks[1]]


def test_money_in_never_matches_a_credit(chart, account, technician):
    returned_check(chart, technician, date(2026, 3, 16), "45.00", "Returned check")
    statement(account, technician, (date(2026, 3, 17), "45.00", "", "DEPOSIT"))
    assert bank_auto_match(bank_account=account, user=technician) == 0


def test_other_accounts_lines_are_not_candidates(chart, account, technician):
    other = BankAccount.objects.create(
        name="Payroll", number="5550001111", gl_account=chart["001.101.20"]
    )
    deposit(chart, technician, date(2026, 3, 13), "80.00")
    statement(other, technician, (date(2026, 3, 16), "80.00", "", "DEPOSIT"))
    assert bank_auto_match(bank_account=other, user=technician) == 0


# ------------------------------------------------------------------------ manual match


def test_manual_match_of_a_deposit_credited_in_two_parts(chart, account, technician):
    book = deposit(chart, technician, date(2026, 3, 13), "1000.00", "D-0050")
    banks = statement(
        account,
        technician,
        (date(2026, 3, 16), "600.00", "", "DEPOSIT"),
        (date(2026, 3, 16), "400.00", "", "DEPOSIT"),
    )
    match = bank_match_create(
        bank_account=account,
        bank_transaction_ids=[b.pk for b in banks],
        journal_line_ids=[book.pk],
        note="Deposit D-0050 credited in two parts",
        user=technician,
    )
    assert (match.method, match.amount, match.note) == (
        "manual",
        D("1000.00"),
        "Deposit D-0050 credited in two parts",
    )
    assert match.items.count() == 3
    assert not unmatched_bank_lines(bank_account=account).exists()


def test_manual_match_refuses_unequal_totals(chart, account, technician):
    book = deposit(chart, technician, date(2026, 3, 13), "1000.00")
    banks = statement(account, technician, (date(2026, 3, 16), "999.00", "", "DEPOSIT"))
    with pytest.raises(BankError) as caught:
        bank_match_create(
            bank_account=account,
            bank_transaction_ids=[banks[0].pk],
            journal_line_ids=[book.pk],
            note="Short",
            user=technician,
        )
    assert str(caught.value) == (
        "The bank lines add up to 999.00 and the book lines to 1,000.00; a match needs "
        "equal totals (difference -1.00)."
    )
    assert not BankMatch.objects.exists()


def test_manual_match_refuses_lines_already_matched(chart, account, technician):
    book = deposit(chart, technician, date(2026, 3, 13), "10.00")
    (bank,) = statement(account, technician, (date(2026, 3, 16), "10.00", "", "DEPOSIT"))
    bank_auto_match(bank_account=account, user=technician)
    with pytest.raises(BankError, match="already matched"):
        bank_match_create(
            bank_account=account,
            bank_transaction_ids=[bank.pk],
            journal_line_ids=[book.pk],
            note="Again",
            user=technician,
        )


def test_manual_match_needs_both_sides_and_a_note(chart, account, technician):
    book = deposit(chart, technician, date(2026, 3, 13), "10.00")
    with pytest.raises(BankError, match="at least one bank line"):
        bank_match_create(
            bank_account=account,
            bank_transaction_ids=[],
            journal_line_ids=[book.pk],
            note="x",
            user=technician,
        )
    (bank,) = statement(account, technician, (date(2026, 3, 16), "10.00", "", "DEPOSIT"))
    with pytest.raises(BankError, match="Enter a note"):
        bank_match_create(
            bank_account=account,
            bank_transaction_ids=[bank.pk],
            journal_line_ids=[book.pk],
            note="  ",
            user=technician,
        )


# -------------------------------------------------------------------------------- undo


def test_undo_keeps_the_match_and_frees_its_lines(chart, account, technician):
    book = deposit(chart, technician, date(2026, 3, 13), "10.00")
    (bank,) = statement(account, technician, (date(2026, 3, 16), "10.00", "", "DEPOSIT"))
    bank_auto_match(bank_account=account, user=technician)
    match = BankMatch.objects.get()
    with pytest.raises(BankError, match="Enter the reason"):
        bank_match_undo(match=match, user=technician, reason=" ")
    bank_match_undo(match=match, user=technician, reason="Belongs to the March 14 deposit")
    match.refresh_from_db()
    assert match.undone_by == technician and match.undone_at is not None
    assert match.undo_reason == "Belongs to the March 14 deposit"
    assert BankMatchItem.objects.filter(match=match, is_active=True).count() == 0
    assert BankMatchItem.objects.filter(match=match).count() == 2
    assert list(unmatched_bank_lines(bank_account=account)) == [bank]
    assert list(unmatched_book_lines(bank_account=account)) == [book]
    event = pghistory.models.Events.objects.filter(
        pgh_obj_model="ledger.BankMatch", pgh_obj_id=str(match.pk)
    ).last()
    assert event.pgh_context["reason"] == "Belongs to the March 14 deposit"
    with pytest.raises(BankError, match="already undone"):
        bank_match_undo(match=match, user=technician, reason="Twice")
    # The lines can be matched again.
    assert bank_auto_match(bank_account=account, user=technician) == 1


# ------------------------------------------------------------------------------- pages


def test_reconcile_page_shows_both_sides(client, chart, account, technician):
    deposit(chart, technician, date(2026, 3, 13), "1250.50", "D-0001")
    statement(
        account,
        technician,
        (date(2026, 3, 16), "777.00", "", "WIRE IN"),
        (date(2026, 3, 17), "-45.00", "", "RETURNED ITEM"),
    )
    client.force_login(technician)
    response = client.get(reverse("ledger:bank-reconcile", args=[account.pk]))
    assert response.status_code == 200
    assert [line.amount for line in response.context["bank_page"]] == [D("777.00")]
    assert [line.amount for line in response.context["book_page"]] == [D("1250.50")]
    assert [line.amount for line in response.context["returned_page"]] == [D("-45.00")]
    text = response.content.decode()
    assert "Match automatically" in text and "Match ticked lines" in text
    assert "D-0001" in text and "WIRE IN" in text


def test_date_filter(client, chart, account, technician):
    statement(
        account,
        technician,
        (date(2026, 3, 2), "1.00", "", "EARLY"),
        (date(2026, 3, 20), "2.00", "", "LATE"),
    )
    client.force_login(technician)
    response = client.get(
        reverse("ledger:bank-reconcile", args=[account.pk]),
        {"date_from": "2026-03-10", "date_to": "2026-03-31"},
    )
    assert [line.description for line in response.context["bank_page"]] == ["LATE"]


def test_supervisor_reads_without_matching(client, chart, account, technician, supervisor):
    statement(account, technician, (date(2026, 3, 16), "777.00", "", "WIRE IN"))
    client.force_login(supervisor)
    response = client.get(reverse("ledger:bank-reconcile", args=[account.pk]))
    assert response.status_code == 200
    text = response.content.decode()
    assert "WIRE IN" in text
    assert "Match automatically" not in text and 'type="checkbox"' not in text
    url = reverse("ledger:bank-auto-match", args=[account.pk])
    assert client.post(url).status_code == 403


@pytest.mark.parametrize("persona", ["cashier", "admin", "outsider"])
def test_others_may_not_open_the_page(client, chart, account, personas, persona):
    client.force_login(personas[persona])
    assert client.get(reverse("ledger:bank-reconcile", args=[account.pk])).status_code == 403
    assert client.get(reverse("ledger:bank-accounts")).status_code == 403


def test_unknown_account_and_match_are_404(client, chart, technician):
    client.force_login(technician)
    assert client.get(reverse("ledger:bank-reconcile", args=[99999])).status_code == 404
    response = client.post(reverse("ledger:bank-match-undo", args=[99999]), {"reason": "x"})
    assert response.status_code == 404


def test_reconcile_page_queries_do_not_grow(
    client, chart, account, technician, django_assert_max_num_queries
):
    def load() -> None:
        response = client.get(reverse("ledger:bank-reconcile", args=[account.pk]))
        assert response.status_code == 200

    client.force_login(technician)
    # One of each list, so that every list's query runs from the start.
    deposit(chart, technician, date(2026, 3, 2), "5.00")
    deposit(chart, technician, date(2026, 3, 25), "6.00")
    statement(
        account,
        technician,
        (date(2026, 3, 2), "5.00", "", "DEPOSIT"),
        (date(2026, 3, 2), "7.00", "", "WIRE"),
        (date(2026, 3, 2), "-8.00", "", "RETURNED ITEM"),
    )
    bank_auto_match(bank_account=account, user=technician)
    load()  # the session renewal and first-use queries
    with django_assert_max_num_queries(30) as few:
        load()
    for index in range(60):
        deposit(chart, technician, date(2026, 3, 3), f"{100 + index}.00")
    statement(
        account,
        technician,
        *[(date(2026, 3, 4), f"{100 + index}.00", "", "DEPOSIT") for index in range(60)],
        *[(date(2026, 3, 9), f"{900 + index}.00", "", "WIRE") for index in range(60)],
        *[(date(2026, 3, 9), f"-{index + 1}.00", "", "RETURNED ITEM") for index in range(60)],
    )
    for index in range(60):
        deposit(chart, technician, date(2026, 3, 20), f"{2000 + index}.00")
    assert bank_auto_match(bank_account=account, user=technician) == 60
    with django_assert_max_num_queries(len(few.captured_queries)):
        load()


def test_accounts_page_counts_unmatched_lines(client, chart, account, technician, supervisor):
    statement(
        account,
        technician,
        (date(2026, 3, 16), "1.00", "", "A"),
        (date(2026, 3, 16), "2.00", "", "B"),
    )
    client.force_login(supervisor)
    response = client.get(reverse("ledger:bank-accounts"))
    assert response.status_code == 200
    row = next(a for a in response.context["accounts"] if a.pk == account.pk)
    assert row.unmatched_count == 2


def test_auto_match_button(client, chart, account, technician):
    deposit(chart, technician, date(2026, 3, 13), "10.00")
    statement(account, technician, (date(2026, 3, 16), "10.00", "", "DEPOSIT"))
    client.force_login(technician)
    response = client.post(reverse("ledger:bank-auto-match", args=[account.pk]), follow=True)
    assert "Matched 1 bank line." in response.content.decode()
    assert BankMatch.objects.count() == 1


def test_manual_match_form_shows_both_totals(client, chart, account, technician):
    book = deposit(chart, technician, date(2026, 3, 13), "1000.00")
    (bank,) = statement(account, technician, (date(2026, 3, 16), "999.00", "", "DEPOSIT"))
    client.force_login(technician)
    response = client.post(
        reverse("ledger:bank-match", args=[account.pk]),
        {"bank": [bank.pk], "book": [book.pk], "note": "Short by a dollar"},
    )
    text = response.content.decode()
    assert "The bank lines add up to 999.00 and the book lines to 1,000.00" in text
    assert f'value="{bank.pk}" form="match-form" id="bank-{bank.pk}" checked' in text
    assert not BankMatch.objects.exists()
    response = client.post(
        reverse("ledger:bank-match", args=[account.pk]),
        {"bank": [bank.pk], "book": [book.pk], "note": ""},
    )
    assert "Enter a note" in response.content.decode()


def test_manual_match_and_undo_through_the_page(client, chart, account, technician):
    book = deposit(chart, technician, date(2026, 3, 13), "1000.00")
    banks = statement(
        account,
        technician,
        (date(2026, 3, 16), "600.00", "", "DEPOSIT"),
        (date(2026, 3, 16), "400.00", "", "DEPOSIT"),
    )
    client.force_login(technician)
    response = client.post(
        reverse("ledger:bank-match", args=[account.pk]),
        {"bank": [b.pk for b in banks], "book": [book.pk], "note": "In two parts"},
        follow=True,
    )
    match = BankMatch.objects.get()
    assert f"Matched 1,000.00 (match {match.pk})." in response.content.decode()
    undo = reverse("ledger:bank-match-undo", args=[match.pk])
    response = client.post(undo, {"reason": ""})
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert BankMatch.objects.get().undone_at is None
    response = client.post(undo, {"reason": "Wrong deposit"}, follow=True)
    assert f"Match {match.pk} undone" in response.content.decode()
    assert BankMatch.objects.get().undo_reason == "Wrong deposit"
