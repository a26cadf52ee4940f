"""The counter screen: sessions, receipt entry through the view, receipts, printing."""

import uuid
from decimal import Decimal

import pytest
from django.urls import reverse

from cashiering.models import (
    ARInvoice,
    CashierSession,
    Drawer,
    Receipt,
    ReceiptPrint,
    Tender,
    TenderType,
    UtilityAccount,
)
from cashiering.payables import invoice_index_rows, utility_index_rows
from cashiering.services.receipt_inputs import TENDER_DETAIL_FIELDS, LineInput, TenderInput
from cashiering.services.receipts import receipt_post
from cashiering.services.sessions import session_close, session_open
from cashiering.targets import index_bulk_upsert
from cashiering.validators import CARD_NUMBER_MESSAGE
from tests.factories import TODAY, business_day

D = Decimal
CARD_NUMBER = "4111 1111 1111 1111"  # a test Visa number: passes the Luhn check


@pytest.fixture
def accounts(chart):
    """Two utility accounts and one AR invoice, in the payer index."""
    made = [
        UtilityAccount.objects.create(
            number="100007-23",
            name="John Smith",
            service_address="1234 James St, Kent WA 98032",
            balance=D("84.50"),
        ),
        UtilityAccount.objects.create(
            number="100014-05",
            name="Mary Garcia",
            service_address="88 Meeker St, Kent WA 98030",
            balance=D("120.00"),
        ),
    ]
    invoice = ARInvoice.objects.create(
        number="INV-24001",
        customer_name="Valley Auto Body",
        customer_address="400 W Valley Hwy, Kent WA 98032",
        description="False alarm response",
        amount=D("150.00"),
        amount_due=D("150.00"),
    )
    index_bulk_upsert(utility_index_rows(made))
    index_bulk_upsert(invoice_index_rows([invoice]))
    return {"john": made[0], "mary": made[1], "invoice": invoice}


def open_session(user, drawer_code="D1", training=False):
    with business_day(TODAY):
        return session_open(
            cashier=user,
            drawer=Drawer.objects.get(code=drawer_code),
            business_date=TODAY,
            opening_count={"20.00": 5, "5.00": 10},
            is_training=training,
        )


@pytest.fixture
def session(cashier, chart):
    return open_session(cashier)


def post_data(*, lines, tenders, payer="John Smith", key=None, memo=""):
    """The receipt form as the browser posts it: parallel lists, one value per row."""
    data = {
        "idempotency_key": str(key or uuid.uuid4()),
        "payer_name": payer,
        "memo": memo,
        "line_kind": [],
        "line_ref": [],
        "line_amount": [],
        "line_quantity": [],
        "line_unit_price": [],
        "tender_type": [],
        "tender_amount": [],
        **{f"tender_{name}": [] for name in TENDER_DETAIL_FIELDS},
    }
    for line in lines:
        data["line_kind"].append(line[0])
        data["line_ref"].append(line[1])
        data["line_amount"].append(line[2] if len(line) > 2 else "")
        data["line_quantity"].append(line[3] if len(line) > 3 else "")
        data["line_unit_price"].append(line[4] if len(line) > 4 else "")
    for tender in tenders:
        code, amount, *rest = tender
        extra = rest[0] if rest else {}
        data["tender_type"].append(code)
        data["tender_amount"].append(amount)
        for name in TENDER_DETAIL_FIELDS:
            data[f"tender_{name}"].append(extra.get(name, ""))
    return data


def post_receipt(client, session, data):
    return client.post(reverse("cashiering:receipt-post", args=[session.pk]), data)


def post_directly(session, user, *, amount="84.50", ref="100007-23", cash="100.00"):
    return receipt_post(
        session=session,
        payer_name="John Smith",
        lines=[LineInput(kind="utility", ref=ref, amount=D(amount))],
        tenders=[TenderInput(tender_type=_tender("CASH"), amount=D(cash))],
        idempotency_key=uuid.uuid4(),
        user=user,
    )


def _tender(code):
    from cashiering.models import TenderType

    return TenderType.objects.get(code=code)


# ---------------------------------------------------------------------- posting


def test_cash_payment_posts_one_receipt_and_goes_to_print(client_for, cashier, session, accounts):
    data = post_data(
        lines=[("utility", "100007-23", "84.50"), ("fee", "COPY", "", "3", "0.15")],
        tenders=[("CASH", "100.00")],
    )
    response = post_receipt(client_for(cashier), session, data)

    receipt = Receipt.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("cashiering:receipt-print", args=[receipt.pk])
    assert (receipt.series, receipt.number) == ("R", 1)
    assert receipt.payer_name == "John Smith"
    assert receipt.total == D("84.95")
    assert receipt.tendered == D("100.00")
    assert receipt.change_given == D("15.05")
    lines = list(receipt.lines.order_by("line_no"))
    assert [(line.target_kind, line.target_ref, line.amount) for line in lines] == [
        ("utility", "100007-23", D("84.50")),
        ("fee", "COPY", D("0.45")),
    ]
    assert (lines[1].quantity, lines[1].unit_price) == (D("3"), D("0.15"))
    assert [(t.tender_type.code, t.amount) for t in receipt.tenders.all()] == [
        ("CASH", D("100.00"))
    ]
    assert receipt.journal_entry is not None
    accounts["john"].refresh_from_db()
    assert accounts["john"].balance == D("0.00")


def test_fee_line_without_a_price_takes_the_default_price(client_for, cashier, session, chart):
    data = post_data(lines=[("fee", "PET", "", "2", "")], tenders=[("CASH", "60.00")])
    response = post_receipt(client_for(cashier), session, data)
    assert response.status_code == 302
    line = Receipt.objects.get().lines.get()
    assert (line.quantity, line.unit_price, line.amount) == (D("2"), D("30.00"), D("60.00"))


def test_double_submit_with_the_same_key_gives_one_receipt(client_for, cashier, session, accounts):
    client = client_for(cashier)
    data = post_data(lines=[("utility", "100007-23", "84.50")], tenders=[("CASH", "84.50")])
    first = post_receipt(client, session, data)
    second = post_receipt(client, session, data)
    assert Receipt.objects.count() == 1
    assert first["Location"] == second["Location"]
    accounts["john"].refresh_from_db()
    assert accounts["john"].balance == D("0.00")  # paid once, not twice


def test_same_key_with_different_contents_is_refused(client_for, cashier, session, accounts):
    client = client_for(cashier)
    key = uuid.uuid4()
    post_receipt(
        client,
        session,
        post_data(lines=[("utility", "100007-23", "84.50")], tenders=[("CASH", "84.50")], key=key),
    )
    response = post_receipt(
        client,
        session,
        post_data(lines=[("utility", "100007-23", "80.00")], tenders=[("CASH", "80.00")], key=key),
    )
    assert response.status_code == 200
    assert "already used for a different payment" in response.content.decode()
    assert Receipt.objects.count() == 1
    # The form is shown as typed.
    assert 'value="80.00"' in response.content.decode()


def test_card_number_in_payer_name_is_refused_at_that_field(client_for, cashier, session, accounts):
    data = post_data(
        lines=[("utility", "100007-23", "84.50")],
        tenders=[("CASH", "84.50")],
        payer=f"John {CARD_NUMBER}",
    )
    response = post_receipt(client_for(cashier), session, data)
    form = response.context["form"]
    assert form.payer_name_error == CARD_NUMBER_MESSAGE
    html = response.content.decode()
    assert 'id="payer-name-error">' + CARD_NUMBER_MESSAGE.replace("'", "&#x27;") in html
    # The rest of the form is kept as typed; the card number is not sent back.
    assert "4111" not in html
    assert form.lines[0].amount == "84.50"
    assert Receipt.objects.count() == 0
    assert Tender.objects.count() == 0


def test_card_number_in_a_check_number_is_refused_at_that_field(
    client_for, cashier, session, accounts
):
    data = post_data(
        lines=[("utility", "100007-23", "84.50")],
        tenders=[("CHECK", "84.50", {"check_number": CARD_NUMBER, "check_payer": "J Smith"})],
    )
    response = post_receipt(client_for(cashier), session, data)
    assert response.context["form"].tenders[0].errors["check_number"] == CARD_NUMBER_MESSAGE
    assert Receipt.objects.count() == 0


def test_invoice_overpayment_is_refused_at_the_line(client_for, cashier, session, accounts):
    data = post_data(
        lines=[("invoice", "INV-24001", "200.00")],
        tenders=[("CASH", "200.00")],
        payer="Valley Auto Body",
    )
    response = post_receipt(client_for(cashier), session, data)
    line = response.context["form"].lines[0]
    assert "cannot be overpaid" in line.errors["amount"]
    assert line.item.amount_due == D("150.00")  # shown again with what is due
    assert Receipt.objects.count() == 0
    accounts["invoice"].refresh_from_db()
    assert accounts["invoice"].amount_due == D("150.00")


def test_utility_overpayment_leaves_a_credit(client_for, cashier, session, accounts):
    data = post_data(lines=[("utility", "100007-23", "100.00")], tenders=[("CASH", "100.00")])
    response = post_receipt(client_for(cashier), session, data)
    assert response.status_code == 302
    accounts["john"].refresh_from_db()
    assert accounts["john"].balance == D("-15.50")


def test_card_tender_records_brand_last4_and_auth(client_for, cashier, session, accounts):
    data = post_data(
        lines=[("utility", "100014-05", "120.00")],
        tenders=[
            (
                "CREDIT",
                "120.00",
                {"card_brand": "Visa", "card_last4": "4242", "auth_code": "A1B2C3"},
            )
        ],
        payer="Mary Garcia",
    )
    response = post_receipt(client_for(cashier), session, data)
    assert response.status_code == 302
    tender = Tender.objects.get()
    assert (tender.card_brand, tender.card_last4, tender.auth_code) == ("Visa", "4242", "A1B2C3")
    assert tender.check_number == ""


def test_card_without_last4_is_refused_at_that_field(client_for, cashier, session, accounts):
    data = post_data(
        lines=[("utility", "100014-05", "120.00")],
        tenders=[("CREDIT", "120.00", {"card_brand": "Visa", "auth_code": "A1"})],
    )
    response = post_receipt(client_for(cashier), session, data)
    errors = response.context["form"].tenders[0].errors
    assert errors == {"card_last4": "Enter the last 4 digits of the card."}
    assert 'id="tender-1-card-last4"' in response.content.decode()
    assert Receipt.objects.count() == 0


def test_change_only_from_cash(client_for, cashier, session, accounts):
    data = post_data(
        lines=[("utility", "100007-23", "84.50")],
        tenders=[("CHECK", "100.00", {"check_number": "1001", "check_payer": "John Smith"})],
    )
    response = post_receipt(client_for(cashier), session, data)
    assert "Change can only be given from cash" in response.context["form"].tenders_error
    assert Receipt.objects.count() == 0


def test_short_tender_is_refused(client_for, cashier, session, accounts):
    data = post_data(lines=[("utility", "100007-23", "84.50")], tenders=[("CASH", "50.00")])
    response = post_receipt(client_for(cashier), session, data)
    assert "less than the total" in response.context["form"].tenders_error
    assert Receipt.objects.count() == 0


def test_a_refused_post_offers_every_tender_type_again(client_for, cashier, session, accounts):
    data = post_data(lines=[("utility", "100007-23", "84.50")], tenders=[("CASH", "50.00")])
    response = post_receipt(client_for(cashier), session, data)
    offered = [t.code for t in response.context["tender_types"]]
    assert offered == [t.code for t in TenderType.objects.filter(is_active=True)]
    assert len(offered) > 1 and response.context["form"].tenders[0].kind == "cash"


def test_a_tender_type_deactivated_after_the_last_post_is_refused(
    client_for, cashier, session, accounts
):
    client = client_for(cashier)
    first = post_data(lines=[("utility", "100014-05", "20.00")], tenders=[("CASH", "20.00")])
    assert post_receipt(client, session, first).status_code == 302  # the types are read
    TenderType.objects.filter(code="CHECK").update(is_active=False)

    check = {"check_number": "1044", "check_payer": "John Smith"}
    data = post_data(lines=[("utility", "100007-23", "84.50")], tenders=[("CHECK", "84.50", check)])
    response = post_receipt(client, session, data)

    assert response.status_code == 200
    assert Receipt.objects.count() == 1
    assert "tender 1 type" in response.context["form"].errors


def test_a_post_debits_the_clearing_account_a_tender_type_has_now(
    client_for, cashier, session, accounts, chart
):
    client = client_for(cashier)
    first = post_data(lines=[("utility", "100014-05", "20.00")], tenders=[("CASH", "20.00")])
    assert post_receipt(client, session, first).status_code == 302  # the types are read
    moved_to = chart["001.101.40"]
    TenderType.objects.filter(code="CASH").update(clearing_account=moved_to)

    data = post_data(lines=[("utility", "100007-23", "84.50")], tenders=[("CASH", "100.00")])
    response = post_receipt(client, session, data)

    assert response.status_code == 302
    receipt = Receipt.objects.get(idempotency_key=data["idempotency_key"])
    debits = receipt.journal_entry.lines.filter(debit__gt=0)
    assert [(line.account_id, line.debit) for line in debits] == [(moved_to.pk, D("84.50"))]


def test_posting_refuses_a_tender_type_changed_since_it_was_read(cashier, session, accounts):
    from cashiering.errors import TenderTypesChanged
    from kent_cs.models import NumberSeries

    cash = _tender("CASH")
    TenderType.objects.filter(pk=cash.pk).update(gives_change=False)
    with pytest.raises(TenderTypesChanged):
        receipt_post(
            session=session,
            payer_name="John Smith",
            lines=[LineInput(kind="utility", ref="100007-23", amount=D("84.50"))],
            tenders=[TenderInput(tender_type=cash, amount=D("100.00"))],
            idempotency_key=uuid.uuid4(),
            user=cashier,
        )
    assert not Receipt.objects.exists()
    assert not NumberSeries.objects.filter(key="receipt-R", next_value__gt=1).exists()
    accounts["john"].refresh_from_db()
    assert accounts["john"].balance == D("84.50")


def test_text_in_an_amount_is_refused_at_that_line(client_for, cashier, session, accounts):
    data = post_data(
        lines=[("utility", "100007-23", "84.50"), ("utility", "100014-05", "lots")],
        tenders=[("CASH", "200.00")],
    )
    response = post_receipt(client_for(cashier), session, data)
    form = response.context["form"]
    assert form.lines[1].errors == {"amount": "Enter an amount like 25.00."}
    assert form.lines[0].errors == {}
    assert Receipt.objects.count() == 0


def test_a_damaged_form_is_refused_whole(client_for, cashier, session, accounts):
    data = post_data(lines=[("utility", "100007-23", "84.50")], tenders=[("CASH", "84.50")])
    data["line_amount"] = ["84.50", "1.00"]  # one more amount than lines
    response = post_receipt(client_for(cashier), session, data)
    assert "arrived incomplete" in response.content.decode()
    assert Receipt.objects.count() == 0


def test_posting_into_a_closed_session_is_refused(client_for, cashier, session, accounts):
    session_close(session=session, user=cashier)
    data = post_data(lines=[("utility", "100007-23", "84.50")], tenders=[("CASH", "84.50")])
    response = post_receipt(client_for(cashier), session, data)
    assert "session is closed" in response.content.decode()
    assert Receipt.objects.count() == 0


# ---------------------------------------------------------------- receipt entry page


def test_receipt_page_carries_a_fresh_key_and_cash_tender(client_for, cashier, session, chart):
    client = client_for(cashier)
    first = client.get(reverse("cashiering:receipt-new", args=[session.pk]))
    second = client.get(reverse("cashiering:receipt-new", args=[session.pk]))
    key1, key2 = first.context["form"].idempotency_key, second.context["form"].idempotency_key
    assert key1 != key2
    uuid.UUID(key1)
    html = first.content.decode()
    assert f'name="idempotency_key" value="{key1}"' in html
    assert 'id="payer-search"' in html and "autofocus" in html
    assert first.context["form"].tenders[0].type == "CASH"
    assert "Post payment" in html
    assert "<script>" not in html and "style=" not in html  # CSP: no inline script or style


def test_receipt_page_starts_with_items_to_pay(client_for, cashier, session, accounts):
    url = reverse("cashiering:receipt-new", args=[session.pk])
    response = client_for(cashier).get(url + "?add=utility:100007-23&add=invoice:INV-24001")
    form = response.context["form"]
    assert [(row.kind, row.amount) for row in form.lines] == [
        ("utility", "84.50"),
        ("invoice", "150.00"),
    ]
    assert form.payer_name == "John Smith"
    assert form.tenders[0].amount == "234.50"


def test_line_fragment_prefills_the_amount_due(client_for, cashier, session, accounts):
    url = reverse("cashiering:receipt-line", args=[session.pk])
    response = client_for(cashier).get(url, {"kind": "utility", "ref": "100007-23"})
    html = response.content.decode()
    assert html.lstrip().startswith("<tr")
    assert 'name="line_amount"' in html and 'value="84.50"' in html
    assert 'data-name="John Smith"' in html


def test_line_fragment_for_a_fee_is_quantity_times_price(client_for, cashier, session, chart):
    url = reverse("cashiering:receipt-line", args=[session.pk])
    html = client_for(cashier).get(url, {"kind": "fee", "ref": "PET"}).content.decode()
    assert 'name="line_quantity"' in html and 'value="1"' in html
    assert 'name="line_unit_price"' in html and 'value="30.00"' in html


def test_line_fragment_for_an_unknown_item_is_404(client_for, cashier, session, chart):
    url = reverse("cashiering:receipt-line", args=[session.pk])
    response = client_for(cashier).get(url, {"kind": "utility", "ref": "nope"})
    assert response.status_code == 404


def test_training_session_pages_show_the_banner_and_series_t(client_for, cashier, accounts):
    training = open_session(cashier, training=True)
    client = client_for(cashier)
    page = client.get(reverse("cashiering:receipt-new", args=[training.pk]))
    assert "TRAINING</strong> — receipts are not real" in page.content.decode()
    data = post_data(lines=[("utility", "100007-23", "84.50")], tenders=[("CASH", "84.50")])
    response = post_receipt(client, training, data)
    receipt = Receipt.objects.get()
    assert (receipt.series, receipt.number, receipt.is_training) == ("T", 1, True)
    assert receipt.journal_entry is None
    printed = client.get(response["Location"]).content.decode()
    assert "TRAINING — NOT A RECEIPT" in printed
    assert "T-1" in printed
    detail = client.get(reverse("cashiering:receipt-detail", args=[receipt.pk])).content.decode()
    assert "receipts are not real" in detail
    accounts["john"].refresh_from_db()
    assert accounts["john"].balance == D("84.50")  # training never touches balances


# ------------------------------------------------------------------------ sessions


def test_counter_home_goes_to_open_form_then_to_receipt_entry(client_for, cashier, chart):
    client = client_for(cashier)
    assert client.get(reverse("cashiering:my-session"))["Location"] == reverse(
        "cashiering:session-open"
    )
    session = open_session(cashier)
    assert client.get(reverse("cashiering:my-session"))["Location"] == reverse(
        "cashiering:receipt-new", args=[session.pk]
    )


def test_open_session_form_counts_the_float(client_for, cashier, cashier_b, chart):
    open_session(cashier_b, "D1")
    client = client_for(cashier)
    page = client.get(reverse("cashiering:session-open"))
    drawers = [d.code for d in page.context["form"].fields["drawer"].queryset]
    assert drawers == ["D2", "D3", "D4"]  # D1 is in use
    assert 'data-denomination="20.00"' in page.content.decode()
    with business_day(TODAY):
        response = client.post(
            reverse("cashiering:session-open"),
            {
                "drawer": Drawer.objects.get(code="D2").pk,
                "business_date": "2026-03-16",
                "is_training": "on",
                "count_20_00": "5",
                "count_0_25": "40",
                "count_coin_1_00": "3",
            },
        )
    session = CashierSession.objects.get(cashier=cashier)
    assert response["Location"] == reverse("cashiering:receipt-new", args=[session.pk])
    assert session.opening_float == D("113.00")
    assert session.opening_count == {"20.00": 5, "0.25": 40, "coin-1.00": 3}
    assert session.is_training
    assert str(session.business_date) == "2026-03-16"


def test_open_session_form_refuses_a_negative_count(client_for, cashier, chart):
    response = client_for(cashier).post(
        reverse("cashiering:session-open"),
        {
            "drawer": Drawer.objects.get(code="D2").pk,
            "business_date": "2026-03-16",
            "count_20_00": "-1",
        },
    )
    assert response.status_code == 200
    assert response.context["form"].errors["count_20_00"]
    assert not CashierSession.objects.exists()


def test_session_page_shows_receipts_and_expected_cash(
    client_for, cashier, technician, session, accounts
):
    first = post_directly(session, cashier, amount="84.50", cash="100.00")
    receipt_post(
        session=session,
        payer_name="Mary Garcia",
        lines=[LineInput(kind="utility", ref="100014-05", amount=D("120.00"))],
        tenders=[
            TenderInput(
                tender_type=_tender("CHECK"),
                amount=D("120.00"),
                check_number="2001",
                check_payer="Mary Garcia",
            )
        ],
        idempotency_key=uuid.uuid4(),
        user=cashier,
    )
    response = client_for(cashier).get(reverse("cashiering:session-detail", args=[session.pk]))
    summary = response.context["summary"]
    assert summary.receipt_count == 2
    assert summary.total == D("204.50")
    assert summary.cash_received == D("100.00")
    assert summary.change_given == D("15.50")
    assert summary.expected_cash == D("234.50")  # 150 float + 100 cash - 15.50 change
    by_tender = {row.tender_type.code: row.amount for row in summary.by_tender}
    assert by_tender == {"CASH": D("100.00"), "CHECK": D("120.00")}
    html = response.content.decode()
    assert str(first) in html and "Close session" in html
    # The close is blind: the cashier does not see what the drawer should hold...
    assert "Expected cash in drawer" not in html
    # ...the accounting technician does.
    html = client_for(technician).get(session.get_absolute_url()).content.decode()
    assert "Expected cash in drawer" in html and "234.50" in html


def test_close_session(client_for, cashier, session):
    client = client_for(cashier)
    response = client.post(reverse("cashiering:session-close", args=[session.pk]))
    # Closing leads straight to the blind count of the drawer.
    assert response["Location"] == reverse("cashiering:blind-close", args=[session.pk])
    session.refresh_from_db()
    assert session.status == CashierSession.Status.CLOSED
    again = client.post(reverse("cashiering:session-close", args=[session.pk]), follow=True)
    assert "This session is not open." in again.content.decode()


def test_session_list_query_count_is_constant(
    client_for, technician, cashier, cashier_b, chart, django_assert_max_num_queries
):
    client = client_for(technician)
    for user, code in ((cashier, "D1"), (cashier_b, "D2")):
        session = open_session(user, code)
        session_close(session=session, user=user)
    with django_assert_max_num_queries(12) as few:
        client.get(reverse("cashiering:sessions"))
    from tests.factories import make_user

    for index in range(8):
        user = make_user(f"extra{index}")
        drawer = Drawer.objects.create(code=f"X{index}", name=f"Extra {index}")
        with business_day(TODAY):
            session = session_open(
                cashier=user, drawer=drawer, business_date=TODAY, opening_count={"1.00": 1}
            )
        session_close(session=session, user=user)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse("cashiering:sessions"))
    assert len(response.context["page"].object_list) == 10


def test_session_list_filters_by_date(client_for, technician, cashier, chart):
    open_session(cashier)
    client = client_for(technician)
    assert len(client.get(reverse("cashiering:sessions")).context["page"].object_list) == 1
    empty = client.get(reverse("cashiering:sessions"), {"business_date": "2026-03-17"})
    assert len(empty.context["page"].object_list) == 0


# ------------------------------------------------------------------- receipts, printing


def test_print_then_reprint_is_recorded(client_for, cashier, session, accounts):
    receipt = post_directly(session, cashier)
    client = client_for(cashier)
    url = reverse("cashiering:receipt-print", args=[receipt.pk])
    first = client.get(url).content.decode()
    second = client.get(url).content.decode()
    prints = list(ReceiptPrint.objects.order_by("printed_at", "pk"))
    assert [(p.is_reprint, p.format, p.printed_by) for p in prints] == [
        (False, "thermal", cashier),
        (True, "thermal", cashier),
    ]
    assert "REPRINT" not in first and "REPRINT" in second
    assert "data-print" in first and "Print receipt" in first
    assert "New receipt" in first and "data-focus-on-load" in first
    assert "receipt-thermal.css" in first
    for text in ("City of Kent", "R-1", "John Smith", "84.50", "15.50", "Utility account"):
        assert text in first


def test_print_of_a_void_receipt_says_void(client_for, cashier, supervisor, session, accounts):
    from cashiering.services.corrections import correction_approve, correction_request

    receipt = post_directly(session, cashier)
    request = correction_request(receipt=receipt, kind="void", reason="Wrong account", user=cashier)
    correction_approve(correction=request, user=supervisor)
    html = client_for(cashier).get(reverse("cashiering:receipt-print", args=[receipt.pk]))
    assert "receipt-mark-void" in html.content.decode()


def test_receipt_pdf_is_a_pdf_and_is_recorded(client_for, cashier, session, accounts):
    receipt = post_directly(session, cashier)
    response = client_for(cashier).get(reverse("cashiering:receipt-pdf", args=[receipt.pk]))
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    printed = ReceiptPrint.objects.get()
    assert (printed.format, printed.is_reprint) == ("pdf", False)


def test_receipt_detail_shows_tenders_and_correction_forms(
    client_for, cashier, technician, session, accounts
):
    receipt = receipt_post(
        session=session,
        payer_name="Mary Garcia",
        lines=[LineInput(kind="utility", ref="100014-05", amount=D("120.00"))],
        tenders=[
            TenderInput(
                tender_type=_tender("CREDIT"),
                amount=D("120.00"),
                card_brand="Visa",
                card_last4="4242",
                auth_code="998877",
            )
        ],
        idempotency_key=uuid.uuid4(),
        user=cashier,
    )
    url = reverse("cashiering:receipt-detail", args=[receipt.pk])
    html = client_for(cashier).get(url).content.decode()
    assert "Visa ••••4242 auth 998877" in html
    assert reverse("cashiering:void-request", args=[receipt.pk]) in html
    assert 'name="reason"' in html and "Request void" in html
    assert "JE " not in html  # cashiers do not read the ledger
    technician_html = client_for(technician).get(url).content.decode()
    assert f"JE {receipt.journal_entry.number}" in technician_html
    assert "History" in technician_html


def test_reversal_form_posts_into_the_users_open_session(client_for, cashier, session, accounts):
    receipt = post_directly(session, cashier)
    session_close(session=session, user=cashier)
    client = client_for(cashier)
    url = reverse("cashiering:receipt-detail", args=[receipt.pk])
    assert "Open a drawer session first" in client.get(url).content.decode()
    new_session = open_session(cashier, "D2")
    html = client.get(url).content.decode()
    assert reverse("cashiering:reversal-request", args=[receipt.pk]) in html
    assert f'name="session" value="{new_session.pk}"' in html
    assert "Request reversal" in html


# ----------------------------------------------------------------------- who may see


def test_other_cashiers_sessions_and_receipts_are_404(
    client_for, cashier, cashier_b, session, accounts
):
    receipt = post_directly(session, cashier)
    client = client_for(cashier_b)
    for name, pk in (
        ("cashiering:session-detail", session.pk),
        ("cashiering:receipt-new", session.pk),
        ("cashiering:receipt-line", session.pk),
        ("cashiering:receipt-detail", receipt.pk),
        ("cashiering:receipt-print", receipt.pk),
        ("cashiering:receipt-pdf", receipt.pk),
    ):
        assert client.get(reverse(name, args=[pk])).status_code == 404, name
    data = post_data(lines=[("utility", "100014-05", "1.00")], tenders=[("CASH", "1.00")])
    assert post_receipt(client, session, data).status_code == 404
    assert client.post(reverse("cashiering:session-close", args=[session.pk])).status_code == 404
    assert Receipt.objects.count() == 1
    assert not ReceiptPrint.objects.exists()


def test_supervisor_sees_every_receipt_but_takes_no_payments(
    client_for, cashier, supervisor, session, accounts
):
    receipt = post_directly(session, cashier)
    client = client_for(supervisor)
    assert client.get(reverse("cashiering:receipt-detail", args=[receipt.pk])).status_code == 200
    assert client.get(reverse("cashiering:session-detail", args=[session.pk])).status_code == 200
    assert client.get(reverse("cashiering:my-session"))["Location"] == reverse(
        "cashiering:sessions"
    )
    assert client.get(reverse("cashiering:receipt-new", args=[session.pk])).status_code == 403


@pytest.mark.parametrize(
    "name,kind,method",
    [
        ("cashiering:my-session", None, "get"),
        ("cashiering:session-open", None, "get"),
        ("cashiering:sessions", None, "get"),
        ("cashiering:lookup", None, "get"),
        ("cashiering:session-detail", "session", "get"),
        ("cashiering:session-close", "session", "post"),
        ("cashiering:receipt-new", "session", "get"),
        ("cashiering:receipt-line", "session", "get"),
        ("cashiering:receipt-post", "session", "post"),
        ("cashiering:receipt-detail", "receipt", "get"),
        ("cashiering:receipt-print", "receipt", "get"),
        ("cashiering:receipt-pdf", "receipt", "get"),
    ],
)
def test_outsider_is_forbidden(
    client_for, outsider, cashier, session, accounts, name, kind, method
):
    receipt = post_directly(session, cashier)
    args = {"session": [session.pk], "receipt": [receipt.pk], None: []}[kind]
    response = getattr(client_for(outsider), method)(reverse(name, args=args))
    assert response.status_code == 403


def test_cashier_may_not_list_every_session(client_for, cashier, chart):
    assert client_for(cashier).get(reverse("cashiering:sessions")).status_code == 403


def test_counter_needs_sign_in(client, chart):
    response = client.get(reverse("cashiering:my-session"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_home_page_card_leads_to_the_drawer(client_for, cashier, technician, chart):
    client = client_for(cashier)
    card = client.get(reverse("home")).context["dashboard"]["cards"]
    assert {"title": "My drawer", "value": "Not open"}.items() <= next(
        c for c in card if c["title"] == "My drawer"
    ).items()
    session = open_session(cashier)
    cards = client.get(reverse("home")).context["dashboard"]["cards"]
    mine = next(c for c in cards if c["title"] == "My drawer")
    assert mine["value"] == "D1 open"
    assert mine["url"] == reverse("cashiering:receipt-new", args=[session.pk])
    watched = client_for(technician).get(reverse("home")).context["dashboard"]["cards"]
    assert next(c for c in watched if c["title"] == "Drawers open")["value"] == "1"
