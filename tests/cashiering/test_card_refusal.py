"""Card data never reaches the database: a full card number typed into any text field of
the counter is refused with the same message; long references that are not card numbers
pass; card and account "last 4" are exactly four digits, at the service and in the
database."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from hypothesis import given, settings
from hypothesis import strategies as st

from cashiering.errors import CashieringError
from cashiering.models import CorrectionRequest, PayerNote, Receipt, Tender
from cashiering.services.corrections import (
    correction_approve,
    correction_reject,
    correction_request,
    payer_note_add,
)
from cashiering.services.receipt_inputs import TenderInput
from cashiering.validators import CARD_NUMBER_MESSAGE, contains_card_number, refuse_card_number
from tests.cashiering.factories import (
    counter_setup,
    make_account,
    open_session,
    post,
    rolled_back,
    row_counts,
    utility,
)

D = Decimal

# Luhn-valid test numbers of every length the refusal covers.
CARDS = {
    13: "4222222222222",  # Visa, old 13-digit
    15: "378282246310005",  # Amex
    16: "4111111111111111",  # Visa
    "16-mc": "5555555555554444",  # Mastercard
    "16-discover": "6011000990139424",
    19: "6304000000000000000",  # Maestro, 19 digits
}
VISA = CARDS[16]


def luhn(digits: str) -> bool:
    """The test's own Luhn check (not the one under test)."""
    doubled = [int(c) for c in reversed(digits)]
    total = 0
    for position, digit in enumerate(doubled):
        if position % 2:
            digit = sum(divmod(digit * 2, 10))
        total += digit
    return total % 10 == 0


def grouped(number: str, size: int = 4, separator: str = " ") -> str:
    return separator.join(number[i : i + size] for i in range(0, len(number), size))


# ----------------------------------------------------------------------------- the check itself


@pytest.mark.parametrize("number", CARDS.values(), ids=[str(k) for k in CARDS])
@pytest.mark.parametrize(
    "shape",
    [
        lambda n: n,
        lambda n: grouped(n, 4, " "),
        lambda n: grouped(n, 4, "-"),
        lambda n: grouped(n, 4, " - "),
        lambda n: f"paid with card {grouped(n)} exp 12/28",
        lambda n: f"{n[:4]}\u00a0{n[4:]}",  # a no-break space from a pasted number
        lambda n: "".join(chr(0xFF10 + int(c)) for c in n),  # full-width digits
        lambda n: f"qty 2 {grouped(n)}",  # digits before the number
        lambda n: f"{grouped(n)} 12",  # digits after it
        lambda n: f"#{n}#",
    ],
    ids=[
        "plain",
        "spaces",
        "dashes",
        "spaced-dashes",
        "in-text",
        "nbsp",
        "full-width",
        "after-qty",
        "before-more",
        "punctuated",
    ],
)
def test_a_luhn_valid_card_number_is_found(number, shape):
    assert luhn(number)
    assert contains_card_number(shape(number))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Utility ref 4111111111111112",  # 16 digits, fails Luhn
        "4111 1111 1111 1112",
        "Account 104455-01, invoice INV-24001",
        "411111111117",  # Luhn-valid but only 12 digits
        "41111111111111111115",  # Luhn-valid but 20 digits: not a card number
        "Check 1042, 1043 and 1044",
        "Paid 1,234,567.89 on 2026-03-16",
    ],
)
def test_other_numbers_are_not_card_numbers(text):
    assert not contains_card_number(text)


def test_the_model_validator_raises_with_the_message():
    with pytest.raises(ValidationError) as excinfo:
        refuse_card_number(f"card {grouped(VISA)}")
    assert excinfo.value.messages == [CARD_NUMBER_MESSAGE]
    assert excinfo.value.error_list[0].code == "card_number"
    refuse_card_number("Ref 4111111111111112")  # no error


digits = st.text(alphabet="0123456789", min_size=1, max_size=1)
letters = st.text(alphabet="abcdefghijklmnopqrstuvwxyz ,.#:/", max_size=12)


@st.composite
def typed_card(draw):
    """A Luhn-valid 13-19 digit number, grouped at random by spaces or dashes, in text."""
    length = draw(st.integers(min_value=13, max_value=19))
    body = draw(st.text(alphabet="0123456789", min_size=length - 1, max_size=length - 1))
    number = next(body + d for d in "0123456789" if luhn(body + d))
    cuts = sorted(draw(st.sets(st.integers(min_value=1, max_value=length - 1), max_size=5)))
    pieces = [number[a:b] for a, b in zip([0, *cuts], [*cuts, length], strict=True)]
    separators = draw(
        st.lists(
            st.sampled_from([" ", "-", "  ", " - "]), min_size=len(pieces), max_size=len(pieces)
        )
    )
    text = "".join(p + s for p, s in zip(pieces, separators, strict=True)).rstrip(" -")
    return draw(letters).rstrip("0123456789") + " " + text + " " + draw(letters)


@settings(max_examples=300, deadline=None)
@given(typed_card())
def test_property_any_typed_card_number_is_found(text):
    assert contains_card_number(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789", min_size=13, max_size=19), letters, letters)
def test_property_an_unbroken_digit_string_is_refused_exactly_when_luhn_valid(number, a, b):
    text = f"{a.rstrip('0123456789')} {number} {b}"
    assert contains_card_number(text) == luhn(number)


# ----------------------------------------------------------------------------- every field


@pytest.fixture(scope="module")
def _counter_once(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), rolled_back():
        yield counter_setup()


@pytest.fixture
def counter(_counter_once, db):
    return _counter_once


@pytest.fixture
def session(counter, cashier):
    return open_session(cashier)


@pytest.fixture
def account(counter):
    return make_account("104455-01", balance="120.00")


def refused(excinfo, field: str) -> None:
    assert excinfo.value.message_dict == {field: [CARD_NUMBER_MESSAGE]}


TYPED = {
    "payer name": f"Maria Lopez {VISA}",
    "memo": f"card was {grouped(VISA, 4, '-')}",
    "tender 1 check number": grouped(CARDS[15], 5, " "),
    "tender 1 check payer": f"Maria {CARDS['16-mc']}",
    "tender 1 account last4": VISA,
    "tender 1 card brand": grouped(CARDS[13], 4, " "),
    "tender 1 card last4": VISA,
    "tender 1 auth code": CARDS[13],
    "tender 1 reference": f"MO {grouped(CARDS[19])}",
}


@pytest.mark.parametrize("field", TYPED)
def test_a_card_number_in_any_receipt_field_is_refused(counter, session, account, field):
    value = TYPED[field]
    payer, memo = "Maria Lopez", ""
    check = {"check_number": "1042", "check_payer": "Maria Lopez"}
    card = {"card_brand": "Visa", "card_last4": "4242", "auth_code": "A1B2C3"}
    tender_type, details = counter.tenders["CHECK"], dict(check)
    if field == "payer name":
        payer = value
    elif field == "memo":
        memo = value
    else:
        name = field.removeprefix("tender 1 ").replace(" ", "_")
        if name in card:
            tender_type, details = counter.tenders["CREDIT"], dict(card)
        elif name == "reference":
            tender_type, details = counter.tenders["MO"], {}
        details[name] = value
    tender = TenderInput(tender_type=tender_type, amount=D("120.00"), **details)
    before = row_counts()
    with pytest.raises(CashieringError) as excinfo:
        post(session, [utility(account.number, "120.00")], [tender], payer=payer, memo=memo)
    refused(excinfo, field)
    assert row_counts() == before


def test_a_long_reference_that_is_not_a_card_number_is_kept(counter, session, account):
    reference = "4111111111111112"  # 16 digits, fails Luhn: a utility statement number
    receipt = post(
        session,
        [utility(account.number, "120.00")],
        [counter.ach("120.00", reference=reference)],
        memo=f"Statement {reference}",
    )
    assert receipt.memo == f"Statement {reference}"
    assert receipt.tenders.get().reference == reference


def test_a_card_number_in_a_correction_or_note_is_refused(
    counter, session, account, cashier, supervisor
):
    receipt = post(session, [utility(account.number, "10.00")], [counter.cash("10")])
    with pytest.raises(CashieringError) as excinfo:
        correction_request(
            receipt=receipt, kind="void", reason=f"Card {grouped(VISA)} declined", user=cashier
        )
    refused(excinfo, "reason")
    assert not CorrectionRequest.objects.exists()

    request = correction_request(receipt=receipt, kind="void", reason="Declined", user=cashier)
    with pytest.raises(CashieringError) as excinfo:
        correction_reject(correction=request, user=supervisor, note=f"see {VISA}")
    refused(excinfo, "note")
    with pytest.raises(CashieringError) as excinfo:
        correction_approve(correction=request, user=supervisor, note=f"see {VISA}")
    refused(excinfo, "note")
    assert CorrectionRequest.objects.get().status == "pending"
    assert Receipt.objects.get().status == "posted"

    with pytest.raises(CashieringError) as excinfo:
        payer_note_add(
            kind="utility", ref=account.number, text=f"Card on file {VISA}", user=cashier
        )
    refused(excinfo, "text")
    assert not PayerNote.objects.exists()


@pytest.mark.parametrize(
    "last4", ["424", "42424", "42a4", "4 42", "\u0664\u0662\u0664\u0662", "    "]
)
def test_card_last4_is_exactly_four_digits(counter, session, account, last4):
    with pytest.raises(CashieringError) as excinfo:
        post(session, [utility(account.number, "120.00")], [counter.card("120.00", last4=last4)])
    assert excinfo.value.message_dict == {
        "tender 1 card last4": ["Enter the last 4 digits of the card."]
    }
    assert not Tender.objects.exists()


def test_the_database_refuses_a_bad_last4_whatever_the_service(counter, session, account):
    receipt = post(session, [utility(account.number, "120.00")], [counter.cash("120")])
    for column in ("card_last4", "account_last4"):
        for bad in ("123", "12a4", "\uff11\uff12\uff13\uff14"):
            with (
                pytest.raises(IntegrityError, match=f"tender_{column}_digits"),
                transaction.atomic(),
            ):
                Tender.objects.create(
                    receipt=receipt,
                    line_no=9,
                    tender_type=counter.tenders["CREDIT"],
                    amount=D(1),
                    **{column: bad},
                )
    assert receipt.tenders.count() == 1
