"""Importing utility accounts and AR invoices from the billing systems' files."""

import io
import threading
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connections, transaction
from django.urls import reverse
from openpyxl import Workbook

from cashiering import imports
from cashiering.models import ARInvoice, PayerIndex, UtilityAccount
from cashiering.services.sessions import session_close
from kent_cs.roles import Role
from kent_cs.uploads.results import UploadRefused
from tests.cashiering.factories import (
    counter_setup,
    invoice,
    make_account,
    make_invoice,
    open_session,
    post,
    utility,
    void,
)
from tests.factories import TODAY, make_user

D = Decimal
DATA = Path(__file__).parent / "data"
IMPORT = reverse("cashiering:import")
FILE_DATE = TODAY - timedelta(days=1)  # the billing extract of the night before


def upload(name: str, content: bytes | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, (DATA / name).read_bytes() if content is None else content)


def submit(client, name, *, kind="utility", as_of=FILE_DATE, check=False, content=None):
    data = {
        "kind": kind,
        "file": upload(name, content),
        "as_of": as_of.isoformat() if as_of else "",
    }
    if check:
        data["dry_run"] = "1"
    return client.post(IMPORT, data)


def event_count(model) -> int:
    return sum(event.objects.count() for event in set(model.pgh_event_models.values()))


def invoice_workbook() -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "Open invoices"
    sheet.append(["City of Kent AR - open items"])
    sheet.append([])
    sheet.append(
        [
            "Invoice #",
            "Customer Name",
            "Customer Address",
            "Description",
            "Invoice Date",
            "Due Date",
            "Amount",
            "Amount Due",
        ]
    )
    sheet.append(
        [
            24001,
            "Valley Auto Body",
            "24010 Pacific Hwy S, Kent WA 98032",
            "False alarm response",
            datetime(2026, 2, 2),
            datetime(2026, 3, 4),
            250,
            250,
        ]
    )
    sheet.append(
        [
            "INV-24002",
            "Kent Station Books",
            "417 Ramsay Way, Kent WA 98032",
            "Facility rental - Kent Commons",
            datetime(2026, 2, 10),
            None,
            1100.1,
            600.05,
        ]
    )
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


@pytest.fixture
def counter(db):
    return counter_setup()


# --- utility accounts -----------------------------------------------------------------


def test_utility_csv_import_adds_accounts_indexes_and_audits_them(client_for, technician):
    response = submit(client_for(technician), "utility_accounts.csv")

    assert response.status_code == 200
    summary = response.context["summary"]
    assert (summary.new, summary.updated, summary.unchanged, summary.dry_run) == (3, 0, 0, False)
    accounts = {a.number: a for a in UtilityAccount.objects.all()}
    assert {n: a.balance for n, a in accounts.items()} == {
        "104455-01": D("120.00"),
        "104462-07": D("1204.50"),
        "104469-13": D("-15.25"),
    }
    assert accounts["104462-07"].name == "Valley Auto Body"
    assert accounts["104462-07"].service_address == "24010 Pacific Hwy S, Kent WA 98032"
    assert {a.balance_as_of for a in accounts.values()} == {FILE_DATE}
    index = PayerIndex.objects.get(kind="utility", ref="104462-07")
    assert (index.name, index.address) == ("Valley Auto Body", "24010 Pacific Hwy S, Kent WA 98032")
    assert "valley auto body" in index.search_text
    event = UtilityAccount.pgh_event_models["insert"].objects.get(
        pgh_obj=accounts["104455-01"], pgh_label="insert"
    )
    assert event.pgh_context.metadata["reason"] == "Import of utility_accounts.csv"
    assert event.pgh_context.metadata["user"] == technician.pk
    html = response.content.decode()
    assert "Imported utility_accounts.csv" in html


def test_the_same_file_twice_changes_nothing_the_second_time(client_for, technician):
    client = client_for(technician)
    submit(client, "utility_accounts.csv")
    events = event_count(UtilityAccount)

    response = submit(client, "utility_accounts.csv")

    summary = response.context["summary"]
    assert (summary.new, summary.updated, summary.unchanged) == (0, 0, 3)
    assert summary.changes == []
    assert event_count(UtilityAccount) == events


def test_a_changed_line_updates_only_what_differs(client_for, technician):
    client = client_for(technician)
    submit(client, "utility_accounts.csv")
    events = event_count(UtilityAccount)
    changed = (
        (DATA / "utility_accounts.csv")
        .read_bytes()
        .replace(b"Maria Lopez,", b"Maria Lopez-Garcia,")
        .replace(b"(15.25)", b"20.00")
    )

    response = submit(client, "utility_accounts.csv", content=changed, check=True)
    summary = response.context["summary"]
    assert (summary.new, summary.updated, summary.unchanged) == (0, 2, 1)
    assert UtilityAccount.objects.get(number="104455-01").name == "Maria Lopez"  # a check only
    response = submit(client, "utility_accounts.csv", content=changed)

    summary = response.context["summary"]
    assert (summary.new, summary.updated, summary.unchanged) == (0, 2, 1)
    by_number = {change.number: change for change in summary.changes}
    assert [(c.label, c.old, c.new) for c in by_number["104455-01"].changes] == [
        ("Name", "Maria Lopez", "Maria Lopez-Garcia")
    ]
    assert [(c.label, c.old, c.new) for c in by_number["104469-13"].changes] == [
        ("Balance", "-15.25", "20.00")
    ]
    assert event_count(UtilityAccount) == events + 2
    assert PayerIndex.objects.get(kind="utility", ref="104455-01").name == "Maria Lopez-Garcia"
    assert "Name: Maria Lopez → Maria Lopez-Garcia" in response.content.decode()


def test_check_file_shows_what_would_change_and_writes_nothing(client_for, technician):
    response = submit(client_for(technician), "utility_accounts.csv", check=True)

    assert response.status_code == 200
    summary = response.context["summary"]
    assert (summary.new, summary.updated, summary.unchanged, summary.dry_run) == (3, 0, 0, True)
    assert [change.number for change in summary.changes] == ["104455-01", "104462-07", "104469-13"]
    assert not UtilityAccount.objects.exists()
    assert not PayerIndex.objects.filter(kind="utility").exists()
    assert event_count(UtilityAccount) == 0
    assert "nothing has been changed yet" in response.content.decode()


def test_bad_lines_are_all_reported_and_nothing_is_written(client_for, technician):
    response = submit(client_for(technician), "utility_accounts_bad.csv")

    assert response.status_code == 400
    problems = [str(problem) for problem in response.context["problems"]]
    assert problems == [
        'Line 2, column "balance": "12O.00" is not an amount.',
        'Line 3, column "account_number": A value is required.',
        'Line 5, column "account_number": Account 104462-07 is also on line 4.',
        'Line 6, column "name": A value is required.',
    ]
    assert not UtilityAccount.objects.exists()
    assert event_count(UtilityAccount) == 0
    html = response.content.decode()
    assert "The file cannot be imported as it is. Nothing was changed." in html
    assert "Account 104462-07 is also on line 4." in html


def test_windows_1252_names_and_the_balance_date_column(client_for, technician):
    client = client_for(technician)

    # The third line has no date and the form gives none.
    response = submit(client, "utility_accounts_cp1252.csv", as_of=None)
    assert [str(p) for p in response.context["problems"]] == [
        'Line 4, column "balance_as_of": Enter the date the balance is as of.'
    ]
    assert not UtilityAccount.objects.exists()

    response = submit(client, "utility_accounts_cp1252.csv", as_of=FILE_DATE)

    assert response.context["summary"].new == 3
    accounts = {a.number: a for a in UtilityAccount.objects.all()}
    assert accounts["200001-01"].name == "José Núñez"
    assert accounts["200001-01"].service_address == "1 Café Way, Kent WA 98032"
    assert accounts["200002-01"].name == "Françoise Müller"
    assert accounts["200003-01"].name == "Seán O\u2019Brien"  # Windows-1252 0x92
    assert accounts["200001-01"].balance_as_of == date(2026, 3, 13)
    assert accounts["200003-01"].balance_as_of == FILE_DATE
    assert PayerIndex.objects.get(ref="200001-01").search_text.startswith("200001-01 josé núñez")


def test_whole_file_refusals(client_for, technician):
    client = client_for(technician)

    response = submit(client, "utility_accounts.csv", as_of=None)
    assert [str(p) for p in response.context["problems"]] == [
        'Enter the date the balances are as of, or add a "balance as of" column to the file.'
    ]
    response = submit(client, "utility_accounts.csv", as_of=date(2099, 1, 1))
    assert "is in the future" in str(response.context["problems"][0])
    response = submit(client, "utility_accounts.csv", kind="invoice")
    assert 'There is no "invoice number" column' in str(response.context["problems"][0])
    response = submit(client, "photo.csv", content=b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    assert "This is an image" in str(response.context["problems"][0])
    assert not UtilityAccount.objects.exists()
    assert not ARInvoice.objects.exists()


def test_counter_payments_after_the_file_date_stay_taken_off(counter, cashier, supervisor):
    """The file's balance is as of its date; payments since then are not in it yet."""
    account = make_account(number="104455-01", balance="120.00")
    session = open_session(cashier, "D1", business_date=TODAY)
    post(session, [utility(account.number, "50.00")], [counter.cash("50.00")])
    voided = post(session, [utility(account.number, "5.00")], [counter.cash("5.00")])
    void(voided, requester=cashier, approver=supervisor)
    session_close(session=session, user=cashier)
    csv = (
        b"account number,name,service address,balance\n104455-01,Maria Lopez,1220 W Meeker St,%s\n"
    )

    def run(balance: str, as_of: date, *, dry_run=False):
        table = imports.read_import_table("utility", csv % balance.encode())
        return imports.utility_accounts_import(
            table=table, user=supervisor, as_of=as_of, dry_run=dry_run, file_name="ub.csv"
        )

    # Last night's file still shows the 120.00 paid down this morning: 70.00 stays owed.
    summary = run("120.00", FILE_DATE)
    account.refresh_from_db()
    assert account.balance == D("70.00")
    assert account.balance_as_of == FILE_DATE
    assert (summary.updated, summary.unchanged) == (1, 0)
    assert run("120.00", FILE_DATE).unchanged == 1

    # Tonight's file includes the payment and a new 30.00 bill.
    run("100.00", TODAY)
    account.refresh_from_db()
    assert account.balance == D("100.00")


@pytest.mark.django_db(transaction=True)
def test_a_payment_in_flight_is_not_lost_by_an_import():
    """The import waits for a payment being posted, then takes it off the file's balance;
    it never writes the balance it read before the payment committed."""
    counter = counter_setup()
    cashier = make_user("cashier", Role.CASHIER)
    account = make_account(number="104455-01", balance="120.00")
    session = open_session(cashier, "D1", business_date=TODAY)
    table = imports.read_import_table(
        "utility",
        b"account number,name,service address,balance\n"
        b"104455-01,Maria Lopez,1220 W Meeker St,120.00\n",
    )
    paid, release, importing = threading.Event(), threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def pay() -> None:
        try:
            with transaction.atomic():
                post(session, [utility(account.number, "50.00")], [counter.cash("50.00")])
                paid.set()
                release.wait(timeout=30)  # still uncommitted while the import starts
        except BaseException as exc:
            outcome["payment error"] = exc
        finally:
            connections.close_all()

    def run_import() -> None:
        try:
            paid.wait(timeout=30)
            importing.set()
            outcome["summary"] = imports.utility_accounts_import(
                table=table, user=cashier, as_of=FILE_DATE, dry_run=False, file_name="ub.csv"
            )
        except BaseException as exc:
            outcome["import error"] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=pay), threading.Thread(target=run_import)]
    for thread in threads:
        thread.start()
    assert importing.wait(timeout=30)
    time.sleep(0.5)
    assert "summary" not in outcome  # waiting for the payment to commit
    release.set()
    for thread in threads:
        thread.join(timeout=60)

    assert not any(thread.is_alive() for thread in threads)
    assert set(outcome) == {"summary"}
    account.refresh_from_db()
    assert account.balance == D("70.00")
    assert account.balance_as_of == FILE_DATE


# --- AR invoices ----------------------------------------------------------------------


def test_xlsx_invoice_import(client_for, technician):
    client = client_for(technician)

    response = submit(client, "open_items.xlsx", kind="invoice", content=invoice_workbook())

    assert response.status_code == 200
    assert response.context["summary"].new == 2
    first = ARInvoice.objects.get(number="24001")
    assert (first.amount, first.amount_due) == (D("250.00"), D("250.00"))
    assert (first.invoice_date, first.due_date) == (date(2026, 2, 2), date(2026, 3, 4))
    second = ARInvoice.objects.get(number="INV-24002")
    assert (second.amount, second.amount_due, second.due_date) == (
        D("1100.10"),
        D("600.05"),
        None,
    )
    index = PayerIndex.objects.get(kind="invoice", ref="INV-24002")
    assert (index.name, index.detail) == ("Kent Station Books", "Facility rental - Kent Commons")

    events = event_count(ARInvoice)
    again = submit(client, "open_items.xlsx", kind="invoice", content=invoice_workbook())
    assert again.context["summary"].unchanged == 2
    assert event_count(ARInvoice) == events


def test_csv_invoice_import(client_for, technician):
    response = submit(client_for(technician), "ar_invoices.csv", kind="invoice")

    assert response.context["summary"].new == 2
    invoice_ = ARInvoice.objects.get(number="INV-24002")
    assert (invoice_.amount, invoice_.amount_due) == (D("1100.00"), D("600.00"))
    assert invoice_.invoice_date == date(2026, 2, 10)


def test_invoice_lines_are_checked(client_for, technician):
    content = (
        b"invoice number,customer name,invoice date,due date,amount,amount due\n"
        b"INV-1,Valley Auto Body,2026-02-02,2026-03-04,100.00,150.00\n"
        b"INV-2,Valley Auto Body,2026-02-02,2026-01-04,100.00,50.00\n"
        b"INV-3,Valley Auto Body,2026-02-02,2026-03-04,100.00,-1.00\n"
        b"INV-4,Valley Auto Body,2026-02-02,2026-03-04,0.00,0.00\n"
        b"INV-5,Valley Auto Body,02/30/2026,,100.00,100.00\n"
        b"INV-6,Valley Auto Body,2026-02-02,,100.00,100.00\n"
    )

    response = submit(client_for(technician), "ar.csv", kind="invoice", content=content)

    assert [str(p) for p in response.context["problems"]] == [
        'Line 2, column "amount due": The amount due (150.00) is more than the invoice '
        "amount (100.00).",
        'Line 3, column "due date": The due date 2026-01-04 is before the invoice date 2026-02-02.',
        'Line 4, column "amount due": The amount due cannot be negative.',
        'Line 5, column "amount": The invoice amount must be more than zero.',
        'Line 6, column "invoice date": "02/30/2026" is not a date on the calendar.',
    ]
    assert not ARInvoice.objects.exists()


def test_invoice_partly_paid_at_the_counter_since_the_file(counter, cashier, technician):
    ar_invoice = make_invoice(number="INV-24001", amount="250.00")
    session = open_session(cashier, "D1", business_date=TODAY)
    post(session, [invoice(ar_invoice.number, "100.00")], [counter.cash("100.00")])
    header = b"invoice number,customer name,description,amount,amount due\n"

    def run(due: str, as_of: date):
        line = b"INV-24001,Valley Auto Body,False alarm response,250.00,%s\n" % due.encode()
        table = imports.read_import_table("invoice", header + line)
        return imports.invoices_import(
            table=table, user=technician, as_of=as_of, dry_run=False, file_name="ar.csv"
        )

    # The file from before the payment: the counter's 100.00 stays taken off.
    summary = run("250.00", FILE_DATE)
    ar_invoice.refresh_from_db()
    assert ar_invoice.amount_due == D("150.00")
    assert summary.unchanged == 1
    assert summary.warnings == []

    # AR wrote the invoice down to 80.00 before the counter took 100.00: nothing is due,
    # and the summary asks AR to look.
    summary = run("80.00", FILE_DATE)
    ar_invoice.refresh_from_db()
    assert ar_invoice.amount_due == D("0.00")
    assert "the counter took 100.00" in summary.warnings[0]

    # A file made after the payment already counts it.
    run("150.00", TODAY)
    ar_invoice.refresh_from_db()
    assert ar_invoice.amount_due == D("150.00")


def test_the_service_itself_refuses_bad_lines():
    table = imports.read_import_table(
        "invoice",
        b"invoice number,customer name,amount,amount due\nINV-1,,10.00,x\n",
    )
    with pytest.raises(UploadRefused) as refused:
        imports.invoices_import(table=table, user=None, as_of=FILE_DATE, dry_run=True)
    assert [str(issue) for issue in refused.value.issues] == [
        'Line 2, column "customer name": A value is required.',
    ]


# --- who may import -------------------------------------------------------------------


def test_who_may_import(client_for, personas):
    assert client_for(personas["technician"]).get(IMPORT).status_code == 200
    for name in ("cashier", "supervisor", "outsider"):
        client = client_for(personas[name])
        assert client.get(IMPORT).status_code == 403
        assert submit(client, "utility_accounts.csv").status_code == 403
    assert not UtilityAccount.objects.exists()


def test_import_page_explains_the_form(client_for, technician):
    html = client_for(technician).get(IMPORT).content.decode()
    assert "Check file" in html
    assert ">Import</button>" in html
    assert 'type="file"' in html
    assert "Utility accounts" in html and "AR invoices" in html
