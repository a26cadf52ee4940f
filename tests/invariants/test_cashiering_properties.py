"""The counter's money invariants as a hypothesis state machine.

Random receipts (utility, invoice and fee lines; cash, check, money order, card, ACH and
mixed tenders, short or over), double submits, voids approved by a supervisor, and
session closes followed by reversals in a new session. A plain model kept by the test
(not read back from the services) says what every balance, number and ledger total must
be, and after every step the database must agree:

- on every receipt, tenders - change = lines total, and change comes only from cash;
- every journal entry balances;
- every utility balance = opening - payments + voided or reversed payments (negative is
  a credit), every invoice's amount due likewise, never below zero;
- receipt numbers run 1..n without a gap, voided ones included;
- the clearing, receivable and revenue accounts hold what the receipts say.

Each example runs in a savepoint that is rolled back, so examples do not see each other.
"""

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.db import connection, transaction
from django.db.models import Sum
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from cashiering.errors import CashieringError
from cashiering.models import ARInvoice, Receipt, ReceiptLine, UtilityAccount
from cashiering.services.corrections import correction_approve, correction_request
from cashiering.services.receipt_inputs import LineInput, TenderInput
from cashiering.services.receipts import receipt_post
from cashiering.services.sessions import session_close
from kent_cs.numbering import peek_number
from kent_cs.roles import Role
from ledger.models import JournalLine
from tests.cashiering.factories import (
    AR_RECEIVABLE,
    CARD_CLEARING,
    COPIES,
    MERCH_SALES,
    PETS,
    SALES_TAX,
    UNDEPOSITED,
    UTILITY_RECEIVABLE,
    counter_setup,
    fire_deferred_checks,
    gl_balance,
    make_account,
    make_invoice,
    open_session,
    rolled_back,
    row_counts,
    unbalanced_entries,
)
from tests.factories import make_user

D = Decimal
CENT = D("0.01")
ZERO = D("0.00")
MACHINE_SETTINGS = settings(
    max_examples=25,
    stateful_step_count=8,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
UTILITY_OPENING = {"310001-01": D("0.00"), "310002-02": D("85.40"), "310003-03": D("250.00")}
INVOICE_OPENING = {"INV-31001": D("40.00"), "INV-31002": D("125.55"), "INV-31003": D("180.00")}
FEE_PRICES = {"COPY": D("0.15"), "PET": D("30.00")}  # MERCH is priced at the counter
# Where each kind of tender is debited (the demo chart's clearing accounts).
CLEARS_TO = {
    "cash": UNDEPOSITED,
    "check": UNDEPOSITED,
    "money_order": UNDEPOSITED,
    "card": CARD_CLEARING,
    "ach": CARD_CLEARING,
}
# Where each kind of line is credited; MERCH splits between sales and sales tax.
CREDITED_TO = {"utility": UTILITY_RECEIVABLE, "invoice": AR_RECEIVABLE}
FEE_ACCOUNT = {"COPY": COPIES, "PET": PETS, "MERCH": "MERCH"}
TRACKED = [UNDEPOSITED, CARD_CLEARING, UTILITY_RECEIVABLE, AR_RECEIVABLE, COPIES, PETS, "MERCH"]
MERCH_SALES_SHARE = D("0.91954")


@dataclass
class World:
    counter: object
    cashier: object
    supervisor: object


@pytest.fixture(scope="module")
def _world_once(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), rolled_back():
        counter = counter_setup()
        for number, balance in UTILITY_OPENING.items():
            make_account(number, balance=str(balance), name=f"Account {number}")
        make_invoice("INV-31001", amount="40.00")
        make_invoice("INV-31002", amount="125.55")
        make_invoice("INV-31003", amount="300.00", due="180.00")  # partly paid already
        yield World(
            counter=counter,
            cashier=make_user("prop_cashier", Role.CASHIER),
            supervisor=make_user("prop_supervisor", Role.SUPERVISOR),
        )


@pytest.fixture
def world(_world_once, db):
    return _world_once


@dataclass
class ModelReceipt:
    pk: int
    number: int
    total: Decimal
    lines: list[tuple[str, str, Decimal]]
    gl: dict[str, Decimal]
    session_pk: int
    key: uuid.UUID
    request: dict
    state: str = "posted"  # posted, voided, reversed (by another), reversal
    merch: list[Decimal] = field(default_factory=list)


def cents(low: int, high: int):
    return st.integers(min_value=low, max_value=high).map(lambda c: D(c) / 100)


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


class CounterMachine(RuleBasedStateMachine):
    world: World  # set by the test

    def __init__(self):
        super().__init__()
        self.atomic = transaction.atomic()
        self.atomic.__enter__()
        world = self.world
        self.tenders = world.counter.tenders
        self.cashier, self.supervisor = world.cashier, world.supervisor
        self.drawers = iter(["D1", "D2", "D3", "D4"] * 10)
        self.session = open_session(self.cashier, next(self.drawers))
        self.utility = dict(UTILITY_OPENING)
        self.invoices = dict(INVOICE_OPENING)
        self.gl = defaultdict(lambda: ZERO)
        self.receipts: list[ModelReceipt] = []
        self.first_number = peek_number("receipt-R")
        self.next_number = self.first_number

    def teardown(self):
        transaction.set_rollback(True)
        self.atomic.__exit__(None, None, None)

    # --- drawing a receipt -------------------------------------------------------------

    def draw_lines(self, data) -> list[tuple[LineInput, str, str, Decimal]]:
        """(input, kind, ref, expected amount) for one to three random lines."""
        lines = []
        for _ in range(data.draw(st.integers(min_value=1, max_value=3), label="lines")):
            kind = data.draw(st.sampled_from(["utility", "invoice", "fee"]))
            if kind == "utility":
                ref = data.draw(st.sampled_from(sorted(self.utility)))
                amount = data.draw(cents(1, 40_000))  # may pay more than owed: a credit
                lines.append((LineInput(kind=kind, ref=ref, amount=amount), kind, ref, amount))
            elif kind == "invoice":
                ref = data.draw(st.sampled_from(sorted(self.invoices)))
                due = self.invoices[ref]
                amount = data.draw(
                    st.one_of(
                        st.just(due if due > 0 else CENT),  # pay in full
                        cents(1, max(int(due * 100), 1)),  # part of it
                        cents(1, 50_000),  # maybe more than due: refused
                    )
                )
                lines.append((LineInput(kind=kind, ref=ref, amount=amount), kind, ref, amount))
            else:
                code = data.draw(st.sampled_from(["COPY", "PET", "MERCH"]))
                quantity = data.draw(st.integers(min_value=1, max_value=40))
                price = FEE_PRICES.get(code) or data.draw(cents(1, 15_000))
                given_price = None if code in FEE_PRICES else price
                line = LineInput(kind="fee", ref=code, quantity=D(quantity), unit_price=given_price)
                lines.append((line, "fee", code, money(quantity * price)))
        return lines

    def draw_tenders(self, data, total: Decimal) -> list[tuple[TenderInput, str]]:
        """(input, kind) for a random mix: at most one non-cash tender and some cash, which
        may be short of the total or over it (change)."""
        kind = data.draw(st.sampled_from([None, "check", "card", "money_order", "ach"]))
        noncash = ZERO
        if kind is not None:
            noncash = data.draw(
                st.one_of(st.just(total), cents(1, int(total * 100) + 500)), label="noncash"
            )
        rest = max(total - noncash, ZERO)
        cash = data.draw(
            st.one_of(
                st.just(rest),
                cents(0, 10_000).map(lambda extra: rest + extra),  # change due
                cents(0, int(total * 100) + 100),  # anything, maybe short
            ),
            label="cash",
        )
        if kind is None and cash == 0:
            cash = total
        tenders = []
        if kind is not None:
            tender_type = self.tenders[
                {"check": "CHECK", "card": "CREDIT", "money_order": "MO", "ach": "ACH"}[kind]
            ]
            details = {
                "check": {"check_number": "2044", "check_payer": "Property Payer"},
                "card": {"card_brand": "Visa", "card_last4": "4242", "auth_code": "OK1234"},
                "money_order": {"reference": "MO-1"},
                "ach": {"reference": "ACH-1"},
            }[kind]
            tenders.append((TenderInput(tender_type=tender_type, amount=noncash, **details), kind))
        if cash > 0:
            tenders.append((TenderInput(tender_type=self.tenders["CASH"], amount=cash), "cash"))
        return tenders

    # --- rules ---------------------------------------------------------------------------

    @rule(data=st.data())
    def post_a_receipt(self, data):
        lines = self.draw_lines(data)
        total = sum((amount for *_, amount in lines), ZERO)
        tenders = self.draw_tenders(data, total)
        tendered = sum((t.amount for t, _ in tenders), ZERO)
        noncash = sum((t.amount for t, kind in tenders if kind != "cash"), ZERO)

        # What the counter must say, worked out here.
        refusal = None
        owing = dict(self.invoices)
        for _, kind, ref, amount in lines:
            if kind == "invoice":
                if amount > owing[ref]:
                    refusal = "cannot be overpaid"
                owing[ref] -= amount
        if refusal is None and tendered < total:
            refusal = "less than the total"
        if refusal is None and noncash > total:
            refusal = "Change can only be given from cash"

        key = uuid.uuid4()
        request = {
            "session": self.session,
            "payer_name": "Property Payer",
            "lines": [line for line, *_ in lines],
            "tenders": [tender for tender, _ in tenders],
            "idempotency_key": key,
            "user": self.cashier,
        }
        if refusal is not None:
            before = row_counts()
            try:
                receipt_post(**request)
            except CashieringError as exc:
                assert refusal in " ".join(exc.messages)
            else:
                raise AssertionError(f"posted although it should be refused: {refusal}")
            assert row_counts() == before
            return

        receipt = receipt_post(**request)
        change = tendered - total
        assert (receipt.number, receipt.total) == (self.next_number, total)
        assert (receipt.tendered, receipt.change_given) == (tendered, change)
        self.next_number += 1

        gl = defaultdict(lambda: ZERO)
        change_left = change
        for tender, kind in tenders:
            amount = tender.amount
            if kind == "cash":
                amount -= min(change_left, amount)
                change_left -= tender.amount - amount
            gl[CLEARS_TO[kind]] += amount
        merch = []
        for _, kind, ref, amount in lines:
            account = CREDITED_TO.get(kind) or FEE_ACCOUNT[ref]
            gl[account] -= amount
            if ref == "MERCH":
                merch.append(amount)
        self.apply(lines=[(k, r, a) for _, k, r, a in lines], gl=gl, sign=1)
        self.receipts.append(
            ModelReceipt(
                pk=receipt.pk,
                number=receipt.number,
                total=total,
                lines=[(k, r, a) for _, k, r, a in lines],
                gl=dict(gl),
                session_pk=self.session.pk,
                key=key,
                request=request,
                merch=merch,
            )
        )

    def apply(self, *, lines, gl, sign: int) -> None:
        for kind, ref, amount in lines:
            if kind == "utility":
                self.utility[ref] -= sign * amount
            elif kind == "invoice":
                self.invoices[ref] -= sign * amount
        for account, amount in gl.items():
            self.gl[account] += sign * amount

    def voidable(self) -> list[ModelReceipt]:
        return [r for r in self.receipts if r.state == "posted" and r.session_pk == self.session.pk]

    def reversible(self) -> list[ModelReceipt]:
        return [r for r in self.receipts if r.state == "posted" and r.session_pk != self.session.pk]

    @precondition(lambda self: self.receipts)
    @rule(data=st.data())
    def submit_again(self, data):
        """A double submit returns the receipt first posted and changes nothing."""
        paid = data.draw(st.sampled_from(self.receipts))
        if paid.state == "reversal":
            return
        before = row_counts()
        assert receipt_post(**paid.request).pk == paid.pk
        assert row_counts() == before

    @precondition(lambda self: self.voidable())
    @rule(data=st.data())
    def void_a_receipt(self, data):
        paid = data.draw(st.sampled_from(self.voidable()))
        request = correction_request(
            receipt=Receipt(pk=paid.pk), kind="void", reason="Property void", user=self.cashier
        )
        correction_approve(correction=request, user=self.supervisor)
        paid.state = "voided"
        self.apply(lines=paid.lines, gl=paid.gl, sign=-1)

    @rule()
    def close_and_open_a_new_session(self):
        session_close(session=self.session, user=self.cashier)
        self.session = open_session(self.cashier, next(self.drawers))

    @precondition(lambda self: self.reversible())
    @rule(data=st.data())
    def reverse_a_receipt(self, data):
        paid = data.draw(st.sampled_from(self.reversible()))
        request = correction_request(
            receipt=Receipt(pk=paid.pk),
            kind="reversal",
            reason="Property reversal",
            user=self.cashier,
            target_session=self.session,
        )
        reversal = correction_approve(correction=request, user=self.supervisor).reversal_receipt
        assert (reversal.number, reversal.total) == (self.next_number, -paid.total)
        self.next_number += 1
        paid.state = "reversed"
        self.apply(lines=paid.lines, gl=paid.gl, sign=-1)
        self.receipts.append(
            ModelReceipt(
                pk=reversal.pk,
                number=reversal.number,
                total=-paid.total,
                lines=[(k, r, -a) for k, r, a in paid.lines],
                gl={a: -v for a, v in paid.gl.items()},
                session_pk=self.session.pk,
                key=reversal.idempotency_key,
                request={},
                state="reversal",
            )
        )

    # --- invariants ----------------------------------------------------------------------
    # One invariant with few queries: it runs after every step of every example.

    @invariant()
    def the_books_agree_with_the_model(self):
        self.check_receipts()
        assert unbalanced_entries() == []
        fire_deferred_checks()  # and the database's own balance check agrees
        self.check_targets()
        self.check_numbers()
        self.check_ledger()

    def check_receipts(self) -> None:
        """Tenders - change = lines = total on every receipt; change only from cash."""
        with connection.cursor() as cursor:
            cursor.execute(
                """
                SELECT r.id, r.total, r.tendered, r.change_given, l.total, t.total, t.cash
                FROM cashiering_receipt r
                JOIN (SELECT receipt_id, sum(amount) AS total FROM cashiering_receiptline
                      GROUP BY receipt_id) l ON l.receipt_id = r.id
                JOIN (SELECT receipt_id, sum(amount) AS total,
                             sum(amount) FILTER (WHERE tt.gives_change) AS cash
                      FROM cashiering_tender JOIN cashiering_tendertype tt
                           ON tt.id = tender_type_id
                      GROUP BY receipt_id) t ON t.receipt_id = r.id
                """
            )
            rows = cursor.fetchall()
        assert len(rows) == len(self.receipts)  # no receipt without lines and tenders
        for _pk, total, tendered, change, lines, tenders, cash in rows:
            assert tenders - change == lines == total
            assert tendered == tenders
            assert ZERO <= change <= max(cash or ZERO, ZERO)

    def check_targets(self) -> None:
        """Balance = opening - payments + undone payments, from the model and the rows."""
        accounts = dict(
            UtilityAccount.objects.filter(number__in=self.utility).values_list("number", "balance")
        )
        invoices = dict(
            ARInvoice.objects.filter(number__in=self.invoices).values_list("number", "amount_due")
        )
        assert accounts == self.utility
        assert invoices == self.invoices
        assert all(due >= 0 for due in invoices.values())  # never overpaid
        standing = (
            ReceiptLine.objects.filter(receipt__status="posted")
            .values("target_kind", "target_ref")
            .annotate(paid=Sum("amount"))
        )
        paid = {(row["target_kind"], row["target_ref"]): row["paid"] for row in standing}
        for number, opening in UTILITY_OPENING.items():
            assert accounts[number] == opening - paid.get(("utility", number), ZERO)
        for number, opening in INVOICE_OPENING.items():
            assert invoices[number] == opening - paid.get(("invoice", number), ZERO)

    def check_numbers(self) -> None:
        """Numbers 1..n without a gap, voided ones kept; each receipt in its model state."""
        rows = dict(Receipt.objects.filter(series="R").values_list("number", "status"))
        assert sorted(rows) == list(range(self.first_number, self.next_number))
        for paid in self.receipts:
            assert rows[paid.number] == ("voided" if paid.state == "voided" else "posted")

    def check_ledger(self) -> None:
        accounts = self.world.counter.accounts
        codes = {accounts[c].pk: c for c in TRACKED if c != "MERCH"}
        codes |= {accounts[MERCH_SALES].pk: MERCH_SALES, accounts[SALES_TAX].pk: SALES_TAX}
        sums = (
            JournalLine.objects.filter(account__in=codes)
            .values("account")
            .annotate(net=Sum("debit") - Sum("credit"))
        )
        actual = defaultdict(lambda: ZERO)
        for row in sums:
            actual[codes[row["account"]]] = row["net"]
        actual["MERCH"] = actual.pop(MERCH_SALES, ZERO) + actual.pop(SALES_TAX, ZERO)
        for code in TRACKED:
            assert actual[code] == self.gl[code], code
        # Merchandise: 91.954 % to sales, within a cent on each line.
        merch = [amount for r in self.receipts if r.state == "posted" for amount in r.merch]
        sales = -gl_balance(MERCH_SALES, accounts)
        assert abs(sales - sum(merch, ZERO) * MERCH_SALES_SHARE) <= CENT * max(len(merch), 1)


def test_the_counters_books_stay_consistent(world):
    machine = type("Counter", (CounterMachine,), {"world": world})
    run_state_machine_as_test(machine, settings=MACHINE_SETTINGS)
