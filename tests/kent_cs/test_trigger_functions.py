"""The trigger helpers of kent_cs.trigger_functions: installed after migrating, and
behaving as pgtrigger's and pghistory's own (ignoring a trigger, attaching the context)."""

import json

import pghistory
import pgtrigger
import pytest
from django.db import ProgrammingError, connection, transaction

from kent_cs.audit import audit_actor
from ledger.models import Fund

pytestmark = pytest.mark.django_db


def _source(function: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT prosrc FROM pg_proc WHERE proname = %s", [function])
        return cursor.fetchone()[0]


def _event_contexts(fund: Fund) -> list:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT e.pgh_label, e.pgh_context_id, c.id, c.metadata FROM ledger_fundevent e "
            "LEFT JOIN pghistory_context c ON c.id = e.pgh_context_id "
            "WHERE e.pgh_obj_id = %s ORDER BY e.pgh_id",
            [fund.pk],
        )
        return [
            (label, context, row_id, None if metadata is None else json.loads(metadata))
            for label, context, row_id, metadata in cursor.fetchall()
        ]


def test_migrate_leaves_the_helpers_without_exception_blocks():
    for function in ("_pgtrigger_should_ignore", "_pgh_attach_context"):
        source = _source(function)
        assert "EXCEPTION" not in source.upper()
        assert "current_setting(" in source
    assert "pghistory.context_written" in _source("_pgh_attach_context")


def test_a_protect_trigger_still_refuses_and_can_still_be_ignored():
    fund = Fund.objects.create(code="901", name="Trigger test fund")
    with pytest.raises(ProgrammingError), transaction.atomic():
        fund.delete()
    assert Fund.objects.filter(pk=fund.pk).exists()
    with pgtrigger.ignore("ledger.Fund:protect_delete"):
        Fund.objects.filter(pk=fund.pk).delete()
    assert not Fund.objects.filter(pk=fund.pk).exists()
    # Outside the block (the setting reset, or empty once set): refused again.
    other = Fund.objects.create(code="902", name="Another fund")
    with pytest.raises(ProgrammingError), transaction.atomic():
        other.delete()


def test_events_without_a_context_link_to_none():
    fund = Fund.objects.create(code="903", name="No context")
    assert [(label, context) for label, context, *_ in _event_contexts(fund)] == [("insert", None)]


def test_one_context_row_per_transaction_with_its_latest_metadata():
    user = None
    with transaction.atomic(), audit_actor(user, source="test"):
        fund = Fund.objects.create(code="904", name="First")
        fund.name = "Second"
        fund.save()
        # pghistory's own nested context merges into the enclosing one (kent_cs's
        # audit_reason deliberately starts a new one; see test_activity).
        with pghistory.context(reason="renamed again"):
            fund.name = "Third"
            fund.save()
    events = _event_contexts(fund)
    assert [label for label, *_ in events] == ["insert", "update", "update"]
    context_ids = {context for _, context, *_ in events}
    assert len(context_ids) == 1 and None not in context_ids
    # Every event's context row exists; the nested block's metadata was written to it.
    assert all(row_id is not None for _, _, row_id, _ in events)
    assert events[-1][3]["reason"] == "renamed again"
    assert events[-1][3]["source"] == "test"


def test_a_context_row_rolled_back_with_a_savepoint_is_written_again():
    with transaction.atomic(), audit_actor(None, source="savepoint test"):
        try:
            with transaction.atomic():
                Fund.objects.create(code="905", name="Rolled back")
                raise RuntimeError
        except RuntimeError:
            pass
        fund = Fund.objects.create(code="906", name="Kept")
    [(_label, context, row_id, metadata)] = _event_contexts(fund)
    assert context is not None and row_id == context
    assert metadata["source"] == "savepoint test"


def test_a_new_context_in_the_same_transaction_gets_its_own_row():
    with transaction.atomic():
        with pghistory.context(step="one"):
            first = Fund.objects.create(code="907", name="One")
        with connection.cursor() as cursor:  # what kent_cs.audit does when a block ends
            cursor.execute(
                "SELECT set_config('pghistory.context_id', '', true), "
                "set_config('pghistory.context_metadata', '', true)"
            )
        unattributed = Fund.objects.create(code="908", name="Between")
        with pghistory.context(step="two"):
            second = Fund.objects.create(code="909", name="Two")
    [(_, one, one_row, one_metadata)] = _event_contexts(first)
    [(_, none, *_)] = _event_contexts(unattributed)
    [(_, two, two_row, two_metadata)] = _event_contexts(second)
    assert none is None
    assert one != two and one_row == one and two_row == two
    assert one_metadata == {"step": "one"} and two_metadata == {"step": "two"}
