"""Bank deposits: what goes to the bank, the slip's checks, the journal entries, the card
and ACH settlements, refusals, idempotency and the clearing accounts afterwards."""

import uuid
from datetime import date
from decimal import Decimal

import pytest

from cashiering.errors import DepositError
from cashiering.models import CashierSession, Deposit, DepositItem, DepositSession
from cashiering.selectors.deposits import deposit_checks, deposit_detail, sessions_ready_for_deposit
from cashiering.services.deposits import deposit_prepare
from kent_cs.numbering import peek_number
from ledger.models import AccountingPeriod, BankAccount, JournalEntry
from ledger.services import period_close
from tests.cashiering.deposit_factories import balance, build_day
from tests.cashiering.factories import (
    CARD_CLEARING,
    UNDEPOSITED,
    counter_setup,
    entry_lines,
    fee,
    gl_balance,
    open_session,
    post,
    rolled_back,
    row_counts,
    unbalanced_entries,
)
from tests.factories import TODAY

D = Decimal
BANK = "001.101.10"
OVER_SHORT = "001.369.81.00"
NEXT_DAY = date(2026, 3, 17)
# The day built below leaves 180.00 in cash to deposit (120.00 from D1, 60.00 from D2).
CURRENCY = {"100.00": 1, "20.00": 3, "5.00": 3, "1.00": 4, "0.25": 4}  # 180.00


@pytest.fixture(scope="module")
def _counter_once(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), rolled_back():
        yield counter_setup()


@pytest.fixture
def counter(_counter_once, db):
    return _counter_once


def text_of(excinfo) -> str:
    return " ".join(excinfo.value.messages)


@pytest.fixture
def day(counter, cashier, cashier_b, supervisor):
    return build_day(counter, cashier, cashier_b, supervisor)


def test_ready_sessions_list_counted_cash_less_float_checks_and_cards(day):
    first, second_b, again = day
    ready = sessions_ready_for_deposit()
    assert [f.session for f in ready] == [first, second_b, again]
    by_session = {f.session.pk: f for f in ready}
    assert by_session[first.pk].cash == D("120.00")
    # #3003 was counted in D1, then reversed: it is handed back, not deposited.
    assert by_session[first.pk].checks == D("60.00")
    assert by_session[first.pk].card == D("30.00")
    assert by_session[first.pk].ach == D("30.00")
    assert by_session[second_b.pk].cash == D("60.00")
    assert by_session[again.pk].checks == D("0.00")


def test_check_list_leaves_out_voids_and_cancels_a_reversed_check(day):
    checks = deposit_checks(list(day))
    assert [(c.number, c.payer, c.amount) for c in checks] == [
        ("1042", "Dana Whitfield", D("30.00")),
        ("MO-55501234", "Maria Lopez", D("30.00")),
    ]


def test_deposit_writes_slip_items_sessions_and_entries_to_the_cent(day, technician):
    first, second_b, again = day
    deposit = deposit_prepare(
        sessions=[first, second_b, again],
        currency_count=CURRENCY,
        idempotency_key=uuid.uuid4(),
        user=technician,
        deposit_date=NEXT_DAY,
    )
    assert deposit.kind == Deposit.Kind.CASH_CHECK
    assert deposit.number == 1
    assert (deposit.currency_total, deposit.coin_total, deposit.check_total) == (
        D("179.00"),
        D("1.00"),
        D("60.00"),
    )
    assert deposit.total == D("240.00")
    assert deposit.currency_count == CURRENCY
    assert deposit.bank_account == BankAccount.objects.get(is_default=True)
    assert deposit.deposit_date == NEXT_DAY
    assert sorted(DepositItem.objects.filter(deposit=deposit).values_list("amount", flat=True)) == [
        D("30.00"),
        D("30.00"),
    ]
    entry = deposit.journal_entry
    assert (entry.source, entry.source_ref, entry.entry_date) == ("deposit", "1", NEXT_DAY)
    assert entry_lines(entry) == {BANK: D("240.00"), UNDEPOSITED: D("-240.00")}

    card = Deposit.objects.get(kind=Deposit.Kind.CARD)
    ach = Deposit.objects.get(kind=Deposit.Kind.ACH)
    assert (card.number, card.total, ach.number, ach.total) == (2, D("30.00"), 3, D("30.00"))
    assert entry_lines(card.journal_entry) == {BANK: D("30.00"), CARD_CLEARING: D("-30.00")}
    assert entry_lines(ach.journal_entry) == {BANK: D("30.00"), CARD_CLEARING: D("-30.00")}
    assert card.journal_entry.source_ref == "2"
    assert [i.tender.card_last4 for i in card.items.select_related("tender")] == ["4242"]
    assert ach.items.get().tender.reference == "TRACE 0210000890"
    assert peek_number("deposit") == 4

    links = {
        (link.session_id, link.kind): link.amount
        for link in DepositSession.objects.filter(deposit__in=[deposit, card, ach])
    }
    assert links == {
        (first.pk, "cash_check"): D("180.00"),
        (second_b.pk, "cash_check"): D("60.00"),
        (again.pk, "cash_check"): D("0.00"),
        (first.pk, "card"): D("30.00"),
        (first.pk, "ach"): D("30.00"),
    }
    statuses = CashierSession.objects.filter(pk__in=[s.pk for s in day]).values_list(
        "status", flat=True
    )
    assert set(statuses) == {"deposited"}
    assert unbalanced_entries() == []


def test_clearing_accounts_are_zero_after_the_deposit(counter, day, technician):
    assert gl_balance(UNDEPOSITED, counter.accounts) == D("240.00")
    assert gl_balance(CARD_CLEARING, counter.accounts) == D("60.00")
    deposit_prepare(
        sessions=list(day),
        currency_count=CURRENCY,
        idempotency_key=uuid.uuid4(),
        user=technician,
        deposit_date=NEXT_DAY,
    )
    assert gl_balance(UNDEPOSITED, counter.accounts) == D("0.00")
    assert gl_balance(CARD_CLEARING, counter.accounts) == D("0.00")
    assert gl_balance(BANK, counter.accounts) == D("300.00")


def test_over_short_already_posted_so_the_short_drawer_still_clears(
    counter, cashier, supervisor, technician
):
    session = open_session(cashier, "D1")
    post(session, [fee("PET", quantity=3)], [counter.cash("100.00")])  # 90 + 10 change
    post(session, [fee("PET")], [counter.check("30.00")])
    # Expected cash 160 + 90 = 250; the cashier counted 243.50: short 6.50.
    balance(session, cash="243.50", approver=supervisor, explanation="Miscounted change")
    assert gl_balance(OVER_SHORT, counter.accounts) == D("6.50")
    with pytest.raises(DepositError) as excinfo:
        deposit_prepare(
            sessions=[session],
            currency_count={"50.00": 1, "20.00": 2},  # 90.00: what the receipts say
            idempotency_key=uuid.uuid4(),
            user=technician,
            deposit_date=TODAY,
        )
    assert excinfo.value.message_dict == {
        "currency": [
            "The currency and coin entered total 90.00, but the sessions' counted cash less "
            "their opening floats is 83.50. Recount the deposit."
        ]
    }
    deposit = deposit_prepare(
        sessions=[session],
        currency_count={"50.00": 1, "20.00": 1, "10.00": 1, "1.00": 3},
        coin_total="0.50",
        idempotency_key=uuid.uuid4(),
        user=technician,
        deposit_date=TODAY,
    )
    assert (deposit.currency_total, deposit.coin_total, deposit.check_total, deposit.total) == (
        D("83.00"),
        D("0.50"),
        D("30.00"),
        D("113.50"),
    )
    assert deposit.currency_count["coin-total"] == "0.50"
    assert gl_balance(UNDEPOSITED, counter.accounts) == D("0.00")
    assert not Deposit.objects.filter(kind__in=["card", "ach"]).exists()


def test_refusals_write_nothing(counter, cashier, cashier_b, technician):
    open_one = open_session(cashier, "D1")
    post(open_one, [fee("PET")], [counter.cash("30.00")])
    closed = open_session(cashier_b, "D2")
    post(closed, [fee("PET")], [counter.cash("30.00")])
    closed.status = "closed"
    closed.save(update_fields=["status"])
    before = row_counts()

    def attempt(sessions, **extra):
        with pytest.raises(DepositError) as excinfo:
            deposit_prepare(
                sessions=sessions,
                currency_count=extra.pop("currency_count", {"20.00": 1, "10.00": 1}),
                idempotency_key=uuid.uuid4(),
                user=technician,
                deposit_date=extra.pop("deposit_date", TODAY),
                **extra,
            )
        return excinfo.value.message_dict

    errors = attempt([open_one, closed])
    assert errors["sessions"] == [
        f"Session D1 cashier {TODAY} is open, not balanced; balance it before depositing.",
        f"Session D2 cashier_b {TODAY} is closed, not balanced; balance it before depositing.",
    ]
    assert attempt([]) == {"sessions": ["Choose at least one balanced session to deposit."]}
    session_close_and_balance = balance(open_one)
    assert attempt([session_close_and_balance], currency_count={"0.25": -1}) == {
        "currency": ["Count of 0.25 must be between 0 and 100000."]
    }
    assert attempt([session_close_and_balance], currency_count={"0.25": 4}, coin_total="1.00") == {
        "currency": ["Enter coin either by kind or as a total, not both."]
    }
    assert attempt([session_close_and_balance], deposit_date=date(2026, 3, 15)) == {
        "deposit_date": [
            "The deposit date 2026-03-15 is before the business date 2026-03-16 of a chosen "
            "session."
        ]
    }
    period_close(period=AccountingPeriod.objects.get(year=2026, month=3), user=technician)
    assert attempt([session_close_and_balance]) == {
        "deposit_date": ["The March 2026 accounting period is closed."]
    }
    assert row_counts() == before
    assert not Deposit.objects.exists()
    assert CashierSession.objects.get(pk=open_one.pk).status == "balanced"


def test_checks_counted_differently_from_the_receipts_are_refused(counter, cashier, technician):
    session = open_session(cashier, "D1")
    post(session, [fee("PET")], [counter.check("30.00", number="77")])
    post(session, [fee("PET")], [counter.check("30.00", number="78")])
    balance(session, checks="30.00")  # one check missing at the count
    with pytest.raises(DepositError) as excinfo:
        deposit_prepare(
            sessions=[session],
            currency_count={},
            idempotency_key=uuid.uuid4(),
            user=technician,
            deposit_date=TODAY,
        )
    assert excinfo.value.message_dict["checks"] == [
        "The checks and money orders taken total 60.00, but the sessions' counted checks "
        "total 30.00. The count differs from the receipts; correct the count before "
        "depositing."
    ]


def test_training_and_deposited_sessions_are_refused(counter, cashier, cashier_b, technician):
    training = open_session(cashier, "D1", training=True)
    post(training, [fee("PET")], [counter.cash("30.00")])
    balance(training)
    live = open_session(cashier_b, "D2")
    post(live, [fee("PET")], [counter.cash("30.00")])
    balance(live)
    assert [f.session for f in sessions_ready_for_deposit()] == [live]
    deposit_prepare(
        sessions=[live],
        currency_count={"20.00": 1, "10.00": 1},
        idempotency_key=uuid.uuid4(),
        user=technician,
        deposit_date=TODAY,
    )
    with pytest.raises(DepositError) as excinfo:
        deposit_prepare(
            sessions=[live, training],
            currency_count={"20.00": 1, "10.00": 1},
            idempotency_key=uuid.uuid4(),
            user=technician,
            deposit_date=TODAY,
        )
    assert excinfo.value.message_dict["sessions"] == [
        f"Session D1 cashier {TODAY} is a training session; it is never deposited.",
        f"Session D2 cashier_b {TODAY} has already been deposited.",
    ]
    assert sessions_ready_for_deposit() == []


def test_double_submit_returns_the_first_deposit(day, technician):
    key = uuid.uuid4()

    def submit():
        return deposit_prepare(
            sessions=list(day),
            currency_count=CURRENCY,
            idempotency_key=key,
            user=technician,
            deposit_date=NEXT_DAY,
        )

    first = submit()
    counts = row_counts()
    again = submit()
    assert again.pk == first.pk
    assert row_counts() == counts
    assert Deposit.objects.count() == 3
    assert JournalEntry.objects.filter(source="deposit").count() == 3


def test_a_check_reversed_after_its_count_is_handed_back_from_its_own_deposit(day, technician):
    first, second_b, again = day
    deposit = deposit_prepare(
        sessions=[first, second_b],
        currency_count=CURRENCY,
        idempotency_key=uuid.uuid4(),
        user=technician,
        deposit_date=NEXT_DAY,
    )
    detail = deposit_detail(deposit)
    assert [i.tender.check_number or i.tender.reference for i in detail.items] == [
        "1042",
        "MO-55501234",
    ]
    assert [(c.number, c.payer, c.amount) for c in detail.handed_back] == [
        ("3003", "Pat Moore", D("30.00"))
    ]
    assert detail.handed_back[0].reversed_by == again.receipts.get()
    assert (deposit.check_total, deposit.total) == (D("60.00"), D("240.00"))
    assert deposit_checks([again]) == []
    assert unbalanced_entries() == []


def test_detail_has_slip_lines_checks_and_the_settlements(day, technician):
    deposit = deposit_prepare(
        sessions=list(day),
        currency_count=CURRENCY,
        idempotency_key=uuid.uuid4(),
        user=technician,
        deposit_date=NEXT_DAY,
    )
    detail = deposit_detail(deposit)
    assert [(line.label, line.pieces, line.amount) for line in detail.bills] == [
        ("$100 bills", 1, D("100.00")),
        ("$20 bills", 3, D("60.00")),
        ("$5 bills", 3, D("15.00")),
        ("$1 bills", 4, D("4.00")),
    ]
    assert [(line.label, line.pieces, line.amount) for line in detail.coins] == [
        ("Quarters", 4, D("1.00"))
    ]
    assert [i.tender.check_number or i.tender.reference for i in detail.checks] == [
        "1042",
        "MO-55501234",
    ]
    assert [d.kind for d in detail.related] == ["card", "ach"]
    assert len(detail.sessions) == 3


def test_card_deposit_is_the_terminal_settlement_so_card_clearing_reaches_zero(
    counter, cashier, technician
):
    session = open_session(cashier, "D1")
    post(session, [fee("PET")], [counter.card("30.00")])
    post(session, [fee("PET")], [counter.cash("30.00")])
    # The terminal settled 29.00: a 1.00 card shortage, posted at close against 101.40.
    balance(session, cards="29.00")
    deposit_prepare(
        sessions=[session],
        currency_count={"20.00": 1, "5.00": 2},
        idempotency_key=uuid.uuid4(),
        user=technician,
        deposit_date=NEXT_DAY,
    )
    card = Deposit.objects.get(kind=Deposit.Kind.CARD)
    assert card.total == D("29.00")
    assert entry_lines(card.journal_entry) == {BANK: D("29.00"), CARD_CLEARING: D("-29.00")}
    assert gl_balance(CARD_CLEARING, counter.accounts) == D("0.00")
    assert gl_balance(UNDEPOSITED, counter.accounts) == D("0.00")


def test_a_deposit_is_refused_on_a_closed_business_day_and_writes_nothing(
    day, technician, supervisor
):
    from cashiering.services.closing import business_day_close

    business_day_close(business_date=NEXT_DAY, user=supervisor)
    before = Deposit.objects.count(), JournalEntry.objects.count()
    with pytest.raises(DepositError) as refused:
        deposit_prepare(
            sessions=list(day),
            currency_count=CURRENCY,
            idempotency_key=uuid.uuid4(),
            user=technician,
            deposit_date=NEXT_DAY,
        )
    assert refused.value.message_dict["deposit_date"] == [
        "Business day 2026-03-17 is closed; nothing can be taken into it. "
        "A supervisor can reopen it."
    ]
    assert (Deposit.objects.count(), JournalEntry.objects.count()) == before
