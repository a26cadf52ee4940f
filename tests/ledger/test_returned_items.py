"""Returned items are recognised by more than the BAI2 type code: camt.053 return
information and reason codes, wording under a general debit code, and a debit carrying
a deposit's reference. A CSV's column mapping is remembered per bank account."""

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from ledger.bankfiles import CsvMapping, parse_statement_file
from ledger.models import BankAccount, BankTransaction
from ledger.services import LineSpec, journal_entry_post
from ledger.services_bank import bank_statement_import
from tests.ledger.test_bankfiles import bai2_file

D = Decimal
pytestmark = pytest.mark.django_db
CAMT = Path(__file__).resolve().parent.parent / "fixtures" / "bank" / "camt053"


def test_camt053_return_reason_marks_a_debit_returned_and_names_the_reason():
    base = (CAMT / "genkgo__camt053.v2.multi.statement.xml").read_bytes()
    plain = parse_statement_file(base).statements[1].lines[0]
    assert plain.amount == D("-7.00") and not plain.is_returned_item  # code 544, no return
    returned = base.replace(
        b"<Ustrd>Transaction Description 2</Ustrd>\n                        </RmtInf>",
        b"<Ustrd>Transaction Description 2</Ustrd>\n                        </RmtInf>\n"
        b"                        <RtrInf><Rsn><Cd>AM04</Cd></Rsn>"
        b"<AddtlInf>Payer account short</AddtlInf></RtrInf>",
    )
    line = parse_statement_file(returned).statements[1].lines[0]
    assert line.is_returned_item
    assert "Return reason AM04 (insufficient funds)" in line.description
    assert "Payer account short" in line.description


def test_camt053_debit_worded_as_a_returned_item_is_one():
    base = (CAMT / "genkgo__camt053.v2.multi.statement.xml").read_bytes()
    worded = base.replace(b"Transaction Description 2", b"RETURNED CHECK 1042 NSF")
    assert parse_statement_file(worded).statements[1].lines[0].is_returned_item


def test_bai2_general_debit_worded_as_a_return_is_one_and_a_fee_is_not():
    data = bai2_file(
        [
            "03,777,USD,010,50000,,/",
            "16,469,1200,0,R1,,RETURNED ITEM NSF CHK 1042/",
            "16,469,1500,0,R2,,RETURNED ITEM FEE/",
            "16,495,3000,0,R3,,OUTGOING WIRE/",
        ],
        total=55700,
    )
    lines = parse_statement_file(data).statements[0].lines
    assert [(line.amount, line.is_returned_item) for line in lines] == [
        (D("-12.00"), True),
        (D("-15.00"), False),
        (D("-30.00"), False),
    ]


def _csv(rows: list[str]) -> bytes:
    return ("Posted,Amount,Memo,Ref\n" + "\n".join(rows) + "\n").encode()


def test_a_debit_with_a_deposits_reference_is_a_returned_item(chart, technician):
    account = BankAccount.objects.get(is_default=True)
    journal_entry_post(
        entry_date=date(2026, 3, 16),
        memo="Deposit 4711",
        lines=[
            LineSpec(account.gl_account, debit=D("1250.50")),
            LineSpec(chart["001.101.30"], credit=D("1250.50")),
        ],
        user=technician,
        source="deposit",
        source_ref="4711",
    )
    mapping = CsvMapping(
        date="Posted",
        amount="Amount",
        description="Memo",
        reference="Ref",
        default_account_number=account.number,
    )
    bank_statement_import(
        source=_csv(
            [
                "2026-03-17,1250.50,DEPOSIT,4711",
                "2026-03-18,-40.00,ADJUSTMENT,4711",  # taken back from that deposit
                "2026-03-18,-5.00,SERVICE FEE,4711",  # a fee is not a return
                "2026-03-18,-7.00,CHECK PAID,4711",  # the city's check number 4711
                "2026-03-18,-2000.00,ADJUSTMENT,4711",  # more than the deposit
                "2026-03-18,-12.00,ADJUSTMENT,X-99",  # no such deposit
            ]
        ),
        file_name="march.csv",
        user=technician,
        csv_mapping=mapping,
    )
    returned = dict(
        BankTransaction.objects.filter(amount__lt=0).values_list("amount", "is_returned_item")
    )
    assert returned == {
        D("-40.00"): True,
        D("-5.00"): False,
        D("-7.00"): False,
        D("-2000.00"): False,
        D("-12.00"): False,
    }


def test_the_csv_columns_are_remembered_per_account_and_offered_next_time(
    client_for, chart, technician
):
    account = BankAccount.objects.get(is_default=True)
    client = client_for(technician)
    page = client.get(reverse("ledger:bank-import"))
    assert page.context["form"]["csv_date"].value() in (None, "")
    response = client.post(
        reverse("ledger:bank-import"),
        {
            "file": SimpleUploadedFile(
                "export.csv", b"Posting Date,Amt,Details\n03/16/2026,9.95,X\n"
            ),
            "csv_account": account.pk,
            "csv_date": "Posting Date",
            "csv_amount": "Amt",
            "csv_description": "Details",
            "csv_date_format": "%m/%d/%Y",
        },
    )
    assert response.status_code == 200, response.content.decode()
    account.refresh_from_db()
    assert account.csv_columns == {
        "date": "Posting Date",
        "amount": "Amt",
        "description": "Details",
        "date_format": "%m/%d/%Y",
    }
    again = client.get(reverse("ledger:bank-import"))
    form = again.context["form"]
    assert form["csv_date"].value() == "Posting Date"
    assert form["csv_account"].value() == account.pk
    html = again.content.decode()
    saved = html.split('<script id="csv-saved-columns" type="application/json">')[1]
    assert json.loads(saved.split("</script>")[0]) == {
        str(account.pk): {
            "csv_date": "Posting Date",
            "csv_amount": "Amt",
            "csv_description": "Details",
            "csv_date_format": "%m/%d/%Y",
        }
    }
    # A refused file remembers nothing.
    client.post(
        reverse("ledger:bank-import"),
        {
            "file": SimpleUploadedFile("bad.csv", b"When,How much\nyesterday,lots\n"),
            "csv_account": account.pk,
            "csv_date": "When",
            "csv_amount": "How much",
        },
    )
    account.refresh_from_db()
    assert account.csv_columns["date"] == "Posting Date"
