"""Bank statement writes: importing statement files and explaining those that do not add
up. Matching their lines to the books is in ledger.services_bank_matching.

Services: `bank_statement_review`, `bank_statement_import`, `bank_statement_explain` (the
reads that build the reconciliation pages are in ledger.selectors_bank). Book lines are
the journal lines on a bank account's GL account: deposits post Dr bank (entry source
"deposit", source_ref the deposit number), returned items post Cr bank. The ledger knows
nothing of cashiering's models.

Account numbers in a file are matched to `BankAccount.number` ignoring spaces and hyphens.
When that finds nothing, a file number that *ends with* exactly one active account's number
(of at least six characters) is taken for that account: banks prefix account numbers with
a branch or transit number in some exports (OFX "12300 000012345678"). Anything else is
refused at the statement's line.

A file that reads but does not add up (a BAI2 trailer's control total or count, camt.053
balances or summary, an OFX statement without its dates) is imported only with the
approval of a second person who may approve it (`ledger.approve_bank_discrepancy`) and a
reason: `bank_statement_import` raises `DiscrepancyApprovalNeeded`, listing them, until
it is given one for that very file. Its statements are stored unbalanced with their
discrepancies; their lines are matched only by hand, and the reconciliation page lists
them until someone explains them (`bank_statement_explain`).
"""

import contextlib
import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Sum
from django.utils import timezone

from kent_cs.audit import audit_reason
from kent_cs.uploads.files import UploadSource, read_bytes
from kent_cs.uploads.results import UploadIssue, UploadRefused
from ledger.bankfiles import (
    FEE_WORDS,
    MAX_STATEMENT_BYTES,
    CsvMapping,
    Discrepancy,
    ParsedFile,
    parse_statement_file,
)
from ledger.bankfiles import Statement as ParsedStatement
from ledger.models import (
    BankAccount,
    BankDiscrepancy,
    BankStatement,
    BankStatementExplanation,
    BankStatementImport,
    BankTransaction,
    JournalLine,
)

# A stored account number shorter than this is never matched as the tail of a longer one.
SUFFIX_MATCH_MIN_LENGTH = 6


# Above this many lines the import writes transactions with COPY instead of INSERTs.
COPY_THRESHOLD = 1000


_NUMBER_NOISE = re.compile(r"[\s\-]")


_TRANSACTION_COLUMNS = (
    "statement_id",
    "bank_account_id",
    "source_line",
    "booked_date",
    "value_date",
    "amount",
    "type_code",
    "is_returned_item",
    "bank_ref",
    "customer_ref",
    "description",
)


class BankError(Exception):
    """A reconciliation request that cannot be done; the message says why."""


APPROVE_DISCREPANCY = "ledger.approve_bank_discrepancy"
REASON_MAX = 300


@dataclass(frozen=True)
class DiscrepancyApproval:
    """A second person's approval to import a file that does not add up: who, why, and
    the SHA-256 of the file whose discrepancies they were shown."""

    approved_by: Any
    reason: str
    sha256: str


class DiscrepancyApprovalError(Exception):
    """An approval that cannot be taken; `field` names the form field it is about."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        self.needed: DiscrepancyApprovalNeeded | None = None  # what was to be approved
        super().__init__(message)


@dataclass(frozen=True)
class ShownDiscrepancy:
    discrepancy: Discrepancy
    accounts: list[str]  # the bank accounts whose statements it concerns


class DiscrepancyApprovalNeeded(Exception):
    """The file reads, but disagrees with itself: it can be imported only with approval."""

    def __init__(self, *, sha256: str, discrepancies: list[ShownDiscrepancy]):
        self.sha256 = sha256
        self.discrepancies = discrepancies
        super().__init__(f"{len(discrepancies)} discrepancies need a supervisor's approval.")


@dataclass(frozen=True)
class StatementSummary:
    statement: BankStatement
    line_count: int
    total_credits: Decimal
    total_debits: Decimal


@dataclass(frozen=True)
class ImportResult:
    statement_import: BankStatementImport
    statements: list[StatementSummary]

    @property
    def bank_accounts(self) -> list[BankAccount]:
        seen: dict[int, BankAccount] = {}
        for summary in self.statements:
            seen.setdefault(summary.statement.bank_account_id, summary.statement.bank_account)
        return list(seen.values())


_no_reason = contextlib.nullcontext


def _normalised(number: str) -> str:
    return _NUMBER_NOISE.sub("", number)


def _account_for(number: str, accounts: Sequence[BankAccount]) -> BankAccount | str:
    """The bank account a statement's account number names, or why there is none."""
    wanted = _normalised(number)
    if not wanted:
        return "The statement does not say which account it is for."
    exact = [a for a in accounts if _normalised(a.number) == wanted]
    if not exact:
        exact = [
            a
            for a in accounts
            if len(_normalised(a.number)) >= SUFFIX_MATCH_MIN_LENGTH
            and wanted.endswith(_normalised(a.number))
        ]
        if len(exact) > 1:
            names = ", ".join(a.name for a in exact)
            return f"Account number {number} could be any of these bank accounts: {names}."
    if not exact:
        return (
            f"Account number {number} is not one of the city's bank accounts. An "
            "administrator adds bank accounts in the admin."
        )
    account = exact[0]
    if not account.is_active:
        return f"Account number {number} is the {account.name}, which is no longer active."
    return account


def _previous_import_message(previous: BankStatementImport) -> str:
    when = timezone.localtime(previous.imported_at).strftime("%Y-%m-%d %H:%M")
    return (
        f"This file was already imported on {when} by "
        f"{previous.imported_by.get_username()} as import #{previous.pk}."
    )


def _statement_ids(statements: Sequence[ParsedStatement]) -> list[str]:
    """Each statement's id, made unique within the file.

    A BAI2 group may hold two account records for the same account and day (moov's
    sample1 does); the parser gives both the same id. They are two statements of the file,
    so the second and later get "#2", "#3"... — the same for every copy of the file.
    """
    seen: dict[tuple[str, str], int] = defaultdict(int)
    ids = []
    for statement in statements:
        key = (_normalised(statement.account_number), statement.statement_id)
        seen[key] += 1
        suffix = f"#{seen[key]}" if seen[key] > 1 else ""
        ids.append(f"{statement.statement_id[: 120 - len(suffix)]}{suffix}")
    return ids


def _check_statements(
    parsed: ParsedFile, ids: list[str]
) -> tuple[list[BankAccount], list[UploadIssue]]:
    accounts = list(BankAccount.objects.all())
    issues: list[UploadIssue] = []
    resolved: list[BankAccount] = []
    for statement in parsed.statements:
        found = _account_for(statement.account_number, accounts)
        if isinstance(found, str):
            issues.append(UploadIssue(statement.line, None, found))
            continue
        resolved.append(found)
        if statement.currency != found.currency:
            issues.append(
                UploadIssue(
                    statement.line,
                    None,
                    f"The statement for account {statement.account_number} is in "
                    f"{statement.currency}, but the {found.name} is kept in {found.currency}.",
                )
            )
    if issues:
        return resolved, issues
    existing = {
        (row.bank_account_id, row.statement_id): row
        for row in BankStatement.objects.select_related("statement_import").filter(
            bank_account__in={a.pk for a in resolved}, statement_id__in=set(ids)
        )
    }
    for statement, account, statement_id in zip(parsed.statements, resolved, ids, strict=True):
        duplicate = existing.get((account.pk, statement_id))
        if duplicate is not None:
            issues.append(
                UploadIssue(
                    statement.line,
                    None,
                    f"The statement {statement_id} for the {account.name} "
                    f"({statement.start} to {statement.end}) was already imported in import "
                    f"#{duplicate.statement_import_id} "
                    f"({duplicate.statement_import.file_name}).",
                )
            )
    return resolved, issues


def _copy_transactions(rows: Iterable[tuple]) -> None:
    """COPY the rows into ledger_banktransaction (several times faster than INSERT for
    tens of thousands of lines; the table has no insert triggers to skip)."""
    columns = ", ".join(_TRANSACTION_COLUMNS)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {BankTransaction._meta.db_table} ({columns}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)


# Checks the city wrote and the bank paid carry the check number as their reference,
# which can equal a deposit's number: never a returned item.
_CHECK_PAID = re.compile(r"\b(?:CHECK|CHEQUE|CHK|CHQ)\s+PAID\b", re.IGNORECASE)
_CHECK_PAID_CODES = frozenset({"470", "471", "472", "474", "475", "476", "477", "478"})


def _returned_by_reference(parsed: ParsedFile, accounts: list[BankAccount]) -> set:
    """(bank account id, source line) of debits that carry the reference of a deposit
    made to that account's GL account (in the 180 days before the statement), for no more
    than the deposit: money taken back from that deposit, a returned item however the
    bank coded it. Fees and paid checks are not."""
    days = [line.booked for statement in parsed.statements for line in statement.lines]
    if not days:
        return set()
    deposits = (
        JournalLine.objects.filter(
            entry__source="deposit",
            entry__entry_date__range=(min(days) - timedelta(days=180), max(days)),
            account_id__in={a.gl_account_id for a in accounts},
            debit__gt=0,
        )
        .values_list("entry__source_ref", "account_id")
        .annotate(total=Sum("debit"))
        .order_by()
    )
    totals = {(ref, gl): total for ref, gl, total in deposits}
    if not totals:
        return set()
    returned = set()
    for statement, account in zip(parsed.statements, accounts, strict=True):
        for line in statement.lines:
            if line.amount >= 0 or line.is_returned_item:
                continue
            total = totals.get((line.customer_ref.strip(), account.gl_account_id))
            if (
                total is not None
                and -line.amount <= total
                and line.type_code not in _CHECK_PAID_CODES
                and not FEE_WORDS.search(line.description)
                and not _CHECK_PAID.search(line.description)
            ):
                returned.add((account.pk, line.line))
    return returned


def _write_import(
    *,
    parsed: ParsedFile,
    data: bytes,
    sha256: str,
    file_name: str,
    user: Any,
    accounts: list[BankAccount],
    ids: list[str],
    approval: DiscrepancyApproval | None = None,
) -> ImportResult:
    unbalanced = {index for d in parsed.discrepancies for index in d.statements}
    with transaction.atomic():
        record = BankStatementImport.objects.create(
            file_name=file_name[:255],
            sha256=sha256,
            format=parsed.format,
            size_bytes=len(data),
            file_id=parsed.file_id[:100],
            statement_count=len(parsed.statements),
            transaction_count=parsed.transaction_count,
            total_credits=parsed.total_credits,
            total_debits=parsed.total_debits,
            imported_by=user,
            discrepancy_approved_by=approval.approved_by if approval else None,
            discrepancy_reason=approval.reason if approval else "",
        )
        statements = BankStatement.objects.bulk_create(
            BankStatement(
                statement_import=record,
                bank_account=account,
                statement_id=statement_id,
                start_date=parsed_statement.start,
                end_date=parsed_statement.end,
                currency=parsed_statement.currency,
                opening_balance=parsed_statement.opening_balance,
                closing_balance=parsed_statement.closing_balance,
                source_line=parsed_statement.line,
                is_unbalanced=index in unbalanced,
            )
            for index, (parsed_statement, account, statement_id) in enumerate(
                zip(parsed.statements, accounts, ids, strict=True)
            )
        )
        BankDiscrepancy.objects.bulk_create(
            BankDiscrepancy(
                statement=statements[index],
                source_line=item.line,
                source_record=item.record,
                kind=item.kind,
                where=item.where[:200],
                expected=item.expected[:100],
                found=item.found[:100],
                difference=item.difference[:100],
                amount=item.amount,
                message=item.message[:500],
            )
            for item in parsed.discrepancies
            for index in item.statements
        )
        returned = _returned_by_reference(parsed, accounts)
        rows = (
            (
                statement.pk,
                statement.bank_account_id,
                line.line,
                line.booked,
                line.value_date,
                line.amount,
                line.type_code[:40],
                line.is_returned_item or (statement.bank_account_id, line.line) in returned,
                line.bank_ref[:100],
                line.customer_ref[:100],
                line.description[:500],
            )
            for parsed_statement, statement in zip(parsed.statements, statements, strict=True)
            for line in parsed_statement.lines
        )
        if parsed.transaction_count > COPY_THRESHOLD:
            _copy_transactions(rows)
        else:
            BankTransaction.objects.bulk_create(
                BankTransaction(**dict(zip(_TRANSACTION_COLUMNS, row, strict=True))) for row in rows
            )
    return ImportResult(
        statement_import=record,
        statements=[
            StatementSummary(
                statement=statement,
                line_count=len(parsed_statement.lines),
                total_credits=parsed_statement.total_credits,
                total_debits=parsed_statement.total_debits,
            )
            for parsed_statement, statement in zip(parsed.statements, statements, strict=True)
        ],
    )


@dataclass(frozen=True)
class _Checked:
    data: bytes
    sha256: str
    parsed: ParsedFile
    ids: list[str]
    accounts: list[BankAccount]

    def approval_needed(self) -> DiscrepancyApprovalNeeded:
        return DiscrepancyApprovalNeeded(
            sha256=self.sha256,
            discrepancies=[
                ShownDiscrepancy(
                    discrepancy=item,
                    accounts=list(dict.fromkeys(self.accounts[i].name for i in item.statements)),
                )
                for item in self.parsed.discrepancies
            ],
        )


def _read_and_check(source: UploadSource, csv_mapping: CsvMapping | None) -> _Checked:
    """The file read whole and checked against the city's accounts and earlier imports,
    or UploadRefused with every reason."""
    data = read_bytes(source, max_bytes=MAX_STATEMENT_BYTES)
    sha256 = hashlib.sha256(data).hexdigest()
    previous = (
        BankStatementImport.objects.select_related("imported_by").filter(sha256=sha256).first()
    )
    if previous is not None:
        raise UploadRefused(_previous_import_message(previous))
    parsed = parse_statement_file(data, csv_mapping=csv_mapping)
    if not parsed.statements:
        raise UploadRefused("The file holds no statements.")
    ids = _statement_ids(parsed.statements)
    accounts, issues = _check_statements(parsed, ids)
    if issues:
        raise UploadRefused(issues)
    return _Checked(data=data, sha256=sha256, parsed=parsed, ids=ids, accounts=accounts)


def bank_statement_review(
    *, source: UploadSource, csv_mapping: CsvMapping | None = None
) -> DiscrepancyApprovalNeeded | None:
    """What importing the file would need approved (None: nothing), writing nothing;
    UploadRefused if it could not be imported at all."""
    checked = _read_and_check(source, csv_mapping)
    return checked.approval_needed() if checked.parsed.discrepancies else None


def _approval_check(*, approval: DiscrepancyApproval, user: Any) -> str:
    """The approval's reason, once it is an allowed second person's; else why not."""
    approver = approval.approved_by
    if approver.pk == user.pk:
        raise DiscrepancyApprovalError(
            "supervisor", "Another person must approve the file you are importing."
        )
    if not approver.has_perm(APPROVE_DISCREPANCY):
        raise DiscrepancyApprovalError(
            "supervisor",
            f"{approver.get_username()} cannot approve a bank file that does not add up; "
            "ask a supervisor.",
        )
    reason = " ".join(approval.reason.split())
    if not reason:
        raise DiscrepancyApprovalError(
            "approval_reason", "Enter the reason for importing the file as it is."
        )
    return reason[:REASON_MAX]


def bank_statement_import(
    *,
    source: UploadSource,
    file_name: str,
    user: Any,
    csv_mapping: CsvMapping | None = None,
    csv_columns: dict[str, str] | None = None,
    approval: DiscrepancyApproval | None = None,
) -> ImportResult:
    """Import a whole bank statement file, or raise UploadRefused with every reason.

    `csv_columns`, the column mapping as typed, is remembered on each bank account the
    CSV's statements are for, and offered at its next import.

    The file is refused if the same bytes were imported before, if it cannot be read, if
    a statement is for an account the city does not have (or in another currency), or if
    one of its statements was imported before from another file. A file that reads but
    does not add up raises DiscrepancyApprovalNeeded unless `approval` is for this file
    (same SHA-256) and from another person who may approve it (else
    DiscrepancyApprovalError). Nothing is written for a refused file; an accepted one is
    written in one transaction.
    """
    checked = _read_and_check(source, csv_mapping)
    data, sha256, parsed, ids, accounts = (
        checked.data,
        checked.sha256,
        checked.parsed,
        checked.ids,
        checked.accounts,
    )
    reason = ""
    if not parsed.discrepancies:
        approval = None  # nothing to approve: a file that adds up is imported as usual
    elif approval is None or approval.sha256 != sha256:
        raise checked.approval_needed()
    else:
        try:
            reason = _approval_check(approval=approval, user=user)
        except DiscrepancyApprovalError as exc:
            exc.needed = checked.approval_needed()
            raise
        approval = DiscrepancyApproval(
            approved_by=approval.approved_by, reason=reason, sha256=sha256
        )
    try:
        with transaction.atomic(), audit_reason(reason) if reason else _no_reason():
            result = _write_import(
                parsed=parsed,
                data=data,
                sha256=sha256,
                file_name=file_name,
                user=user,
                accounts=accounts,
                ids=ids,
                approval=approval,
            )
            if csv_columns:
                BankAccount.objects.filter(pk__in={a.pk for a in accounts}).update(
                    csv_columns=csv_columns
                )
        return result
    except IntegrityError as exc:
        # Someone imported the same file or statement between the checks and the write.
        previous = (
            BankStatementImport.objects.select_related("imported_by").filter(sha256=sha256).first()
        )
        if previous is not None:
            raise UploadRefused(_previous_import_message(previous)) from exc
        raise UploadRefused(
            "One of the file's statements was imported by someone else a moment ago. "
            "Look at the reconciliation page before importing again."
        ) from exc


def bank_statement_explain(*, statement: BankStatement, note: str, user: Any) -> BankStatement:
    """Record why an unbalanced statement's discrepancies are understood (once)."""
    note = " ".join(note.split())
    if not statement.is_unbalanced:
        raise BankError("This statement adds up; there is nothing to explain.")
    if not note:
        raise BankError("Enter what explains the discrepancies.")
    with transaction.atomic(), audit_reason(note[:300]):
        BankStatement.objects.select_for_update().filter(pk=statement.pk).first()
        if BankStatementExplanation.objects.filter(statement=statement).exists():
            raise BankError("Someone has explained this statement already.")
        BankStatementExplanation.objects.create(
            statement=statement, note=note[:500], explained_by=user
        )
    return statement
