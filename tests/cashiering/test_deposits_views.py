"""Deposit pages: preparing a deposit in the browser's two steps, refusals shown where
they belong, the list's query count, the slip as a print view and a PDF, roles."""

import uuid
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cashiering.models import CashierSession, Deposit
from cashiering.services.deposits import deposit_prepare
from tests.cashiering.deposit_factories import balance, build_day
from tests.cashiering.factories import counter_setup, fee, open_session, post, rolled_back
from tests.factories import TODAY

D = Decimal
PREPARE = reverse("cashiering:deposit-prepare")


@pytest.fixture(scope="module")
def _counter_once(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), rolled_back():
        yield counter_setup()


@pytest.fixture
def counter(_counter_once, db):
    return _counter_once


@pytest.fixture
def day(counter, cashier, cashier_b, supervisor):
    return build_day(counter, cashier, cashier_b, supervisor)


def _form_data(sessions, **counts) -> dict:
    data = {
        "sessions": [str(s.pk) for s in sessions],
        "idempotency_key": str(uuid.uuid4()),
        "deposit_date": "2026-03-17",
        "bank_account": str(_default_bank().pk),
        "coin_total": "",
    }
    data.update(counts)
    return data


def _default_bank():
    from ledger.models import BankAccount

    return BankAccount.objects.get(is_default=True)


def test_technician_chooses_sessions_and_sees_their_checks(day, client, technician):
    first, second_b, again = day
    client.force_login(technician)
    page = client.get(PREPARE).content.decode()
    for session in day:
        assert f'name="session" value="{session.pk}"' in page
    assert "120.00" in page and "60.00" in page

    chosen = client.get(PREPARE, {"session": [first.pk, second_b.pk, again.pk]})
    text = chosen.content.decode()
    assert [f.session for f in chosen.context["chosen"]] == [first, second_b, again]
    assert chosen.context["chosen_totals"]["cash"] == D("180.00")
    assert "1042" in text and "Dana Whitfield" in text and "MO-55501234" in text
    assert "2001" not in text  # the voided check
    assert "Prepare deposit" in text


def test_posting_the_form_prepares_the_deposit(day, client, technician):
    client.force_login(technician)
    data = _form_data(
        day, count_100_00="1", count_20_00="3", count_5_00="3", count_1_00="4", count_0_25="4"
    )
    response = client.post(PREPARE, data)
    deposit = Deposit.objects.get(kind="cash_check")
    assert response.status_code == 302
    assert response["Location"] == deposit.get_absolute_url()
    assert deposit.total == D("240.00")
    assert set(CashierSession.objects.values_list("status", flat=True)) == {"deposited"}
    again = client.post(PREPARE, data)  # the same form submitted twice
    assert again["Location"] == deposit.get_absolute_url()
    assert Deposit.objects.count() == 3
    detail = client.get(deposit.get_absolute_url()).content.decode()
    assert f"Deposit {deposit.number} prepared for 240.00" in detail
    assert deposit.journal_entry.get_absolute_url() in detail
    assert "Card settlement" in detail and "ACH settlement" in detail


def test_a_wrong_count_is_shown_at_the_currency_and_nothing_is_written(day, client, technician):
    client.force_login(technician)
    response = client.post(PREPARE, _form_data(day, count_100_00="2"))
    assert response.status_code == 200
    assert response.context["errors"]["currency"] == [
        "The currency and coin entered total 200.00, but the sessions' counted cash less "
        "their opening floats is 180.00. Recount the deposit."
    ]
    assert 'id="currency-error"' in response.content.decode()
    assert not Deposit.objects.exists()
    response = client.post(PREPARE, _form_data(day, deposit_date="2026-03-15"))
    assert response.context["form"].errors["deposit_date"] == [
        "The deposit date 2026-03-15 is before the business date 2026-03-16 of a chosen session."
    ]
    response = client.post(PREPARE, {**_form_data(day), "sessions": []})
    assert response.context["errors"]["sessions"] == [
        "Choose at least one balanced session to deposit."
    ]


def test_only_technicians_prepare_deposits(day, client, cashier, supervisor):
    for user in (cashier, supervisor):
        client.force_login(user)
        assert client.get(PREPARE).status_code == 403
        assert client.post(PREPARE, _form_data(day, count_100_00="1")).status_code == 403
    assert not Deposit.objects.exists()


def test_slip_print_lists_every_check_and_the_pdf_is_a_pdf(day, client, technician, supervisor):
    deposit = deposit_prepare(
        sessions=list(day),
        currency_count={"100.00": 1, "20.00": 3, "5.00": 3, "1.00": 4, "0.25": 4},
        idempotency_key=uuid.uuid4(),
        user=technician,
        deposit_date=TODAY,
    )
    client.force_login(supervisor)
    page = client.get(reverse("cashiering:deposit-slip-print", args=[deposit.pk]))
    text = page.content.decode()
    assert page.status_code == 200
    for fragment in (
        "Deposit slip 1",
        "Operating account …9937",
        "125000105",
        "$100 bills",
        "Quarters",
        "1042",
        "Dana Whitfield",
        "MO-55501234",
        "Maria Lopez",
        "240.00",
        "Prepared by",
    ):
        assert fragment in text, fragment
    assert text.count("<tr><td>1</td>") == 1 and "<tr><td>2</td>" in text
    pdf = client.get(reverse("cashiering:deposit-slip-pdf", args=[deposit.pk]))
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    client.force_login(day[0].cashier)
    assert client.get(reverse("cashiering:deposit-slip-pdf", args=[deposit.pk])).status_code == 403


def _deposit_one(counter, cashier, technician, drawer: str):
    session = open_session(cashier, drawer)
    post(session, [fee("PET")], [counter.cash("30.00"), counter.check("10.00")], payer="A")
    balance(session)
    return deposit_prepare(
        sessions=[session],
        currency_count={"20.00": 1},
        idempotency_key=uuid.uuid4(),
        user=technician,
        deposit_date=TODAY,
    )


def test_deposit_list_query_count_does_not_grow(counter, client, cashier, technician):
    _deposit_one(counter, cashier, technician, "D1")
    client.force_login(technician)
    url = reverse("cashiering:deposits")
    client.get(url)  # session renewal and permission cache on the first request
    with CaptureQueriesContext(connection) as one:
        response = client.get(url)
    assert len(response.context["page"].object_list) == 1
    for drawer in ("D2", "D3", "D4", "D5"):
        _deposit_one(counter, cashier, technician, drawer)
    with CaptureQueriesContext(connection) as five:
        response = client.get(url)
    assert len(response.context["page"].object_list) == 5
    assert len(five) == len(one)
    assert len(one) == 3  # the session with its user and their permissions, count, page
    assert response.context["page"].object_list[0].session_count == 1


def test_deposit_pages_are_for_back_office_roles(counter, client, cashier, technician, supervisor):
    deposit = _deposit_one(counter, cashier, technician, "D1")
    for user in (technician, supervisor):
        client.force_login(user)
        assert client.get(reverse("cashiering:deposits")).status_code == 200
        assert client.get(deposit.get_absolute_url()).status_code == 200
    client.force_login(cashier)
    assert client.get(reverse("cashiering:deposits")).status_code == 403
    assert client.get(deposit.get_absolute_url()).status_code == 403
    client.force_login(technician)
    assert (
        client.get(reverse("cashiering:deposit-detail", args=[deposit.pk + 99])).status_code == 404
    )
