"""The counter under concurrency, with real threads on real PostgreSQL connections:
gapless receipt numbers, double submits, openings racing each other, decisions racing each
other, and a connection killed in the middle of a posting."""

import contextlib
import dataclasses
import threading
import time
import uuid
from collections.abc import Callable
from decimal import Decimal

import psycopg
import pytest
from django.db import DatabaseError, connection, connections
from django.db.models import Sum

from cashiering.errors import CashieringError, IdempotencyConflict
from cashiering.models import CashierSession, Receipt, ReceiptLine, UtilityAccount
from cashiering.services import receipt_statements as receipt_statements_services
from cashiering.services.corrections import correction_approve, correction_request
from kent_cs.models import NumberSeries
from kent_cs.numbering import peek_number
from kent_cs.roles import Role
from ledger.models import JournalEntry
from ledger.services import JOURNAL_SERIES
from tests.cashiering.factories import (
    counter_setup,
    fee,
    make_account,
    make_drawer,
    open_session,
    post,
    row_counts,
    unbalanced_entries,
    utility,
)
from tests.factories import make_user

D = Decimal
THREADS = 16
RECEIPTS_PER_THREAD = 3
JOIN_TIMEOUT = 120

pytestmark = pytest.mark.django_db(transaction=True)


def run_together(tasks: list[Callable[[], object]]) -> list[tuple[str, object]]:
    """Run each task in its own thread, all released at once; ("ok", result) or
    ("error", exception) per task, in order. Each thread closes its connection."""
    start = threading.Barrier(len(tasks))
    outcomes: list[tuple[str, object]] = [("missing", None)] * len(tasks)

    def run(index: int, task: Callable[[], object]) -> None:
        try:
            start.wait(timeout=30)
            outcomes[index] = ("ok", task())
        except BaseException as exc:  # reported to the test, never lost with the thread
            outcomes[index] = ("error", exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(tasks)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=JOIN_TIMEOUT)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    return outcomes


def errors_of(outcomes) -> list[BaseException]:
    return [value for kind, value in outcomes if kind != "ok"]


# ----------------------------------------------------------------------------- numbering


def test_sixteen_cashiers_posting_at_once_get_contiguous_numbers():
    counter = counter_setup()
    shared = make_account("100000-00", balance="1000.00", name="Kent Commons")
    sessions = []
    for index in range(THREADS):
        cashier = make_user(f"cashier_{index:02d}", Role.CASHIER)
        make_account(f"2000{index:02d}-01", balance="50.00")
        sessions.append(open_session(cashier, make_drawer(f"W{index:02d}").code))

    def work(index: int) -> Callable[[], list[int]]:
        session = sessions[index]

        def post_receipts() -> list[int]:
            numbers = []
            for _ in range(RECEIPTS_PER_THREAD):
                receipt = post(
                    session,
                    # Every thread pays the shared account too: real contention on its row.
                    [utility(shared.number, "1.00"), utility(f"2000{index:02d}-01", "10.00")],
                    [counter.cash("20.00")],
                )
                numbers.append(receipt.number)
            return numbers

        return post_receipts

    outcomes = run_together([work(i) for i in range(THREADS)])

    assert errors_of(outcomes) == []
    total = THREADS * RECEIPTS_PER_THREAD
    numbers = [n for _, taken in outcomes for n in taken]
    assert sorted(numbers) == list(range(1, total + 1))  # contiguous, no duplicate
    for _, taken in outcomes:
        assert taken == sorted(taken)  # each cashier's receipts count up
    assert peek_number("receipt-R") == total + 1
    assert Receipt.objects.count() == total
    # Every receipt has its own balanced entry, numbered without gaps either.
    entries = JournalEntry.objects.filter(source="receipt")
    assert sorted(entries.values_list("number", flat=True)) == list(range(1, total + 1))
    assert unbalanced_entries() == []
    assert {
        r.journal_entry.source_ref for r in Receipt.objects.select_related("journal_entry")
    } == {f"R-{n}" for n in range(1, total + 1)}
    assert UtilityAccount.objects.get(number=shared.number).balance == D("1000.00") - total
    # Each receipt read the shared account locked, after the ones before it had paid.
    seen = ReceiptLine.objects.filter(target_ref=shared.number).values_list(
        "balance_before", flat=True
    )
    assert sorted(seen) == [D("1000.00") - n for n in range(total - 1, -1, -1)]
    own = UtilityAccount.objects.filter(number__startswith="2000").aggregate(s=Sum("balance"))
    assert own["s"] == THREADS * (D("50.00") - RECEIPTS_PER_THREAD * D("10.00"))


# ----------------------------------------------------------------------------- double submits


def test_a_double_submit_from_two_threads_posts_one_receipt(cashier):
    counter = counter_setup()
    account = make_account("104455-01", balance="120.00")
    session = open_session(cashier)
    key = uuid.uuid4()

    def submit():
        return post(session, [utility(account.number, "120.00")], [counter.cash("150")], key=key)

    outcomes = run_together([submit, submit])

    assert errors_of(outcomes) == []
    first, second = (receipt for _, receipt in outcomes)
    assert first.pk == second.pk and first.number == 1
    assert Receipt.objects.count() == 1
    assert JournalEntry.objects.count() == 1
    assert UtilityAccount.objects.get(pk=account.pk).balance == D("0.00")
    assert peek_number("receipt-R") == 2


def test_the_same_key_with_different_contents_at_once_posts_one_and_refuses_the_rest(cashier):
    counter = counter_setup()
    account = make_account("104455-01", balance="120.00")
    session = open_session(cashier)
    key = uuid.uuid4()

    def submit(amount: str):
        return lambda: post(
            session, [utility(account.number, amount)], [counter.cash("150")], key=key
        )

    amounts = ["120.00", "120.00", "120.00", "20.00"]
    outcomes = run_together([submit(a) for a in amounts])

    receipt = Receipt.objects.get()
    paid = str(receipt.total)
    for amount, (kind, value) in zip(amounts, outcomes, strict=True):
        if amount == paid:
            assert kind == "ok" and value.pk == receipt.pk
        else:
            assert kind == "error" and isinstance(value, IdempotencyConflict)
    assert UtilityAccount.objects.get(pk=account.pk).balance == D("120.00") - receipt.total


# ----------------------------------------------------------------------------- sessions


def test_openings_racing_each_other_leave_one_open_session_and_a_message(cashier):
    counter_setup()
    drawers = [make_drawer(f"R{i}").code for i in range(6)]

    def opening(drawer: str):
        return lambda: open_session(cashier, drawer)

    outcomes = run_together([opening(d) for d in drawers])

    opened = [value for kind, value in outcomes if kind == "ok"]
    refused = errors_of(outcomes)
    assert len(opened) == 1
    assert CashierSession.objects.filter(cashier=cashier, status="open").count() == 1
    for exc in refused:  # the friendly message, never a database error page
        assert isinstance(exc, CashieringError), repr(exc)
        assert exc.messages == ["You already have an open session; close it first."]


def test_two_supervisors_approving_one_void_at_once_void_it_once(cashier, supervisor):
    counter = counter_setup()
    other_supervisor = make_user("supervisor_2", Role.SUPERVISOR)
    account = make_account("104455-01", balance="120.00")
    session = open_session(cashier)
    receipt = post(session, [utility(account.number, "100.00"), fee("PET")], [counter.cash("130")])
    request = correction_request(receipt=receipt, kind="void", reason="Wrong", user=cashier)

    outcomes = run_together(
        [
            lambda u=u: correction_approve(correction=request, user=u)
            for u in (supervisor, other_supervisor)
        ]
    )

    assert sum(kind == "ok" for kind, _ in outcomes) == 1
    [refusal] = errors_of(outcomes)
    assert isinstance(refusal, CashieringError) and "already approved" in refusal.messages[0]
    voided = Receipt.objects.get(pk=receipt.pk)
    assert voided.status == "voided"
    assert JournalEntry.objects.filter(reverses=voided.journal_entry).count() == 1
    assert UtilityAccount.objects.get(pk=account.pk).balance == D("120.00")
    assert unbalanced_entries() == []


# ----------------------------------------------------------------------------- a killed posting


def raw_connection() -> psycopg.Connection:
    """A second session on the test database, outside Django."""
    settings = connection.settings_dict
    return psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        password=settings["PASSWORD"] or None,
        host=settings["HOST"] or None,
        port=settings["PORT"] or None,
    )


def waiting_on(blocker_pid: int, timeout: float = 30) -> int:
    """The backend that waits for a lock held by `blocker_pid`."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
                [blocker_pid],
            )
            row = cursor.fetchone()
            if row:
                return row[0]
            time.sleep(0.05)
    raise AssertionError("the posting never blocked on the held lock")


def tables_written_by(pid: int) -> set[str]:
    """Tables the backend holds ROW EXCLUSIVE on: those it has inserted into or updated."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "WHERE l.pid = %s AND l.mode = 'RowExclusiveLock' AND c.relkind = 'r'",
            [pid],
        )
        return {name for (name,) in cursor.fetchall()}


# What the blocker locks, and which tables the posting has written when it waits there.
KILL_POINTS = {
    # The receipt number: the posting holds the account, its session and its key, and has
    # written nothing of the receipt yet.
    "receipt-number": (
        "SELECT 1 FROM kent_cs_numberseries WHERE key = 'receipt-R' FOR UPDATE",
        {"kent_cs_numberseries"},
    ),
    # The check tender type, reached by the tenders' foreign key check: by then the
    # receipt, its lines, its journal entry and both numbers are written.
    "tenders": (
        "SELECT 1 FROM cashiering_tendertype WHERE code = 'CHECK' FOR UPDATE",
        {
            "kent_cs_numberseries",
            "ledger_journalentry",
            "ledger_journalline",
            "cashiering_receipt",
            "cashiering_receiptline",
        },
    ),
}


@pytest.mark.parametrize("point", KILL_POINTS)
def test_a_posting_killed_midway_leaves_nothing_and_its_retry_succeeds(cashier, point):
    counter = counter_setup()
    account = make_account("104455-01", balance="120.00")
    session = open_session(cashier)
    key = uuid.uuid4()
    lines, tenders = [utility(account.number, "120.00")], [counter.check("120.00")]
    lock_sql, written = KILL_POINTS[point]
    with connection.cursor() as cursor:  # the series row exists before anyone locks it
        cursor.execute(
            "INSERT INTO kent_cs_numberseries (key, next_value) VALUES ('receipt-R', 1) "
            "ON CONFLICT (key) DO NOTHING"
        )
    journal_next = peek_number(JOURNAL_SERIES)
    before = row_counts()

    outcome: dict[str, BaseException] = {}

    def doomed_post() -> None:
        try:
            post(session, lines, tenders, key=key)
        except BaseException as exc:
            outcome["error"] = exc
        finally:
            with contextlib.suppress(DatabaseError):
                connections.close_all()

    blocker = raw_connection()
    try:
        blocker_pid = blocker.execute("SELECT pg_backend_pid()").fetchone()[0]
        blocker.execute(lock_sql)  # psycopg opens a transaction: the lock is held
        thread = threading.Thread(target=doomed_post)
        thread.start()
        victim = waiting_on(blocker_pid)
        assert written <= tables_written_by(victim)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [victim])
            assert cursor.fetchone() == (True,)
        thread.join(timeout=JOIN_TIMEOUT)
        assert not thread.is_alive()
        assert isinstance(outcome.get("error"), DatabaseError), outcome

        # Nothing of the posting survived, and no number was spent.
        assert row_counts() == before
        assert UtilityAccount.objects.get(pk=account.pk).balance == D("120.00")
        assert NumberSeries.objects.get(key="receipt-R").next_value == 1
        assert peek_number(JOURNAL_SERIES) == journal_next
    finally:
        blocker.rollback()
        blocker.close()

    # The cashier presses "Post payment" again: the same key now posts, as number 1.
    receipt = post(session, lines, tenders, key=key)
    assert (str(receipt), receipt.total) == ("R-1", D("120.00"))
    assert receipt.lines.count() == 1 and receipt.tenders.count() == 1
    assert UtilityAccount.objects.get(pk=account.pk).balance == D("0.00")
    assert receipt.journal_entry.number == journal_next
    assert post(session, lines, tenders, key=key).pk == receipt.pk  # and only once
    assert unbalanced_entries() == []


def test_a_resubmit_that_missed_the_first_receipt_returns_it(cashier, monkeypatch):
    """A request that waited for the session reads with a snapshot from before the first
    receipt committed; its INSERT then meets the idempotency key's constraint."""

    counter = counter_setup()
    account = make_account("104455-02", balance="120.00")
    session = open_session(cashier)
    key = uuid.uuid4()
    first = post(session, [utility(account.number, "20.00")], [counter.cash("20.00")], key=key)
    reads = receipt_statements_services.posting_reads

    def stale(*args, **kwargs):
        return dataclasses.replace(reads(*args, **kwargs), existing_id=None)

    monkeypatch.setattr("cashiering.services.receipts.posting_reads", stale)
    again = post(session, [utility(account.number, "20.00")], [counter.cash("20.00")], key=key)
    assert again.pk == first.pk
    with pytest.raises(IdempotencyConflict):
        post(session, [utility(account.number, "25.00")], [counter.cash("25.00")], key=key)
    assert Receipt.objects.count() == 1
    assert UtilityAccount.objects.get(pk=account.pk).balance == D("100.00")
    assert peek_number("receipt-R") == 2  # the refused INSERTs took no number
