"""The audit chain on real PostgreSQL: it verifies on untouched data, and a row changed,
deleted or slipped in with the guards switched off (as a superuser can) is found at
exactly that row, by the command and by the supervisor's page; concurrent commits keep
one unbroken chain; the daily digest records each chain's head."""

import io
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.urls import reverse
from django.utils import timezone

from audit.models import ChainDigest, ChainHead, ChainLink
from audit.selectors_chain import (
    CHANGED,
    MISSING_LINKS,
    MISSING_ROW,
    UNLINKED,
    chain_verify,
    compare_kept_digest,
    read_digest_csv,
)
from audit.services_chain import chain_digest_write
from ledger.demo import seed as seed_ledger
from ledger.models import GLAccount, JournalEntry, JournalLine
from ledger.services import LineSpec, journal_entry_post, periods_ensure_year
from tests.factories import TODAY, make_user

pytestmark = pytest.mark.django_db(transaction=True)

D = Decimal


@pytest.fixture
def journal():
    """Five posted entries of two lines, each committed on its own."""
    seed_ledger(io.StringIO())
    periods_ensure_year(year=TODAY.year)
    user = make_user("poster")
    clearing = GLAccount.objects.get(fund__code="001", code="101.30")
    licenses = GLAccount.objects.get(fund__code="001", code="321.10.00")
    entries = [
        journal_entry_post(
            entry_date=TODAY,
            memo=f"Entry {i}",
            lines=[
                LineSpec(account=clearing, debit=D(10 + i)),
                LineSpec(account=licenses, credit=D(10 + i)),
            ],
            user=user,
        )
        for i in range(5)
    ]
    return {"entries": entries, "user": user, "clearing": clearing, "licenses": licenses}


def tamper(sql: str, params=None) -> None:
    """Run SQL with every trigger off, as a superuser can: the append-only guards and the
    chain trigger alike."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params)


def verify_command() -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("verify_audit_chain", stdout=out)
    except SystemExit as exit:
        return int(exit.code or 0), out.getvalue()
    return 0, out.getvalue()


def broken(table: str):
    reports = {r.table: r for r in chain_verify().chains}
    return reports[table]


def test_untouched_data_verifies(journal):
    verification = chain_verify()
    assert verification.verifies
    lines = {r.table: r for r in verification.chains}["ledger_journalline"]
    assert lines.links == JournalLine.objects.count() == 10
    head = ChainHead.objects.get(chain="ledger_journalline")
    assert head.seq == 10
    assert bytes(head.digest).hex() == lines.last_digest
    # Links run 1..10 and name every line once.
    links = ChainLink.objects.filter(chain="ledger_journalline").order_by("seq")
    assert [link.seq for link in links] == list(range(1, 11))
    assert sorted(link.row_id for link in links) == sorted(
        JournalLine.objects.values_list("pk", flat=True)
    )
    # Entries and their history events are chained too.
    reports = {r.table: r for r in verification.chains}
    assert reports["ledger_journalentry"].links == 5
    assert reports["ledger_journalentryevent"].links == 5
    status, out = verify_command()
    assert status == 0
    assert "The audit chain verifies" in out


def test_a_changed_journal_line_is_found_at_that_row(journal, client_for, supervisor):
    line = JournalLine.objects.filter(entry=journal["entries"][2]).order_by("line_no")[0]
    link = ChainLink.objects.get(chain="ledger_journalline", row_id=line.pk)
    tamper("UPDATE ledger_journalline SET debit = 1000.00 WHERE id = %s", [line.pk])

    report = broken("ledger_journalline")
    assert not report.verifies
    assert report.breaks == 1  # only the changed row: the links after it still hold
    b = report.first_break
    assert (b.kind, b.row_id, b.seq) == (CHANGED, line.pk, link.seq)
    assert b.stored_digest == bytes(link.digest).hex()
    assert b.recomputed_digest != b.stored_digest
    assert b.content["debit"] == Decimal("1000.00") and b.content["id"] == line.pk
    # The other chains are untouched.
    assert [r.table for r in chain_verify().broken] == ["ledger_journalline"]

    status, out = verify_command()
    assert status == 1
    assert f"BROKEN  ledger_journalline: Row {line.pk} (link {link.seq})" in out
    assert f"stored digest:     {b.stored_digest}" in out
    assert f"recomputed digest: {b.recomputed_digest}" in out

    page = client_for(supervisor).get(reverse("audit:chain"))
    assert page.status_code == 200
    assert not page.context["verification"].verifies
    text = page.content.decode()
    assert "The audit chain is broken" in text
    assert "First broken link in <code>ledger_journalline</code>" in text
    assert f'<dd class="col-sm-9 chain-break-row">{line.pk}</dd>' in text
    assert b.recomputed_digest in text and b.stored_digest in text
    assert "1000.00" in text


def test_a_changed_audit_event_is_found_at_that_row(journal):
    event_model = JournalEntry.pgh_event_model
    event = event_model.objects.get(pgh_obj=journal["entries"][1])
    link = ChainLink.objects.get(chain="ledger_journalentryevent", row_id=event.pgh_id)
    tamper(
        "UPDATE ledger_journalentryevent SET memo = 'Nothing to see' WHERE pgh_id = %s",
        [event.pgh_id],
    )
    b = broken("ledger_journalentryevent").first_break
    assert (b.kind, b.row_id, b.seq) == (CHANGED, event.pgh_id, link.seq)
    assert b.content["memo"] == "Nothing to see"
    status, out = verify_command()
    assert status == 1
    assert f"BROKEN  ledger_journalentryevent: Row {event.pgh_id} (link {link.seq})" in out


def test_a_deleted_row_is_found(journal, client_for, supervisor):
    entry = journal["entries"][3]
    lines = list(JournalLine.objects.filter(entry=entry).order_by("line_no"))
    link = ChainLink.objects.get(chain="ledger_journalline", row_id=lines[1].pk)
    tamper("DELETE FROM ledger_journalline WHERE id = %s", [lines[1].pk])
    b = broken("ledger_journalline").first_break
    assert (b.kind, b.row_id, b.seq) == (MISSING_ROW, lines[1].pk, link.seq)
    page = client_for(supervisor).get(reverse("audit:chain"))
    assert f"Link {link.seq} names row {lines[1].pk}, which is no longer in the table." in (
        page.content.decode()
    )


def test_a_row_deleted_with_its_link_leaves_a_gap(journal):
    line = JournalLine.objects.filter(entry=journal["entries"][0]).order_by("line_no")[1]
    link = ChainLink.objects.get(chain="ledger_journalline", row_id=line.pk)
    tamper("DELETE FROM ledger_journalline WHERE id = %s", [line.pk])
    tamper(
        "DELETE FROM audit_chainlink WHERE chain = 'ledger_journalline' AND seq = %s", [link.seq]
    )
    b = broken("ledger_journalline").first_break
    assert b.kind == MISSING_LINKS
    assert (b.seq, b.missing_from, b.missing_to) == (link.seq + 1, link.seq, link.seq)


def test_a_row_slipped_in_without_the_chain_is_found(journal):
    entry = journal["entries"][0]
    tamper(
        "INSERT INTO ledger_journalline (entry_id, line_no, account_id, debit, credit, memo) "
        "VALUES (%s, 9, %s, 5.00, 0, 'extra')",
        [entry.pk, journal["clearing"].pk],
    )
    extra = JournalLine.objects.get(entry=entry, line_no=9)
    report = broken("ledger_journalline")
    assert report.unlinked_rows == 1
    assert (report.first_break.kind, report.first_break.row_id) == (UNLINKED, extra.pk)


def test_the_page_is_for_supervisors_and_reads_few_queries(
    journal, client_for, supervisor, cashier, django_assert_max_num_queries
):
    assert client_for(cashier).get(reverse("audit:chain")).status_code == 403
    with django_assert_max_num_queries(4 * len(chain_verify().chains) + 15):
        page = client_for(supervisor).get(reverse("audit:chain"))
    assert page.context["verification"].verifies
    assert "The audit chain verifies." in page.content.decode()


def test_concurrent_commits_keep_one_unbroken_chain(journal):
    user, clearing, licenses = journal["user"], journal["clearing"], journal["licenses"]
    threads_count, each = 4, 6
    errors: list[BaseException] = []
    start = threading.Barrier(threads_count)

    def post(worker: int) -> None:
        try:
            start.wait()
            for i in range(each):
                journal_entry_post(
                    entry_date=TODAY,
                    memo=f"Thread {worker} entry {i}",
                    lines=[
                        LineSpec(account=clearing, debit=D("1.00") + i),
                        LineSpec(account=licenses, credit=D("1.00") + i),
                    ],
                    user=user,
                )
        except BaseException as error:  # reported by the main thread
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post, args=(n,)) for n in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    verification = chain_verify()
    assert verification.verifies
    lines = {r.table: r for r in verification.chains}["ledger_journalline"]
    assert lines.links == JournalLine.objects.count() == 10 + 2 * threads_count * each
    seqs = list(
        ChainLink.objects.filter(chain="ledger_journalline")
        .order_by("seq")
        .values_list("seq", flat=True)
    )
    assert seqs == list(range(1, len(seqs) + 1))


def test_the_daily_digest_records_each_head_and_catches_a_rewritten_chain(
    journal, client_for, supervisor, tmp_path
):
    today = timezone.localdate()
    records = {r.chain: r for r in chain_digest_write(day=today)}
    head = ChainHead.objects.get(chain="ledger_journalline")
    assert records["ledger_journalline"].last_seq == 10
    assert records["ledger_journalline"].row_count == 10
    assert records["ledger_journalline"].last_digest == bytes(head.digest).hex()
    # Written again with nothing new: no second record.
    chain_digest_write(day=today)
    assert ChainDigest.objects.filter(day=today, chain="ledger_journalline").count() == 1
    # Yesterday's digest holds no links of today.
    assert chain_digest_write(day=today - timedelta(days=1)) == []

    client = client_for(supervisor)
    csv_text = client.get(reverse("audit:chain-digest-csv"), {"day": today.isoformat()})
    kept = read_digest_csv(csv_text.content.decode("utf-8-sig"))
    assert {"chain": "ledger_journalline", "last_seq": "10"}.items() <= next(
        r for r in kept if r["chain"] == "ledger_journalline"
    ).items()
    pdf = client.get(reverse("audit:chain-digest-pdf"), {"day": today.isoformat()})
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    printed = client.get(reverse("audit:chain-digest-print"), {"day": today.isoformat()})
    assert records["ledger_journalline"].last_digest in printed.content.decode()
    assert compare_kept_digest(kept) == []

    # A superuser rewrites a line and re-links the whole chain (and the digest table):
    # the chain verifies again, but the digest kept outside does not match it.
    line = JournalLine.objects.order_by("pk")[0]
    tamper("UPDATE ledger_journalline SET memo = 'rewritten' WHERE id = %s", [line.pk])
    tamper("DELETE FROM audit_chainlink WHERE chain = 'ledger_journalline'")
    tamper("DELETE FROM audit_chainhead WHERE chain = 'ledger_journalline'")
    tamper("DELETE FROM audit_chaindigest")
    with connection.cursor() as cursor:
        cursor.execute("SELECT audit_chain_backfill('ledger_journalline', 'id')")
    assert chain_verify().verifies
    mismatched = compare_kept_digest(kept)
    assert [(row["chain"], row["last_seq"]) for row, _ in mismatched] == [
        ("ledger_journalline", "10")
    ]
    kept_file = tmp_path / "digest.csv"
    kept_file.write_bytes(csv_text.content)
    out = io.StringIO()
    with pytest.raises(SystemExit) as exit:
        call_command("verify_audit_chain", "--digest-file", str(kept_file), stdout=out)
    assert exit.value.code == 1
    assert f"ledger_journalline link 10 was {records['ledger_journalline'].last_digest}" in (
        out.getvalue()
    )


def test_the_worker_writes_yesterdays_digest_once_and_the_command_any_day(journal, tmp_path):
    from django.apps import apps

    # Everything here was linked today: yesterday's digest has no head yet.
    apps.get_app_config("audit").worker_recover()
    assert not ChainDigest.objects.exists()
    out = io.StringIO()
    kept = tmp_path / "today.csv"
    call_command("write_audit_digest", "--day", "today", "--csv", str(kept), stdout=out)
    rows = {r["chain"]: r for r in read_digest_csv(kept.read_text(encoding="utf-8-sig"))}
    assert rows["ledger_journalline"]["last_seq"] == "10"
    assert rows["ledger_journalentry"]["row_count"] == "5"
    assert "ledger_journalline" in out.getvalue()


def test_supervisors_find_the_page_in_the_audit_menu(journal, client_for, supervisor, cashier):
    home = client_for(supervisor).get("/")
    assert reverse("audit:chain") in home.content.decode()
    home = client_for(cashier).get("/")
    assert reverse("audit:chain") not in home.content.decode()
