"""Account inquiry: search, what is owed, every payment and its status, notes, history."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cashiering.models import PayerNote
from cashiering.payables import invoice_index_rows, utility_index_rows
from cashiering.services.sessions import session_close
from cashiering.targets import index_bulk_upsert
from tests.cashiering.factories import (
    counter_setup,
    fee,
    invoice,
    make_account,
    make_invoice,
    open_session,
    post,
    utility,
    void,
)
from tests.cashiering.factories import reverse as reverse_receipt
from tests.factories import TODAY

D = Decimal
SEARCH = reverse("cashiering:inquiry-search")
CARD = "4111 1111 1111 1111"


@pytest.fixture
def counter(db):
    return counter_setup()


@pytest.fixture
def account(counter):
    account = make_account(number="104455-01", balance="120.00", name="Maria Lopez")
    index_bulk_upsert(utility_index_rows([account]))
    return account


@pytest.fixture
def ar_invoice(counter):
    ar_invoice = make_invoice(number="INV-24001", amount="250.00")
    index_bulk_upsert(invoice_index_rows([ar_invoice]))
    return ar_invoice


def url(kind: str, ref: str) -> str:
    return reverse("cashiering:inquiry", args=[kind, ref])


@pytest.fixture
def history(counter, account, cashier, cashier_b, supervisor):
    """On the account: a posted payment, a voided one, and one reversed the next day."""
    session = open_session(cashier, "D1")
    kept = post(session, [utility(account.number, "30.00")], [counter.cash("30.00")])
    voided = post(session, [utility(account.number, "15.00")], [counter.cash("15.00")])
    void(voided, requester=cashier, approver=supervisor)
    reversed_ = post(
        session, [utility(account.number, "20.00"), fee("COPY", 2)], [counter.cash("20.30")]
    )
    session_close(session=session, user=cashier)
    next_day = open_session(cashier, "D1", business_date=TODAY + timedelta(days=1))
    reversal = reverse_receipt(reversed_, requester=cashier, approver=supervisor, session=next_day)
    other = open_session(cashier_b, "D2")
    by_b = post(other, [utility(account.number, "10.00")], [counter.cash("10.00")])
    PayerNote.objects.create(
        kind="utility", ref=account.number, text="Asked for a payment plan", author=cashier_b
    )
    return {
        "kept": kept,
        "voided": voided,
        "reversed": reversed_,
        "reversal": reversal,
        "by_b": by_b,
    }


def test_inquiry_shows_balance_payments_with_status_notes_and_history(
    client_for, cashier, account, history
):
    response = client_for(cashier).get(url("utility", account.number))

    assert response.status_code == 200
    payer = response.context["payer"]
    # 120 - 30 (kept) - 10 (cashier_b); the void and the reversal gave theirs back.
    assert payer.balance == D("80.00")
    rows = {row.receipt.pk: row for row in payer.payment_rows}
    assert rows[history["kept"].pk].status_label == "Posted"
    assert rows[history["voided"].pk].status_label == "VOID"
    assert rows[history["reversed"].pk].status_label == f"Reversed by {history['reversal']}"
    assert rows[history["reversal"].pk].status_label == f"Reversal of {history['reversed']}"
    assert rows[history["reversal"].pk].line.amount == D("-20.00")
    assert payer.totals.count == 5
    assert payer.totals.paid == D("40.00")  # 30 + 20 - 20 + 10
    assert payer.totals.voided == D("15.00")
    assert payer.returned_checks == []

    html = response.content.decode()
    assert "80.00" in html
    for key in ("kept", "voided", "reversed", "reversal"):
        assert str(history[key]) in html
    assert "VOID" in html
    assert f"Reversed by {history['reversal']}" in html
    assert "Returned checks" in html
    assert "No returned checks." in html
    assert "Asked for a payment plan" in html
    # Casey may open her receipts, not Jordan's.
    assert f'href="{history["kept"].get_absolute_url()}"' in html
    assert f'href="{history["by_b"].get_absolute_url()}"' not in html

    # The account's history: created, then every balance change with its reason.
    timeline = response.context["timeline"]
    assert timeline
    assert timeline[-1].pgh_label == "insert"
    reasons = [event.pgh_context.get("reason") for event in timeline if event.pgh_context]
    assert f"Void of receipt {history['voided']}: Keyed the wrong account" in reasons
    assert "History" in html


def test_supervisor_may_open_every_receipt(client_for, supervisor, account, history):
    html = client_for(supervisor).get(url("utility", account.number)).content.decode()
    assert f'href="{history["by_b"].get_absolute_url()}"' in html


def test_inquiry_queries_do_not_grow_with_the_number_of_receipts(
    client_for, counter, cashier, supervisor, account, monkeypatch
):
    monkeypatch.setattr("cashiering.inquiry.INQUIRY_LINES_PER_PAGE", 5)
    session = open_session(cashier, "D1")
    client = client_for(supervisor)
    client.get(reverse("home"))  # the first request after sign-in renews the session

    def count_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url("utility", account.number))
        assert response.status_code == 200
        return len(queries)

    post(session, [utility(account.number, "1.00")], [counter.cash("1.00")])
    few = count_queries()
    for _ in range(12):
        post(session, [utility(account.number, "1.00")], [counter.cash("1.00")])
    receipt = post(session, [utility(account.number, "1.00")], [counter.cash("1.00")])
    void(receipt, requester=cashier, approver=supervisor)
    PayerNote.objects.create(kind="utility", ref=account.number, text="Called", author=cashier)
    many = count_queries()

    assert many == few
    assert many <= 14

    # 14 lines, 5 to a page, newest first: the last page holds the 4 oldest.
    response = client.get(url("utility", account.number), {"page": 3})
    rows = response.context["payer"].payment_rows
    assert [row.receipt.number for row in rows] == [4, 3, 2, 1]
    assert response.context["payer"].totals.count == 14


def test_invoice_inquiry_shows_amount_due(client_for, counter, cashier, ar_invoice):
    session = open_session(cashier, "D1")
    post(session, [invoice(ar_invoice.number, "100.00")], [counter.cash("100.00")])

    response = client_for(cashier).get(url("invoice", ar_invoice.number))

    assert response.context["payer"].amount_due == D("150.00")
    assert response.context["payer"].record == ar_invoice
    html = response.content.decode()
    assert "Amount due" in html
    assert "150.00" in html
    assert "False alarm response" in html


def test_unknown_payers_and_kinds_are_not_found(client_for, cashier, account):
    client = client_for(cashier)
    assert client.get(url("utility", "999999-99")).status_code == 404
    assert client.get(url("fee", "COPY")).status_code == 404  # fee items owe nothing
    assert client.get(url("parking", "X1")).status_code == 404


def test_inquiry_permissions(client_for, personas, account):
    for name in ("cashier", "technician", "supervisor"):
        assert client_for(personas[name]).get(url("utility", account.number)).status_code == 200
        assert client_for(personas[name]).get(SEARCH).status_code == 200
    assert client_for(personas["outsider"]).get(url("utility", account.number)).status_code == 403
    assert client_for(personas["outsider"]).get(SEARCH).status_code == 403


def test_search_finds_payers_by_number_name_and_address(client_for, cashier, account, ar_invoice):
    client = client_for(cashier)

    response = client.get(SEARCH, {"q": "104455"})
    assert [row.ref for row, _ in response.context["results"]] == ["104455-01"]
    assert f'href="{url("utility", "104455-01")}"' in response.content.decode()

    response = client.get(SEARCH, {"q": "maria meeker"})
    assert [row.ref for row, _ in response.context["results"]] == ["104455-01"]

    response = client.get(SEARCH, {"q": "valley auto"})
    assert [(row.kind, row.ref) for row, _ in response.context["results"]] == [
        ("invoice", "INV-24001")
    ]

    # Fee items are in the counter's index but nobody owes them.
    response = client.get(SEARCH, {"q": "copies"})
    assert response.context["results"] == []
    assert "No payer matches" in response.content.decode()

    response = client.get(SEARCH, {"q": "m"})
    assert response.context["too_short"]


def test_note_added_and_card_numbers_refused(client_for, cashier, account):
    client = client_for(cashier)
    note_url = reverse("cashiering:note-add", args=["utility", account.number])

    response = client.post(note_url, {"text": "Promised to pay Friday"})

    assert response.status_code == 302
    note = PayerNote.objects.get()
    assert (note.kind, note.ref, note.text, note.author) == (
        "utility",
        account.number,
        "Promised to pay Friday",
        cashier,
    )

    response = client.post(note_url, {"text": f"Pays with card {CARD}"})
    assert response.status_code == 400
    assert "This looks like a full card number." in response.content.decode()
    response = client.post(note_url, {"text": "  "})
    assert response.status_code == 400
    assert "Write the note." in response.content.decode()
    assert PayerNote.objects.count() == 1

    missing = reverse("cashiering:note-add", args=["utility", "999999-99"])
    assert client.post(missing, {"text": "Hello"}).status_code == 404
    assert client.get(note_url).status_code == 405


def test_outsider_cannot_add_notes(client_for, outsider, account):
    note_url = reverse("cashiering:note-add", args=["utility", account.number])
    assert client_for(outsider).post(note_url, {"text": "Hi"}).status_code == 403
    assert not PayerNote.objects.exists()
