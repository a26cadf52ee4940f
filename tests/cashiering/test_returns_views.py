"""Returned-check pages, the counter's and the inquiry's payer warning, refund pages."""

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from cashiering.models import RefundRequest, ReturnedCheck, UtilityAccount
from cashiering.services.refunds import refund_approve, refund_request_create, refund_verify
from cashiering.services.returns import returned_check_process
from tests.cashiering.factories import counter_setup, make_account, open_session, post, utility
from tests.cashiering.returns_factories import (
    check_tender,
    deposit_session,
    returned_item_line,
    technician_b,
)

D = Decimal
RETURNED = date(2026, 3, 20)
NOW = date(2026, 3, 31)
PDF = b"%PDF-1.7\n%%EOF\n"
WARNING = "2 returned checks in the last 12 months — take cash, card or money order"


@pytest.fixture
def counter(db):
    return counter_setup()


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch):
    monkeypatch.setattr("cashiering.selectors.returns.today", lambda: NOW)
    monkeypatch.setattr("cashiering.services.returns.today", lambda: NOW)


@pytest.fixture
def account(counter):
    return make_account("500100-01", balance="300.00", name="Jo Bounce")


def _deposited(counter, cashier, account, *, number, drawer="D1", amount="100.00"):
    session = open_session(cashier, drawer)
    receipt = post(
        session,
        [utility(account.number, amount)],
        [counter.check(amount, number=number, payer="Jo Bounce")],
    )
    deposit_session(session)
    return receipt


# --- returned checks --------------------------------------------------------------------


def test_technician_records_a_returned_check_from_the_receipt(
    client_for, counter, cashier, technician, account
):
    receipt = _deposited(counter, cashier, account, number="8080")
    tender = check_tender(receipt)
    client = client_for(technician)
    page = client.get(reverse("cashiering:receipt-detail", args=[receipt.pk]))
    new_url = reverse("cashiering:returned-check-new", args=[tender.pk])
    assert new_url in page.content.decode()

    found = client.get(reverse("cashiering:returned-check-find"), {"check_number": "8080"})
    assert "Process returned check #8080" in found.content.decode()

    response = client.post(
        new_url, {"reason": "nsf", "returned_on": "2026-03-20", "fee": "on", "note": ""}
    )
    returned = ReturnedCheck.objects.get()
    assert response.status_code == 302 and response["Location"] == returned.get_absolute_url()
    assert UtilityAccount.objects.get(pk=account.pk).balance == D("300.00")
    detail = client.get(returned.get_absolute_url()).content.decode()
    assert "Returned check RC-" in detail and "Insufficient funds" in detail


def test_refusal_is_shown_on_the_form(client_for, counter, cashier, technician, account):
    session = open_session(cashier)
    receipt = post(session, [utility(account.number, "10.00")], [counter.check("10.00")])
    client = client_for(technician)
    response = client.post(
        reverse("cashiering:returned-check-new", args=[check_tender(receipt).pk]),
        {"reason": "nsf", "returned_on": "2026-03-20"},
    )
    assert response.status_code == 200
    assert "has not been deposited yet" in response.content.decode()
    assert not ReturnedCheck.objects.exists()


def test_cashier_cannot_open_returned_check_pages(client_for, counter, cashier, account):
    receipt = _deposited(counter, cashier, account, number="1")
    client = client_for(cashier)
    tender_url = reverse("cashiering:returned-check-new", args=[check_tender(receipt).pk])
    assert client.get(tender_url).status_code == 403
    assert client.get(reverse("cashiering:returned-checks")).status_code == 403
    page = client.get(reverse("cashiering:receipt-detail", args=[receipt.pk]))
    assert tender_url not in page.content.decode()


def test_bank_items_are_confirmed_or_dismissed(client_for, counter, cashier, technician, account):
    receipt = _deposited(counter, cashier, account, number="4417")
    line = returned_item_line("100.00", description="RETURN ITEM NSF CHK 4417")
    stray = returned_item_line("33.00", description="RETURN ITEM")
    client = client_for(technician)
    page = client.get(reverse("cashiering:returned-items")).content.decode()
    assert "Check #4417 from Jo Bounce" in page
    assert "No deposited counter check of this amount was found." in page

    response = client.post(
        reverse("cashiering:returned-item-process", args=[line.pk]),
        {
            "tender": check_tender(receipt).pk,
            "reason": "nsf",
            "returned_on": "2026-03-20",
            "fee": "on",
        },
    )
    returned = ReturnedCheck.objects.get(bank_transaction=line)
    assert response["Location"] == returned.get_absolute_url()
    assert returned.fee_amount == D("40.00")

    client.post(reverse("cashiering:returned-item-dismiss", args=[stray.pk]), {"note": "Bank fee"})
    assert ReturnedCheck.objects.get(bank_transaction=stray).status == "dismissed"
    page = client.get(reverse("cashiering:returned-items")).content.decode()
    assert "No returned items are waiting." in page
    # A handled line is gone for good.
    again = client.post(
        reverse("cashiering:returned-item-dismiss", args=[stray.pk]), {"note": "Again"}
    )
    assert again.status_code == 404


def test_returned_check_list_queries_do_not_grow(
    client_for, counter, cashier, technician, account, django_assert_max_num_queries
):
    for index, drawer in enumerate(("D1", "D2", "D3")):
        receipt = _deposited(counter, cashier, account, number=str(index), drawer=drawer)
        returned_check_process(
            tender=check_tender(receipt), reason="nsf", returned_on=RETURNED, user=technician
        )
    client = client_for(technician)
    client.get(reverse("cashiering:returned-checks"))
    with django_assert_max_num_queries(8):
        response = client.get(reverse("cashiering:returned-checks"))
    assert response.content.decode().count("RC-") == 3


# --- the payer warning ------------------------------------------------------------------


def _two_returns(counter, cashier, technician, account):
    for number, drawer in (("71", "D1"), ("72", "D2")):
        receipt = _deposited(counter, cashier, account, number=number, drawer=drawer)
        returned_check_process(
            tender=check_tender(receipt), reason="nsf", returned_on=RETURNED, user=technician
        )


def test_counter_warns_before_taking_a_check(client_for, counter, cashier, technician, account):
    _two_returns(counter, cashier, technician, account)
    session = open_session(cashier, "D3")
    client = client_for(cashier)
    row = client.get(
        reverse("cashiering:receipt-line", args=[session.pk]),
        {"kind": "utility", "ref": account.number},
    )
    assert WARNING in row.content.decode()


def test_inquiry_shows_returned_checks_and_the_warning(
    client_for, counter, cashier, technician, account
):
    _two_returns(counter, cashier, technician, account)
    page = client_for(cashier).get(reverse("cashiering:inquiry", args=["utility", account.number]))
    html = page.content.decode()
    assert WARNING in html
    section = html[
        html.index('id="returned-heading"') : html.index(
            "</section>", html.index('id="returned-heading"')
        )
    ]
    assert section.count("Insufficient funds") == 2
    assert "<td>71</td>" in section and "<td>72</td>" in section


def test_no_warning_after_one_return(client_for, counter, cashier, technician, account):
    receipt = _deposited(counter, cashier, account, number="5")
    returned_check_process(
        tender=check_tender(receipt), reason="nsf", returned_on=RETURNED, user=technician
    )
    page = client_for(cashier).get(reverse("cashiering:inquiry", args=["utility", account.number]))
    assert "returned check in the last" not in page.content.decode()
    assert "take cash, card or money order" not in page.content.decode()


# --- refunds ----------------------------------------------------------------------------


@pytest.fixture
def credit(counter):
    return make_account("500200-01", balance="-75.00", name="Ada Credit")


def _form(amount="25.00", **extra):
    data = {
        "payee_name": "Ada Credit",
        "payee_address": "9 Elm St, Kent WA 98030",
        "amount": amount,
        "reason": "Moved away",
    }
    data.update(extra)
    return data


def test_refund_request_through_the_pages(client_for, credit, technician, supervisor):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = client_for(technician)
    inquiry = client.get(reverse("cashiering:inquiry", args=["utility", credit.number]))
    new_url = reverse("cashiering:refund-new", args=["utility", credit.number])
    assert new_url in inquiry.content.decode()

    fake = SimpleUploadedFile("bill.pdf", b"<html>not a pdf</html>", "application/pdf")
    response = client.post(new_url, _form(documents=[fake]))
    assert response.status_code == 200
    assert "bill.pdf is not a PDF, JPEG or PNG file" in response.content.decode()
    too_much = client.post(new_url, _form(amount="75.01"))
    assert "has 75.00 available to refund" in too_much.content.decode()
    assert not RefundRequest.objects.exists()

    real = SimpleUploadedFile("bill.pdf", PDF, "application/pdf")
    response = client.post(new_url, _form(documents=[real]))
    refund = RefundRequest.objects.get()
    assert response["Location"] == refund.get_absolute_url()

    # The requester is told another technician verifies it; the supervisor cannot yet approve.
    own = client.post(reverse("cashiering:refund-verify", args=[refund.pk]), follow=True)
    assert "Another technician verifies" in own.content.decode()
    client_for(technician_b()).post(reverse("cashiering:refund-verify", args=[refund.pk]))
    refund.refresh_from_db()
    assert refund.status == RefundRequest.Status.VERIFIED

    boss = client_for(supervisor)
    document = refund.documents.get()
    download = boss.get(reverse("cashiering:refund-document", args=[refund.pk, document.pk]))
    assert download.content == PDF and download["Content-Type"] == "application/pdf"
    assert "attachment" in download["Content-Disposition"]

    boss.post(reverse("cashiering:refund-approve", args=[refund.pk]), {"note": ""})
    refund.refresh_from_db()
    assert refund.status == RefundRequest.Status.APPROVED
    assert UtilityAccount.objects.get(pk=credit.pk).balance == D("-50.00")

    export = boss.post(reverse("cashiering:refund-export", args=["csv"]))
    assert export["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(export.content.decode())))
    assert rows[1][0] == f"REFUND-{refund.number}" and rows[1][3] == "25.00"
    refund.refresh_from_db()
    again = boss.get(reverse("cashiering:refund-batch", args=[refund.export_batch, "csv"]))
    assert "reexport" in again["Content-Disposition"]
    assert list(csv.reader(io.StringIO(again.content.decode())))[1][-1] == "yes"


def test_refund_pages_by_role(client_for, credit, cashier, technician, supervisor):
    refund = refund_request_create(
        kind="utility",
        ref=credit.number,
        payee_name="Ada Credit",
        payee_address="9 Elm St",
        amount=D("10.00"),
        reason="Moved",
        documents=[PDF],
        user=technician,
    )
    document = refund.documents.get()
    cashier_client = client_for(cashier)
    for url in (
        reverse("cashiering:refund-detail", args=[refund.pk]),
        reverse("cashiering:refund-document", args=[refund.pk, document.pk]),
        reverse("cashiering:refunds"),
    ):
        assert cashier_client.get(url).status_code == 403
    assert (
        cashier_client.post(reverse("cashiering:refund-approve", args=[refund.pk])).status_code
        == 403
    )
    boss = client_for(supervisor)
    assert boss.get(reverse("cashiering:refund-detail", args=[refund.pk + 999])).status_code == 404
    assert (
        boss.get(
            reverse("cashiering:refund-document", args=[refund.pk, document.pk + 999])
        ).status_code
        == 404
    )
    assert (
        boss.get(reverse("cashiering:refund-new", args=["utility", credit.number])).status_code
        == 403
    )


def test_refund_list_queries_do_not_grow(
    client_for, credit, technician, supervisor, django_assert_max_num_queries
):
    checker = technician_b()
    for _ in range(4):
        refund = refund_request_create(
            kind="utility",
            ref=credit.number,
            payee_name="Ada Credit",
            payee_address="9 Elm St",
            amount=D("5.00"),
            reason="Moved",
            user=technician,
        )
        refund_verify(refund=refund, user=checker)
        refund_approve(refund=refund, user=supervisor, entry_date=RETURNED)
    client = client_for(supervisor)
    client.get(reverse("cashiering:refunds"))
    with django_assert_max_num_queries(10):
        response = client.get(reverse("cashiering:refunds"))
    assert "Export for accounts payable (CSV)" in response.content.decode()
