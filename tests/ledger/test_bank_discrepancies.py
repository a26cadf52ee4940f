"""Bank files that read but do not add up: shown with their discrepancies, imported only
with a second person's approval and reason, stored unbalanced, never matched
automatically, listed on the reconciliation page until someone explains them."""

import hashlib
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from kent_cs.uploads.results import UploadRefused
from ledger.models import (
    BankAccount,
    BankDiscrepancy,
    BankMatch,
    BankStatement,
    BankStatementExplanation,
    BankStatementImport,
    BankTransaction,
)
from ledger.selectors_bank import unbalanced_statements
from ledger.services_bank import (
    BankError,
    DiscrepancyApproval,
    DiscrepancyApprovalError,
    DiscrepancyApprovalNeeded,
    bank_statement_explain,
    bank_statement_import,
)
from ledger.services_bank_matching import bank_auto_match, bank_match_create
from tests.factories import PASSWORD, make_user
from tests.ledger.test_reconciliation import deposit

D = Decimal
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "bank"


def read(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def counts() -> tuple[int, int, int, int]:
    return (
        BankStatementImport.objects.count(),
        BankStatement.objects.count(),
        BankTransaction.objects.count(),
        BankDiscrepancy.objects.count(),
    )


def accounts_of_sample2(chart) -> list[BankAccount]:
    numbers = ["0123456789", "9876543210", "4589761203", "0975312468", "7890654321"]
    return [
        BankAccount.objects.create(
            name=f"Account {number}", number=number, gl_account=chart["001.101.10"]
        )
        for number in numbers
    ]


def bai2_for(account: BankAccount, amounts: list[int], *, day: date, file_id: str = "F1") -> bytes:
    """A BAI2 file of one account on `day` with credit details of `amounts` (cents), its
    trailers right."""
    as_of = day.strftime("%y%m%d")
    details = [
        f"16,301,{units},0,BR{n},DEP-{n},COUNTER DEPOSIT/" for n, units in enumerate(amounts, 1)
    ]
    total = sum(amounts)
    records = len(details) + 2
    lines = [
        f"01,BANK,CITY,{as_of},0600,{file_id},,,2/",
        f"02,CITY,BANK,1,{as_of},2400,USD,2/",
        f"03,{account.number},USD/",
        *details,
        f"49,{total},{records}/",
        f"98,{total},1,{records + 2}/",
        f"99,{total},1,{records + 4}/",
    ]
    return ("\n".join(lines) + "\n").encode()


def wrong_count(account: BankAccount, amounts: list[int], *, day: date) -> bytes:
    """bai2_for's file with its account trailer counting one record too many."""
    right = bai2_for(account, amounts, day=day)
    records = len(amounts) + 2
    return right.replace(
        f"49,{sum(amounts)},{records}/".encode(), f"49,{sum(amounts)},{records + 1}/".encode()
    )


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def approval(user, data: bytes, reason: str = "Bank confirmed the trailer is wrong"):
    return DiscrepancyApproval(approved_by=user, reason=reason, sha256=sha(data))


SAMPLE2 = "bai2/moov__sample2.bai2"


# ------------------------------------------------------------------------------ service


def test_file_that_does_not_add_up_is_not_imported_without_approval(chart, technician):
    accounts_of_sample2(chart)
    data = read(SAMPLE2).replace(b"99,345450000,4,31/", b"99,345450000,4,30/")
    with pytest.raises(DiscrepancyApprovalNeeded) as caught:
        bank_statement_import(source=data, file_name="s2.bai2", user=technician)
    assert caught.value.sha256 == sha(data)
    (shown,) = caught.value.discrepancies
    assert str(shown.discrepancy) == (
        "Line 31: The file trailer (99) counts 30 records, but the file has 31."
    )
    assert len(shown.accounts) == 5  # a file trailer concerns every account in it
    assert counts() == (0, 0, 0, 0)


@pytest.mark.parametrize(
    ("old", "new", "kind", "unbalanced"),
    [
        # account control total: that account's statement only
        (b"49,9150000,4/", b"49,9150001,4/", "control_total", {"0123456789", "9876543210"}),
        (b"49,9150000,4/", b"49,9150000,6/", "record_count", {"0123456789"}),
        # the group's control total and account count: the group's accounts
        (b"98,180000000,1,8/", b"98,180000001,1,8/", "control_total", None),
        (b"98,180000000,1,8/", b"98,180000000,2,8/", "account_count", {"4589761203"}),
        (b"99,345450000,4,31/", b"99,345450000,3,31/", "group_count", None),
        (b"99,345450000,4,31/", b"99,345450000,4,30/", "record_count", None),
    ],
)
def test_approved_file_is_stored_unbalanced_with_its_discrepancies(
    chart, technician, supervisor, old, new, kind, unbalanced
):
    accounts_of_sample2(chart)
    data = read(SAMPLE2).replace(old, new)
    assert data != read(SAMPLE2)
    result = bank_statement_import(
        source=data,
        file_name="s2.bai2",
        user=technician,
        approval=approval(supervisor, data, "  Bank   confirmed the trailer is wrong "),
    )
    record = result.statement_import
    assert record.imported_by == technician
    assert record.discrepancy_approved_by == supervisor
    assert record.discrepancy_reason == "Bank confirmed the trailer is wrong"
    assert (record.statement_count, record.transaction_count) == (5, 4)  # read whole
    marked = set(
        BankStatement.objects.filter(is_unbalanced=True).values_list(
            "bank_account__number", flat=True
        )
    )
    every = set(BankStatement.objects.values_list("bank_account__number", flat=True))
    # None: the file trailer disagrees as well, which concerns every account in the file.
    assert marked == (unbalanced if unbalanced is not None else every)
    assert BankDiscrepancy.objects.filter(kind=kind).exists()
    # Each unbalanced statement holds its discrepancies; a balanced one none.
    for statement in BankStatement.objects.all():
        assert statement.discrepancies.exists() == statement.is_unbalanced
    event_model = apps.get_model("ledger", "BankStatementImportEvent")
    event = event_model.objects.get(pgh_obj_id=record.pk)
    assert event.pgh_context.metadata["reason"] == "Bank confirmed the trailer is wrong"


def test_stored_discrepancy_says_where_expected_found_and_difference(chart, technician, supervisor):
    accounts_of_sample2(chart)
    data = read(SAMPLE2).replace(b"49,9150000,4/", b"49,9150001,4/")
    bank_statement_import(
        source=data, file_name="s2.bai2", user=technician, approval=approval(supervisor, data)
    )
    first = BankDiscrepancy.objects.get(
        kind="control_total", statement__bank_account__number="0123456789", source_line=6
    )
    assert (first.where, first.expected, first.found, first.difference, first.amount) == (
        "account trailer (49) of account 0123456789",
        "9150001",
        "9150000",
        "-1",
        D("-0.01"),
    )
    assert first.message.startswith("The account trailer (49) gives a control total of 9150001")
    # The group trailer disagrees with the account trailers as written: both accounts.
    group = BankDiscrepancy.objects.filter(source_line=12)
    assert {d.statement.bank_account.number for d in group} == {"0123456789", "9876543210"}


def test_discrepancy_on_a_line_of_several_records_keeps_the_record(chart, technician, supervisor):
    accounts_of_sample2(chart)
    rows = [row for row in read(SAMPLE2).decode().split("\n") if row]
    data = "".join(rows).replace("49,9150000,4/", "49,9150000,5/").encode()
    bank_statement_import(
        source=data, file_name="one.bai2", user=technician, approval=approval(supervisor, data)
    )
    item = BankDiscrepancy.objects.get()
    assert (item.source_line, item.source_record, item.kind) == (1, 6, "record_count")
    assert BankTransaction.objects.count() == 4


def test_camt053_statement_whose_balances_do_not_join_up(chart, technician, supervisor):
    BankAccount.objects.create(
        name="Euro account",
        number="NL26VAYB8060476890",
        currency="EUR",
        gl_account=chart["001.101.10"],
    )
    data = read("camt053/genkgo__camt053.v2.multi.statement.xml").replace(
        b'<Amt Ccy="EUR">20.00</Amt>', b'<Amt Ccy="EUR">21.00</Amt>'
    )
    with pytest.raises(DiscrepancyApprovalNeeded):
        bank_statement_import(source=data, file_name="camt.xml", user=technician)
    assert counts() == (0, 0, 0, 0)
    bank_statement_import(
        source=data, file_name="camt.xml", user=technician, approval=approval(supervisor, data)
    )
    first, second = BankStatement.objects.order_by("source_line")
    assert (first.is_unbalanced, second.is_unbalanced) == (False, True)
    (item,) = second.discrepancies.all()
    assert (item.kind, item.expected, item.found, item.amount) == (
        "balance",
        "21.00",
        "20.00",
        D("-1.00"),
    )
    assert second.closing_balance == D("21.00")  # stored as the bank wrote it


def test_ofx_statement_without_dates_needs_approval(chart, technician, supervisor):
    BankAccount.objects.create(name="Checking", number="1452687~7", gl_account=chart["001.101.10"])
    data = (
        read("ofx/ofxparse__checking.ofx")
        .replace(b"<DTSTART>20000101070000.000", b"")
        .replace(b"<DTEND>20130525060000.000", b"")
    )
    with pytest.raises(DiscrepancyApprovalNeeded) as caught:
        bank_statement_import(source=data, file_name="c.ofx", user=technician)
    assert caught.value.discrepancies[0].discrepancy.kind == "dates"
    bank_statement_import(
        source=data, file_name="c.ofx", user=technician, approval=approval(supervisor, data)
    )
    statement = BankStatement.objects.get()
    assert statement.is_unbalanced
    assert (statement.start_date, statement.end_date) == (date(2011, 3, 31), date(2011, 4, 7))
    assert statement.discrepancies.get().kind == "dates"


def test_approval_must_be_another_person_who_may_approve_with_a_reason(
    chart, technician, supervisor, cashier
):
    accounts_of_sample2(chart)
    data = read(SAMPLE2).replace(b"49,9150000,4/", b"49,9150000,6/")
    second_technician = make_user("technician_b", role=None)
    second_technician.groups.set(technician.groups.all())
    cases = [
        (approval(technician, data), "supervisor", "Another person must approve"),
        (approval(cashier, data), "supervisor", "cashier cannot approve a bank file"),
        (approval(second_technician, data), "supervisor", "technician_b cannot approve"),
        (approval(supervisor, data, "   "), "approval_reason", "Enter the reason"),
    ]
    for given, field, message in cases:
        with pytest.raises(DiscrepancyApprovalError) as caught:
            bank_statement_import(source=data, file_name="s2.bai2", user=technician, approval=given)
        assert caught.value.field == field
        assert message in caught.value.message
        assert caught.value.needed is not None and caught.value.needed.discrepancies
    assert counts() == (0, 0, 0, 0)


def test_approval_of_another_file_is_not_taken(chart, technician, supervisor):
    accounts_of_sample2(chart)
    shown = read(SAMPLE2).replace(b"49,9150000,4/", b"49,9150000,6/")
    other = read(SAMPLE2).replace(b"49,9150000,4/", b"49,9150000,7/")
    with pytest.raises(DiscrepancyApprovalNeeded) as caught:
        bank_statement_import(
            source=other, file_name="s2.bai2", user=technician, approval=approval(supervisor, shown)
        )
    assert "counts 7 records" in caught.value.discrepancies[0].discrepancy.message
    assert counts() == (0, 0, 0, 0)


def test_unreadable_file_is_refused_even_with_approval(chart, technician, supervisor):
    accounts_of_sample2(chart)
    data = read(SAMPLE2).replace(b"49,9150000,4/", b"49,9150000,X/")
    with pytest.raises(UploadRefused) as caught:
        bank_statement_import(
            source=data, file_name="s2.bai2", user=technician, approval=approval(supervisor, data)
        )
    assert caught.value.messages == ['Line 6: The account record count "X" is not a number.']
    assert counts() == (0, 0, 0, 0)


def test_file_that_adds_up_ignores_an_approval(chart, technician, supervisor):
    accounts_of_sample2(chart)
    data = read(SAMPLE2)
    result = bank_statement_import(
        source=data, file_name="s2.bai2", user=technician, approval=approval(supervisor, data)
    )
    assert result.statement_import.discrepancy_approved_by is None
    assert not BankStatement.objects.filter(is_unbalanced=True).exists()


def test_same_file_again_is_still_a_duplicate(chart, technician, supervisor):
    accounts_of_sample2(chart)
    data = read(SAMPLE2).replace(b"49,9150000,4/", b"49,9150000,6/")
    bank_statement_import(
        source=data, file_name="s2.bai2", user=technician, approval=approval(supervisor, data)
    )
    with pytest.raises(UploadRefused) as caught:
        bank_statement_import(
            source=data,
            file_name="again.bai2",
            user=technician,
            approval=approval(supervisor, data),
        )
    assert "This file was already imported" in caught.value.messages[0]
    assert BankStatementImport.objects.count() == 1


def test_database_refuses_an_approval_without_reason_or_by_the_importer(chart, technician):
    from django.db import IntegrityError, transaction

    common = dict(
        file_name="x",
        format="bai2",
        size_bytes=1,
        statement_count=0,
        transaction_count=0,
        total_credits=D("0"),
        total_debits=D("0"),
        imported_by=technician,
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        BankStatementImport.objects.create(
            sha256="a" * 64, discrepancy_approved_by=technician, discrepancy_reason="mine", **common
        )
    supervisor = make_user("super2")
    with pytest.raises(IntegrityError), transaction.atomic():
        BankStatementImport.objects.create(
            sha256="b" * 64, discrepancy_approved_by=supervisor, discrepancy_reason="", **common
        )


# --------------------------------------------------------------------------- matching


@pytest.fixture
def account(chart) -> BankAccount:
    return BankAccount.objects.get(is_default=True)


def test_unbalanced_lines_are_never_matched_automatically(chart, account, technician, supervisor):
    book = deposit(chart, technician, date(2026, 3, 13), "250.00", "D-0001")
    data = bai2_for(account, [25000], day=date(2026, 3, 16))
    wrong = wrong_count(account, [25000], day=date(2026, 3, 16))
    assert wrong != data
    bank_statement_import(
        source=wrong, file_name="w.bai2", user=technician, approval=approval(supervisor, wrong)
    )
    (line,) = BankTransaction.objects.all()
    assert line.statement.is_unbalanced
    assert bank_auto_match(bank_account=account, user=technician) == 0
    assert not BankMatch.objects.exists()
    # Explained or not, a person matches it by hand.
    bank_statement_explain(
        statement=line.statement, note="Trailer count off by one", user=technician
    )
    assert bank_auto_match(bank_account=account, user=technician) == 0
    match = bank_match_create(
        bank_account=account,
        bank_transaction_ids=[line.pk],
        journal_line_ids=[book.pk],
        note="Deposit D-0001, checked against the slip",
        user=technician,
    )
    assert match.method == "manual"


def test_balanced_lines_of_the_same_account_are_still_matched(
    chart, account, technician, supervisor
):
    deposit(chart, technician, date(2026, 3, 13), "250.00", "D-0001")
    deposit(chart, technician, date(2026, 3, 13), "75.00", "D-0002")
    wrong = bai2_for(account, [25000], day=date(2026, 3, 16)).replace(
        b"49,25000,3/", b"49,25000,4/"
    )
    bank_statement_import(
        source=wrong, file_name="w.bai2", user=technician, approval=approval(supervisor, wrong)
    )
    right = bai2_for(account, [7500], day=date(2026, 3, 17), file_id="F2")
    bank_statement_import(source=right, file_name="r.bai2", user=technician)
    assert bank_auto_match(bank_account=account, user=technician) == 1
    matched = BankMatch.objects.get().items.get(bank_transaction__isnull=False)
    assert matched.amount == D("75.00")


# ------------------------------------------------------------------------ explanation


def _unbalanced_statement(chart, account, technician, supervisor) -> BankStatement:
    wrong = bai2_for(account, [25000], day=date(2026, 3, 16)).replace(
        b"49,25000,3/", b"49,25000,4/"
    )
    bank_statement_import(
        source=wrong, file_name="w.bai2", user=technician, approval=approval(supervisor, wrong)
    )
    return BankStatement.objects.get()


def test_explaining_takes_the_statement_off_the_unbalanced_list(
    chart, account, technician, supervisor
):
    statement = _unbalanced_statement(chart, account, technician, supervisor)
    assert unbalanced_statements(bank_account=account) == [statement]
    with pytest.raises(BankError, match="Enter what explains"):
        bank_statement_explain(statement=statement, note="  ", user=technician)
    bank_statement_explain(statement=statement, note="Bank re-sent the count", user=technician)
    explanation = BankStatementExplanation.objects.get()
    assert (explanation.statement, explanation.note, explanation.explained_by) == (
        statement,
        "Bank re-sent the count",
        technician,
    )
    assert unbalanced_statements(bank_account=account) == []
    statement.refresh_from_db()
    assert statement.is_unbalanced  # stored as imported; the explanation is a record of its own
    with pytest.raises(BankError, match="explained this statement already"):
        bank_statement_explain(statement=statement, note="Again", user=supervisor)
    event_model = apps.get_model("ledger", "BankStatementExplanationEvent")
    assert event_model.objects.get().pgh_context.metadata["reason"] == "Bank re-sent the count"


def test_a_balanced_statement_has_nothing_to_explain(chart, account, technician):
    bank_statement_import(
        source=bai2_for(account, [100], day=date(2026, 3, 16)), file_name="ok", user=technician
    )
    with pytest.raises(BankError, match="nothing to explain"):
        bank_statement_explain(statement=BankStatement.objects.get(), note="x", user=technician)


# ------------------------------------------------------------------------------ pages


def upload(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def test_technician_sees_the_discrepancies_and_nothing_is_written(client, chart, technician):
    accounts_of_sample2(chart)
    data = read(SAMPLE2).replace(b"49,9150000,4/", b"49,9150001,4/")
    client.force_login(technician)
    response = client.post(reverse("ledger:bank-import"), {"file": upload("s2.bai2", data)})
    assert response.status_code == 400
    text = response.content.decode()
    assert "The file reads, but it does not add up. Nothing was imported." in text
    assert (
        "The account trailer (49) gives a control total of 9150001 for account 0123456789 "
        "(line 3), but its records add up to 9150000." in text
    )
    assert "account trailer (49) of account 0123456789" in text
    assert "Import with discrepancy" in text
    assert f'name="approved_sha256" value="{sha(data)}"' in text
    assert counts() == (0, 0, 0, 0)


def _approve_post(client, data: bytes, username: str, password: str, reason: str = "Checked"):
    return client.post(
        reverse("ledger:bank-import"),
        {
            "file": upload("s2.bai2", data),
            "supervisor": username,
            "supervisor_password": password,
            "approval_reason": reason,
            "approved_sha256": sha(data),
        },
    )


def test_supervisor_signs_and_the_file_is_imported_unbalanced(
    client, chart, technician, supervisor
):
    accounts_of_sample2(chart)
    data = read(SAMPLE2).replace(b"49,9150000,4/", b"49,9150000,6/")
    client.force_login(technician)
    response = _approve_post(client, data, "supervisor", PASSWORD, "Bank confirmed by phone")
    assert response.status_code == 200, response.content.decode()
    text = response.content.decode()
    assert "Imported s2.bai2" in text
    assert "Imported with discrepancies, approved by supervisor: Bank confirmed by phone" in text
    assert "Unbalanced" in text
    record = BankStatementImport.objects.get()
    assert (record.imported_by, record.discrepancy_approved_by) == (technician, supervisor)
    assert BankStatement.objects.get(is_unbalanced=True).bank_account.number == "0123456789"
    # The technician is still the one signed in.
    assert client.get(reverse("ledger:bank-import")).wsgi_request.user == technician


@pytest.mark.parametrize(
    ("username", "password", "field", "message"),
    [
        ("supervisor", "not-the-password", "supervisor_password", "username or password is wrong"),
        ("technician", PASSWORD, "supervisor", "Another person must approve"),
        ("cashier", PASSWORD, "supervisor", "cashier cannot approve a bank file"),
    ],
)
def test_approval_refused_at_the_field_writes_nothing(
    client, chart, technician, supervisor, cashier, username, password, field, message
):
    accounts_of_sample2(chart)
    data = read(SAMPLE2).replace(b"49,9150000,4/", b"49,9150000,6/")
    client.force_login(technician)
    response = _approve_post(client, data, username, password)
    assert response.status_code == 400
    errors = response.context["form"].errors[field]
    assert any(message in error for error in errors), errors
    text = response.content.decode()
    assert "counts 6 records for account 0123456789" in text  # still shown
    assert counts() == (0, 0, 0, 0)


@pytest.mark.parametrize("persona", ["cashier", "outsider", "supervisor"])
def test_others_cannot_import_with_discrepancy(client, chart, personas, persona):
    accounts_of_sample2(chart)
    data = read(SAMPLE2).replace(b"49,9150000,4/", b"49,9150000,6/")
    client.force_login(personas[persona])
    response = _approve_post(client, data, "supervisor", PASSWORD)
    assert response.status_code == 403
    assert counts() == (0, 0, 0, 0)


def test_reconcile_page_lists_unbalanced_statements_until_explained(
    client, chart, account, technician, supervisor
):
    statement = _unbalanced_statement(chart, account, technician, supervisor)
    client.force_login(technician)
    page = reverse("ledger:bank-reconcile", args=[account.pk])
    text = client.get(page).content.decode()
    assert "Unbalanced statements" in text
    assert "The account trailer (49) counts 4 records" in text
    assert "approved by supervisor: Bank confirmed the trailer is wrong" in text
    assert "Unbalanced statement: match by hand" in text  # on its line in the bank lines
    accounts_page = client.get(reverse("ledger:bank-accounts")).content.decode()
    assert "1 unbalanced statement" in accounts_page

    explain = reverse("ledger:bank-statement-explain", args=[statement.pk])
    empty = client.post(explain, {"note": ""})
    assert empty.status_code == 400
    assert not BankStatementExplanation.objects.exists()
    response = client.post(explain, {"note": "Count was off; lines checked online"})
    assert response.status_code == 302
    assert BankStatementExplanation.objects.get().explained_by == technician
    text = client.get(page).content.decode()
    assert "Unbalanced statements" not in text
    assert "Unbalanced statement: match by hand" in text  # explained, still by hand
    assert (
        "unbalanced statement" not in client.get(reverse("ledger:bank-accounts")).content.decode()
    )


@pytest.mark.parametrize("persona", ["cashier", "outsider", "supervisor"])
def test_only_reconcilers_explain(
    client, chart, account, technician, supervisor, personas, persona
):
    statement = _unbalanced_statement(chart, account, technician, supervisor)
    client.force_login(personas[persona])
    response = client.post(
        reverse("ledger:bank-statement-explain", args=[statement.pk]), {"note": "ok"}
    )
    assert response.status_code == 403
    assert not BankStatementExplanation.objects.exists()
