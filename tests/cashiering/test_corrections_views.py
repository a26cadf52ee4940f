"""Voids and reversals through the pages: a cashier asks, a supervisor decides."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.urls import reverse

from cashiering.models import CashierSession, CorrectionRequest, Receipt, UtilityAccount
from cashiering.services.sessions import session_close
from kent_cs.roles import Role
from tests.cashiering.factories import (
    UNDEPOSITED,
    UTILITY_RECEIVABLE,
    counter_setup,
    gl_balance,
    make_account,
    open_session,
    post,
    unbalanced_entries,
    utility,
)
from tests.factories import TODAY, make_user

D = Decimal
CORRECTIONS = reverse("cashiering:corrections")


@pytest.fixture
def counter(db):
    return counter_setup()


@pytest.fixture
def account(counter):
    return make_account(number="104455-01", balance="120.00")


@pytest.fixture
def paid(counter, cashier, account):
    """Casey's open session, and a 50.00 cash payment on the account (120 -> 70)."""
    session = open_session(cashier, "D1")
    receipt = post(session, [utility(account.number, "50.00")], [counter.cash("50.00")])
    return receipt


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def last_message(response) -> str:
    """The message this response added (the test client keeps earlier, unread ones)."""
    return messages_of(response)[-1]


def request_void(client, receipt, reason="Keyed the wrong account"):
    return client.post(reverse("cashiering:void-request", args=[receipt.pk]), {"reason": reason})


def test_void_requested_by_cashier_and_approved_by_supervisor(
    client_for, paid, counter, cashier, supervisor, account
):
    account.refresh_from_db()
    assert account.balance == D("70.00")
    assert gl_balance(UNDEPOSITED, counter.accounts) == D("50.00")

    response = request_void(client_for(cashier), paid)

    assert response.status_code == 302
    assert response["Location"] == CORRECTIONS
    correction = CorrectionRequest.objects.get(receipt=paid)
    assert (correction.kind, correction.status) == ("void", "pending")
    assert correction.requested_by == cashier
    assert correction.reason == "Keyed the wrong account"
    assert f"Void of receipt {paid} requested" in last_message(response)

    client = client_for(supervisor)
    page = client.get(CORRECTIONS)
    assert page.status_code == 200
    assert page.context["queue"].pending == [correction]
    html = page.content.decode()
    assert "Approve void" in html
    assert "Keyed the wrong account" in html
    assert str(paid) in html

    response = client.post(reverse("cashiering:correction-approve", args=[correction.pk]))

    assert response.status_code == 302
    assert f"Void of receipt {paid} approved" in last_message(response)
    paid.refresh_from_db()
    assert paid.status == Receipt.Status.VOIDED
    assert paid.void_entry is not None
    assert paid.void_entry.reverses_id == paid.journal_entry_id
    account.refresh_from_db()
    assert account.balance == D("120.00")
    assert gl_balance(UNDEPOSITED, counter.accounts) == D("0.00")
    assert gl_balance(UTILITY_RECEIVABLE, counter.accounts) == D("0.00")
    assert unbalanced_entries() == []
    correction.refresh_from_db()
    assert (correction.status, correction.decided_by) == ("approved", supervisor)

    # A second press of the button changes nothing and says why.
    response = client.post(reverse("cashiering:correction-approve", args=[correction.pk]))
    assert "This request was already approved." in last_message(response)
    account.refresh_from_db()
    assert account.balance == D("120.00")

    # The decided request moves below, with who decided it.
    page = client.get(CORRECTIONS)
    assert page.context["queue"].pending == []
    assert list(page.context["page"]) == [correction]


def test_requester_cannot_approve_own_request(client_for, counter, account):
    lead = make_user("lead", Role.SUPERVISOR)
    lead.groups.add(Group.objects.get(name=str(Role.CASHIER)))
    session = open_session(lead, "D2")
    receipt = post(session, [utility(account.number, "20.00")], [counter.cash("20.00")])
    client = client_for(lead)
    request_void(client, receipt)
    correction = CorrectionRequest.objects.get(receipt=receipt)

    page = client.get(CORRECTIONS)
    html = page.content.decode()
    assert "Your own request: another supervisor decides it." in html
    assert "Approve void" not in html

    response = client.post(reverse("cashiering:correction-approve", args=[correction.pk]))

    assert response.status_code == 302
    assert "You cannot approve or reject your own request." in last_message(response)
    correction.refresh_from_db()
    assert correction.status == "pending"
    receipt.refresh_from_db()
    assert receipt.status == Receipt.Status.POSTED


def test_cashier_cannot_request_a_void_of_another_cashiers_receipt(
    client_for, paid, cashier_b, technician
):
    response = request_void(client_for(cashier_b), paid)
    assert response.status_code == 404
    assert not CorrectionRequest.objects.exists()

    # A technician sees every receipt and may ask for it.
    response = request_void(client_for(technician), paid)
    assert response.status_code == 302
    assert CorrectionRequest.objects.get().requested_by == technician


def test_request_errors_go_back_to_the_receipt_with_the_message(client_for, paid, cashier):
    client = client_for(cashier)

    response = request_void(client, paid, reason="   ")
    assert response.status_code == 302
    assert response["Location"] == paid.get_absolute_url()
    assert messages_of(response) == ["Enter the reason."]

    response = request_void(client, paid, reason="Card 4111 1111 1111 1111 was declined")
    assert "full card number" in last_message(response)

    request_void(client, paid)
    response = request_void(client, paid)
    assert response["Location"] == paid.get_absolute_url()
    assert "already waiting for approval" in last_message(response)
    assert CorrectionRequest.objects.count() == 1


def test_who_may_request_and_decide(client_for, paid, supervisor, outsider, cashier):
    # Supervisors do not take payments, so they do not ask for voids either.
    assert request_void(client_for(supervisor), paid).status_code == 403
    assert client_for(outsider).get(CORRECTIONS).status_code == 403
    assert (
        client_for(cashier).get(reverse("cashiering:void-request", args=[paid.pk])).status_code
        == 405
    )

    request_void(client_for(cashier), paid)
    correction = CorrectionRequest.objects.get()
    client = client_for(cashier)
    assert (
        client.post(reverse("cashiering:correction-approve", args=[correction.pk])).status_code
        == 403
    )
    response = client.post(
        reverse("cashiering:correction-reject", args=[correction.pk]), {"note": "Mine"}
    )
    assert response.status_code == 403
    correction.refresh_from_db()
    assert correction.status == "pending"


def test_supervisor_rejects_with_a_note(client_for, paid, cashier, cashier_b, supervisor, account):
    request_void(client_for(cashier), paid, reason="Customer changed their mind")
    correction = CorrectionRequest.objects.get()
    client = client_for(supervisor)
    reject_url = reverse("cashiering:correction-reject", args=[correction.pk])

    response = client.post(reject_url, {"note": ""})
    assert "Say why the request is rejected." in last_message(response)
    correction.refresh_from_db()
    assert correction.status == "pending"

    response = client.post(reject_url, {"note": "Payment stands; the customer asked for a refund"})

    assert response.status_code == 302
    assert f"Void of receipt {paid} rejected." in last_message(response)
    correction.refresh_from_db()
    assert correction.status == "rejected"
    assert correction.decided_by == supervisor
    assert correction.decision_note == "Payment stands; the customer asked for a refund"
    paid.refresh_from_db()
    assert paid.status == Receipt.Status.POSTED
    account.refresh_from_db()
    assert account.balance == D("70.00")

    # The cashier sees the outcome of their own request; another cashier sees nothing.
    page = client_for(cashier).get(CORRECTIONS)
    assert list(page.context["page"]) == [correction]
    html = page.content.decode()
    assert "Rejected" in html
    assert "Payment stands; the customer asked for a refund" in html
    assert "Approve void" not in html
    page = client_for(cashier_b).get(CORRECTIONS)
    assert page.context["queue"].pending == []
    assert list(page.context["page"]) == []


def test_reversal_after_close_posts_a_negative_receipt_in_the_requesters_open_session(
    client_for, paid, counter, cashier, supervisor, account
):
    session_close(session=paid.session, user=cashier)
    client = client_for(cashier)

    # Once the session has closed, a void is refused with what to do instead.
    response = request_void(client, paid)
    assert "request a reversal instead" in last_message(response)

    # Without an open session there is nowhere for the negative receipt to go.
    response = client.post(
        reverse("cashiering:reversal-request", args=[paid.pk]), {"reason": "Wrong account"}
    )
    assert "Open a session first" in last_message(response)

    next_day = open_session(cashier, "D1", business_date=TODAY + timedelta(days=1))
    response = client.post(
        reverse("cashiering:reversal-request", args=[paid.pk]),
        {"reason": "Paid on the wrong account", "session": next_day.pk},
    )
    assert response.status_code == 302
    correction = CorrectionRequest.objects.get(kind="reversal")
    assert correction.target_session == next_day

    page = client_for(supervisor).get(CORRECTIONS)
    assert "Approve reversal" in page.content.decode()
    response = client_for(supervisor).post(
        reverse("cashiering:correction-approve", args=[correction.pk])
    )

    correction.refresh_from_db()
    reversal = correction.reversal_receipt
    assert reversal is not None
    assert f"receipt {reversal} for -50.00 posted" in last_message(response)
    assert reversal.session == next_day
    assert reversal.business_date == next_day.business_date
    assert reversal.total == D("-50.00")
    assert reversal.reverses == paid
    assert [line.amount for line in reversal.lines.all()] == [D("-50.00")]
    paid.refresh_from_db()
    assert paid.status == Receipt.Status.POSTED  # the original stands; the reversal undoes it
    account.refresh_from_db()
    assert account.balance == D("120.00")
    assert gl_balance(UNDEPOSITED, counter.accounts) == D("0.00")
    assert gl_balance(UTILITY_RECEIVABLE, counter.accounts) == D("0.00")
    assert unbalanced_entries() == []


def test_reversal_cannot_post_into_someone_elses_session(client_for, paid, cashier, cashier_b):
    session_close(session=paid.session, user=cashier)
    other = open_session(cashier_b, "D2")
    response = client_for(cashier).post(
        reverse("cashiering:reversal-request", args=[paid.pk]),
        {"reason": "Wrong account", "session": other.pk},
    )
    assert response["Location"] == paid.get_absolute_url()
    assert "Open a session first" in last_message(response)
    assert not CorrectionRequest.objects.exists()
    assert CashierSession.objects.filter(cashier=cashier, status="open").count() == 0
    assert UtilityAccount.objects.get().balance == D("70.00")


def test_correction_list_query_count_does_not_grow(
    client_for, counter, cashier, supervisor, account, django_assert_max_num_queries
):
    session = open_session(cashier, "D1")
    for index in range(8):
        receipt = post(session, [utility(account.number, "1.00")], [counter.cash("1.00")])
        request_void(client_for(cashier), receipt)
        if index % 2:
            correction = CorrectionRequest.objects.get(receipt=receipt)
            client_for(supervisor).post(
                reverse("cashiering:correction-reject", args=[correction.pk]), {"note": "No"}
            )
    client = client_for(supervisor)
    # Session, user, permissions (2), pending, decided count and page, session save (3).
    with django_assert_max_num_queries(10):
        page = client.get(CORRECTIONS)
    assert len(page.context["queue"].pending) == 4
    assert len(page.context["page"]) == 4
