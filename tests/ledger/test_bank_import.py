"""Bank statement import: the real sample files, refusals that write nothing, the page."""

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import F
from django.urls import reverse

from kent_cs.uploads.results import UploadRefused
from ledger.bankfiles import MAX_STATEMENT_BYTES, CsvMapping, bai2_sample, parse_statement_file
from ledger.models import BankAccount, BankStatement, BankStatementImport, BankTransaction
from ledger.services_bank import bank_statement_import

D = Decimal
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "bank"


def read(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def bank_account(chart, number: str, currency: str = "USD", **extra) -> BankAccount:
    return BankAccount.objects.create(
        name=extra.pop("name", f"Account {number}"),
        number=number,
        currency=currency,
        gl_account=chart["001.101.10"],
        **extra,
    )


def counts() -> tuple[int, int, int]:
    return (
        BankStatementImport.objects.count(),
        BankStatement.objects.count(),
        BankTransaction.objects.count(),
    )


def refused(technician, data: bytes, name: str = "file.bai2", **kwargs) -> list[str]:
    with pytest.raises(UploadRefused) as caught:
        bank_statement_import(source=data, file_name=name, user=technician, **kwargs)
    return caught.value.messages


# file, its accounts (number as stored, currency), statements, lines, credits, debits,
# and the (opening, closing) balances of its first statement
REAL_FILES = [
    (
        "bai2/mojbai2__citi_example.bai2",
        [("77777777", "GBP")],
        1,
        1,
        "0.01",
        "0.00",
        ("100.00", "100.00"),
    ),
    (
        "bai2/mojbai2__svb_us_example.bai2",
        [("1234567890", "USD")],
        2,
        2,
        "13959.96",
        "0.00",
        ("347269.79", "352171.75"),
    ),
    # Two account records for the same account in one group: two statements.
    (
        "bai2/moov__sample1.bai2",
        [("10200123456", "CAD")],
        2,
        17,
        "3200.00",
        "3200.00",
        (None, None),
    ),
    (
        "bai2/moov__sample2.bai2",
        [
            ("0123456789", "USD"),
            ("9876543210", "USD"),
            ("4589761203", "USD"),
            ("0975312468", "USD"),
            ("7890654321", "USD"),
        ],
        5,
        4,
        "309500.00",
        "0.00",
        ("43500.00", None),
    ),
    (
        "camt053/genkgo__camt053.v2.multi.statement.xml",
        [("NL26VAYB8060476890", "EUR")],
        2,
        2,
        "8.85",
        "7.00",
        ("18.15", "27.00"),
    ),
    # The file says "12300 000012345678" (transit and account); the city keeps the account.
    (
        "ofx/ofxparse__bank_medium.ofx",
        [("000012345678", "CAD")],
        1,
        3,
        "0.00",
        "345.27",
        (None, "382.34"),
    ),
    (
        "ofx/ofxparse__checking.ofx",
        [("1452687~7", "USD")],
        1,
        3,
        "0.01",
        "59.51",
        (None, "100.99"),
    ),
]


@pytest.mark.parametrize(
    ("name", "accounts", "statements", "lines", "credits", "debits", "balances"),
    REAL_FILES,
    ids=[row[0] for row in REAL_FILES],
)
def test_real_file_is_imported_whole(
    chart, technician, name, accounts, statements, lines, credits, debits, balances
):
    for number, currency in accounts:
        bank_account(chart, number, currency)
    result = bank_statement_import(source=read(name), file_name=name, user=technician)

    record = BankStatementImport.objects.get()
    assert record == result.statement_import
    assert record.file_name == name
    assert record.imported_by == technician
    assert (record.statement_count, record.transaction_count) == (statements, lines)
    assert (record.total_credits, record.total_debits) == (D(credits), D(debits))
    assert BankStatement.objects.filter(statement_import=record).count() == statements
    written = BankTransaction.objects.filter(statement__statement_import=record)
    assert written.count() == lines
    assert sum((t.amount for t in written if t.amount > 0), D("0.00")) == D(credits)
    assert -sum((t.amount for t in written if t.amount < 0), D("0.00")) == D(debits)
    first = BankStatement.objects.filter(statement_import=record).order_by("source_line").first()
    opening, closing = balances
    assert first.opening_balance == (D(opening) if opening else None)
    assert first.closing_balance == (D(closing) if closing else None)
    # Each line belongs to its statement's account.
    assert not written.exclude(bank_account_id=F("statement__bank_account_id")).exists()


def test_svb_lines_carry_dates_references_and_text(chart, technician):
    bank_account(chart, "1234567890")
    bank_statement_import(
        source=read("bai2/mojbai2__svb_us_example.bai2"), file_name="svb.bai2", user=technician
    )
    line = BankTransaction.objects.order_by("booked_date").first()
    assert line.booked_date == date(2022, 2, 1)
    assert line.amount == D("4901.96")
    assert line.type_code == "142"
    assert (line.bank_ref, line.customer_ref) == ("172629", "")
    assert "SOME PAYMENT ACH OFFSET" in line.description
    assert line.source_line == 7


def test_sample1_statements_of_one_account_and_day_are_both_kept(chart, technician):
    bank_account(chart, "10200123456", "CAD")
    bank_statement_import(
        source=read("bai2/moov__sample1.bai2"), file_name="sample1.bai2", user=technician
    )
    ids = list(BankStatement.objects.order_by("source_line").values_list("statement_id", flat=True))
    assert len(ids) == 2
    assert ids[1] == f"{ids[0]}#2"


def test_camt_file_with_mixed_currency_balances_is_refused(chart, technician):
    bank_account(chart, "NL26VAYB8060476890", "EUR")
    messages = refused(technician, read("camt053/genkgo__camt053.v8.xml"), "v8.xml")
    assert any("Line 74" in message and "SEK" in message for message in messages)
    assert counts() == (0, 0, 0)


def test_unknown_account_is_refused_at_the_statement_line(chart, technician):
    messages = refused(technician, read("bai2/mojbai2__svb_us_example.bai2"))
    assert messages == [
        "Line 3: Account number 1234567890 is not one of the city's bank accounts. "
        "An administrator adds bank accounts in the admin.",
        "Line 12: Account number 1234567890 is not one of the city's bank accounts. "
        "An administrator adds bank accounts in the admin.",
    ]
    assert counts() == (0, 0, 0)


def test_one_unknown_account_refuses_the_whole_file(chart, technician):
    for number in ("0123456789", "9876543210", "4589761203", "0975312468"):
        bank_account(chart, number)
    messages = refused(technician, read("bai2/moov__sample2.bai2"))
    assert len(messages) == 1
    assert messages[0].startswith("Line 27: Account number 7890654321 is not one")
    assert counts() == (0, 0, 0)


def test_currency_must_be_the_accounts(chart, technician):
    bank_account(chart, "77777777", "USD", name="Sterling account")
    messages = refused(technician, read("bai2/mojbai2__citi_example.bai2"))
    assert messages == [
        "Line 3: The statement for account 77777777 is in GBP, but the Sterling account "
        "is kept in USD."
    ]
    assert counts() == (0, 0, 0)


def test_inactive_account_is_refused(chart, technician):
    bank_account(chart, "1452687~7", is_active=False, name="Old checking")
    messages = refused(technician, read("ofx/ofxparse__checking.ofx"), "checking.ofx")
    assert messages == [
        "Line 36: Account number 1452687~7 is the Old checking, which is no longer active."
    ]
    assert counts() == (0, 0, 0)


def test_account_number_tail_must_be_unambiguous(chart, technician):
    bank_account(chart, "000012345678", "CAD", name="Transit A")
    bank_account(chart, "12345678", "CAD", name="Transit B")
    messages = refused(technician, read("ofx/ofxparse__bank_medium.ofx"), "medium.ofx")
    assert messages == [
        "Line 13: Account number 12300 000012345678 could be any of these bank accounts: "
        "Transit A, Transit B."
    ]


def test_same_file_again_is_refused_with_the_first_import(chart, technician, supervisor):
    bank_account(chart, "1234567890")
    data = read("bai2/mojbai2__svb_us_example.bai2")
    first = bank_statement_import(source=data, file_name="svb.bai2", user=technician)
    before = counts()
    messages = refused(supervisor, data, "svb-again.bai2")
    assert len(messages) == 1
    assert messages[0].startswith("This file was already imported on ")
    assert messages[0].endswith(f" by technician as import #{first.statement_import.pk}.")
    assert counts() == before


def test_same_statement_in_another_file_is_refused(chart, technician):
    bank_account(chart, "1234567890")
    data = read("bai2/mojbai2__svb_us_example.bai2")
    first = bank_statement_import(source=data, file_name="svb.bai2", user=technician)
    before = counts()
    rewritten = data.replace(b"\n", b"\r\n")  # the same statements, written differently
    messages = refused(technician, rewritten, "svb-crlf.bai2")
    assert len(messages) == 2
    assert messages[0].startswith("Line 3: The statement 202302140754-1/1/1234567890 for the ")
    assert messages[0].endswith(
        f"was already imported in import #{first.statement_import.pk} (svb.bai2)."
    )
    assert counts() == before


def test_truncated_file_is_refused(chart, technician):
    bank_account(chart, "1234567890")
    data = read("bai2/mojbai2__svb_us_example.bai2")
    messages = refused(technician, data[: len(data) // 2])
    assert messages
    assert counts() == (0, 0, 0)


def test_garbled_file_is_refused_with_its_line(chart, technician):
    bank_account(chart, "1234567890")
    data = read("bai2/mojbai2__svb_us_example.bai2").replace(b"16,142,490196", b"16,142,49O196")
    messages = refused(technician, data)
    assert any(message.startswith("Line 7") for message in messages)
    assert counts() == (0, 0, 0)


def test_binary_and_empty_files_are_refused(chart, technician):
    assert refused(technician, b"") == ["The file is empty."]
    assert refused(technician, b"\x89PNG\r\n\x1a\n" + bytes(200))
    assert counts() == (0, 0, 0)


def test_oversized_file_is_refused(chart, technician):
    bank_account(chart, "4820019937-X")
    messages = refused(technician, b"01," + b"9" * MAX_STATEMENT_BYTES)
    assert len(messages) == 1
    assert "larger than" in messages[0]
    assert counts() == (0, 0, 0)


def test_csv_without_mapping_is_refused(chart, technician):
    messages = refused(technician, b"Date,Amount\n2026-03-16,25.00\n", "export.csv")
    assert "a CSV file needs a column mapping" in messages[0]


def test_mapped_csv_is_imported(chart, technician):
    account = BankAccount.objects.get(is_default=True)
    data = (
        b"Posted,Amount,Memo,Ref\n"
        b"2026-03-16,1250.50,DEPOSIT,D-2026-0001\n"
        b"2026-03-17,-35.00,RETURNED ITEM,R17\n"
    )
    mapping = CsvMapping(
        date="Posted",
        amount="Amount",
        description="Memo",
        reference="Ref",
        default_account_number=account.number,
    )
    result = bank_statement_import(
        source=data, file_name="export.csv", user=technician, csv_mapping=mapping
    )
    assert result.statement_import.format == "csv"
    assert list(
        BankTransaction.objects.order_by("booked_date").values_list("amount", "customer_ref")
    ) == [(D("1250.50"), "D-2026-0001"), (D("-35.00"), "R17")]


def test_large_file_is_written_whole(chart, technician):
    """Above the COPY threshold the lines go in through COPY: same rows, same totals."""
    account = BankAccount.objects.get(is_default=True)
    data = bai2_sample(
        lines=2500, account_number=account.number, business_date=date(2026, 3, 16), seed=7
    )
    parsed = parse_statement_file(data)
    result = bank_statement_import(source=data, file_name="big.bai2", user=technician)
    assert result.statement_import.transaction_count == 2500
    written = BankTransaction.objects.filter(bank_account=account)
    assert written.count() == 2500
    assert sum((t.amount for t in written), D("0.00")) == (
        parsed.total_credits - parsed.total_debits
    )
    first = parsed.statements[0].lines[0]
    row = written.order_by("source_line").first()
    assert (row.source_line, row.booked_date, row.amount, row.bank_ref, row.description) == (
        first.line,
        first.booked,
        first.amount,
        first.bank_ref,
        first.description,
    )


# ----------------------------------------------------------------------------- the page


def upload(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def test_technician_imports_a_file_and_sees_the_summary(client, chart, technician):
    bank_account(chart, "1234567890", name="Payroll account")
    client.force_login(technician)
    response = client.post(
        reverse("ledger:bank-import"),
        {"file": upload("svb.bai2", read("bai2/mojbai2__svb_us_example.bai2"))},
    )
    assert response.status_code == 200
    text = response.content.decode()
    assert "Imported svb.bai2" in text
    assert "2 statements, 2 lines, credits 13,959.96, debits 0.00" in text
    assert "347,269.79" in text and "361,229.75" in text
    assert "Payroll account: 0 lines matched automatically." in text
    assert BankTransaction.objects.count() == 2


def test_refused_file_is_listed_line_by_line(client, chart, technician):
    client.force_login(technician)
    response = client.post(
        reverse("ledger:bank-import"),
        {"file": upload("svb.bai2", read("bai2/mojbai2__svb_us_example.bai2"))},
    )
    assert response.status_code == 400
    text = response.content.decode()
    assert "Nothing was imported." in text
    assert "Line 3: Account number 1234567890 is not one of the city&#x27;s bank accounts" in text
    assert counts() == (0, 0, 0)


def test_csv_mapping_from_the_form(client, chart, technician):
    account = BankAccount.objects.get(is_default=True)
    client.force_login(technician)
    response = client.post(
        reverse("ledger:bank-import"),
        {
            "file": upload("export.csv", b"Posted,Amount\n03/16/2026,99.95\n"),
            "csv_account": account.pk,
            "csv_date": "Posted",
            "csv_amount": "Amount",
            "csv_date_format": "%m/%d/%Y",
        },
    )
    assert response.status_code == 200, response.content.decode()
    assert BankTransaction.objects.get().amount == D("99.95")


def test_csv_mapping_needs_one_way_of_amounts(client, chart, technician):
    client.force_login(technician)
    response = client.post(
        reverse("ledger:bank-import"),
        {
            "file": upload("export.csv", b"Posted,Amount\n2026-03-16,99.95\n"),
            "csv_account": BankAccount.objects.get(is_default=True).pk,
            "csv_date": "Posted",
        },
    )
    assert response.status_code == 400
    assert "Map an amount column, or both a credit and a debit column." in (
        response.content.decode()
    )
    assert counts() == (0, 0, 0)


@pytest.mark.parametrize("persona", ["supervisor", "cashier", "admin"])
def test_only_technicians_import(client, chart, personas, persona):
    bank_account(chart, "1234567890")
    client.force_login(personas[persona])
    url = reverse("ledger:bank-import")
    assert client.get(url).status_code == 403
    response = client.post(
        url, {"file": upload("svb.bai2", read("bai2/mojbai2__svb_us_example.bai2"))}
    )
    assert response.status_code == 403
    assert counts() == (0, 0, 0)


# ------------------------------------------------------------------------------ admin


def test_admin_edits_bank_accounts_and_reads_imports(client, chart, admin, technician):
    account = BankAccount.objects.get(is_default=True)
    bank_account(chart, "1234567890")
    bank_statement_import(
        source=read("bai2/mojbai2__svb_us_example.bai2"), file_name="svb.bai2", user=technician
    )
    record = BankStatementImport.objects.get()
    client.force_login(admin)
    assert client.get(reverse("admin:ledger_bankaccount_changelist")).status_code == 200
    change = client.get(reverse("admin:ledger_bankaccount_change", args=[account.pk]))
    assert change.status_code == 200
    assert b"Delete" not in change.content
    delete = reverse("admin:ledger_bankaccount_delete", args=[account.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert BankAccount.objects.filter(pk=account.pk).exists()
    # Imports are written by the import page only; administrators without the view
    # permission do not see them, superusers see them read-only.
    url = reverse("admin:ledger_bankstatementimport_change", args=[record.pk])
    assert client.get(url).status_code == 403
    admin.is_superuser = True
    admin.save(update_fields=["is_superuser"])
    page = client.get(url)
    assert page.status_code == 200
    assert b"202302140754-1/1/1234567890" in page.content
    assert b'name="_save"' not in page.content
