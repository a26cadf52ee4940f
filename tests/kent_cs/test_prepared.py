"""Prepared statements on the ORM's connection (kent_cs.db.PreparedCursor): the same
transaction, errors as Django's, audit context on every history event."""

from datetime import date
from decimal import Decimal

import pytest
from django.apps import apps
from django.db import DataError, IntegrityError, connection, transaction
from django.urls import reverse

from cashiering.models import Receipt, UtilityAccount
from kent_cs.audit import audit_actor
from kent_cs.db import history_context_bound, json_insert_statement, prepared_cursor
from kent_cs.models import NumberSeries
from tests.cashiering.factories import make_account
from tests.cashiering.test_counter_views import accounts, post_data, post_receipt, session

__all__ = ["accounts", "session"]  # fixtures

pytestmark = pytest.mark.django_db


def _prepared_names() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_prepared_statements")
        return {name for (name,) in cursor.fetchall()}


def test_statements_are_prepared_once_per_connection():
    sql = "SELECT count(*) FROM kent_cs_numberseries WHERE key = %s"
    with prepared_cursor() as cursor:
        cursor.execute(sql, ["receipt-R"])
        first = cursor.fetchone()
    before = _prepared_names()
    assert before, "the statement is prepared on the server"
    with prepared_cursor() as cursor:
        cursor.execute(sql, ["receipt-T"])
        second = cursor.fetchone()
    assert _prepared_names() == before  # executed again, not prepared again
    assert first[0] in (0, 1) and second[0] in (0, 1)


def test_writes_share_the_orm_transaction_and_roll_back_with_it():
    with pytest.raises(RuntimeError), transaction.atomic():
        with prepared_cursor() as cursor:
            cursor.execute(
                "INSERT INTO kent_cs_numberseries (key, next_value) VALUES (%s, %s)",
                ["prepared-test", 7],
            )
        assert NumberSeries.objects.filter(key="prepared-test").exists()  # same transaction
        raise RuntimeError("roll back")
    assert not NumberSeries.objects.filter(key="prepared-test").exists()


def test_database_errors_are_djangos():
    with pytest.raises(IntegrityError), transaction.atomic(), prepared_cursor() as cursor:
        cursor.execute(
            "INSERT INTO kent_cs_numberseries (key, next_value) VALUES (%s, %s), (%s, %s)",
            ["prepared-twice", 1, "prepared-twice", 1],
        )


def test_queries_are_counted_like_the_orms(django_assert_num_queries):
    with django_assert_num_queries(1), prepared_cursor() as cursor:
        cursor.execute("SELECT 1 WHERE %s::int = 1", [1])


def _event_contexts(app_model: str, **filters) -> list[dict | None]:
    model = apps.get_model(app_model)
    return [
        event.pgh_context.metadata if event.pgh_context else None
        for event in model.objects.filter(**filters)
        .select_related("pgh_context")
        .order_by("pgh_id")
    ]


def test_a_receipt_posted_at_the_counter_is_attributed_on_every_history_event(
    client_for, cashier, session, accounts
):
    data = post_data(
        lines=[("utility", "100007-23", "84.50"), ("fee", "COPY", "", "3", "0.15")],
        tenders=[("CASH", "50.00"), ("CHECK", "50.00")],
    )
    data.update(tender_check_number=["", "1201"], tender_check_payer=["", "John Smith"])
    response = post_receipt(client_for(cashier), session, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    receipt = Receipt.objects.get()
    account = UtilityAccount.objects.get(number="100007-23")
    contexts = {
        "receipt": _event_contexts("cashiering.ReceiptEvent", pgh_obj_id=receipt.pk),
        "entry": _event_contexts("ledger.JournalEntryEvent", pgh_obj_id=receipt.journal_entry_id),
        "account": _event_contexts("cashiering.UtilityAccountEvent", pgh_obj_id=account.pk)[-1:],
    }
    path = reverse("cashiering:receipt-post", args=[session.pk])
    for name, found in contexts.items():
        assert found, f"no history event for the {name}"
        for metadata in found:
            assert metadata is not None, f"the {name} event has no audit context"
            assert (metadata["user"], metadata["username"], metadata["path"]) == (
                cashier.pk,
                cashier.get_username(),
                path,
            ), name
    ids = {
        event.pgh_context_id
        for model in ("cashiering.ReceiptEvent", "ledger.JournalEntryEvent")
        for event in apps.get_model(model).objects.all()
    }
    assert len(ids) == 1, "one request, one audit context"


UPDATE = "UPDATE cashiering_utilityaccount SET balance = balance - 1 WHERE number = %s"


def _last_update_context(account: UtilityAccount) -> dict | None:
    event = (
        apps.get_model("cashiering.UtilityAccountEvent")
        .objects.filter(pgh_obj_id=account.pk)
        .select_related("pgh_context")
        .latest("pgh_id")
    )
    return event.pgh_context.metadata if event.pgh_context else None


@pytest.fixture
def account(db):
    return make_account(number="300001-01", balance="10.00")


def test_a_write_outside_a_bound_block_sets_the_context_itself(cashier, account):
    with transaction.atomic(), audit_actor(cashier, source="test", reason="prepared write"):
        with connection.cursor() as cursor:  # something else cleared it in this transaction
            cursor.execute("SELECT set_config('pghistory.context_id', '', true)")
        with prepared_cursor() as cursor:
            cursor.execute(UPDATE, [account.number])
    metadata = _last_update_context(account)
    assert metadata is not None and metadata["reason"] == "prepared write"


def test_in_autocommit_the_context_and_the_write_are_one_transaction(cashier, account):
    with audit_actor(cashier, source="test", reason="autocommit write"), prepared_cursor() as c:
        c.execute(UPDATE, [account.number])
    metadata = _last_update_context(account)
    assert metadata is not None and metadata["reason"] == "autocommit write"


def test_a_bound_block_yields_the_context_to_set_and_ends_with_its_block(cashier, account):
    with audit_actor(cashier, source="test", reason="bound"), transaction.atomic():
        with history_context_bound() as values:
            context_id, metadata = values
            assert context_id and '"reason": "bound"' in metadata
        # after the block, a write sets the context again: nothing relies on the block
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('pghistory.context_id', '', true)")
        with prepared_cursor() as cursor:
            cursor.execute(UPDATE, [account.number])
    metadata = _last_update_context(account)
    assert metadata is not None and metadata["reason"] == "bound"
    with transaction.atomic(), history_context_bound() as values:
        assert values == ("", "")  # no context: pghistory reads an empty id as none


def test_without_prepared_statements_the_same_statements_run_unprepared(
    client_for, cashier, session, accounts
):
    """KENT_DB_PREPARED_STATEMENTS=false (behind a pooler that cannot track them): the
    connection's prepare_threshold is None and nothing is prepared, and a receipt posts."""
    connection.ensure_connection()
    raw = connection.connection
    saved = raw.prepare_threshold
    raw.prepare_threshold = None
    try:
        with connection.cursor() as cursor:
            cursor.execute("DEALLOCATE ALL")
        raw._prepared.clear()  # psycopg's record of what the server has prepared
        data = post_data(lines=[("utility", "100007-23", "84.50")], tenders=[("CASH", "90.00")])
        response = post_receipt(client_for(cashier), session, data)
        assert response.status_code == 302
        assert Receipt.objects.get().change_given == Decimal("5.50")
        assert _prepared_names() == set()
    finally:
        raw.prepare_threshold = saved


def test_json_insert_keeps_every_value_exactly_and_refuses_text_too_long():
    fields = ("number", "name", "service_address", "balance", "balance_as_of", "is_active")
    rows = [
        ("JSON-1", 'Ann O\'Brien "Jr"', "1 Main St", Decimal("-0.10"), date(2026, 11, 26), True),
        ("JSON-2", "Bob", "", Decimal("123456789.99"), None, False),
    ]
    with prepared_cursor() as cursor:
        cursor.execute(*json_insert_statement(UtilityAccount, fields, rows))
    stored = list(
        UtilityAccount.objects.filter(number__startswith="JSON-")
        .order_by("number")
        .values_list(*fields)
    )
    assert stored == rows
    too_long = [("JSON-3", "x" * 121, "", Decimal(0), None, True)]
    with pytest.raises(DataError), transaction.atomic(), prepared_cursor() as cursor:
        cursor.execute(*json_insert_statement(UtilityAccount, fields, too_long))
