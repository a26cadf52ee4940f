"""The Activity page (audit trail): who may see it, what its filters do, what a change
records about the request that made it, and that the history cannot be rewritten."""

import io
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import DatabaseError, connection, transaction
from django.http import HttpResponse
from django.urls import include, path, reverse
from django.views.decorators.http import require_POST

from kent_cs.audit import audit_actor, audit_reason
from kent_cs.selectors import ACTIVITY_PAGE_SIZE, object_timeline, tracked_models
from ledger.demo import seed as seed_ledger
from ledger.models import AccountingPeriod, GLAccount, GLAccountEvent
from ledger.services import (
    LineSpec,
    journal_entry_post,
    period_close,
    period_reopen,
    periods_ensure_year,
)
from tests.factories import TODAY

PACIFIC = ZoneInfo("America/Los_Angeles")


# A view that changes a record with a reason given in the form, so a change goes through
# the whole middleware stack as a real POST. Used with @pytest.mark.urls(__name__).
@require_POST
def reopen_period(request, pk):
    period = AccountingPeriod.objects.get(pk=pk)
    period_reopen(period=period, user=request.user, reason=request.POST["reason"])
    return HttpResponse("reopened")


urlpatterns = [
    path("test/periods/<int:pk>/reopen/", reopen_period),
    path("", include("kent_cs.urls")),
]


@pytest.fixture
def books(db):
    seed_ledger(io.StringIO())
    periods_ensure_year(year=TODAY.year)
    return {a.full_code: a for a in GLAccount.objects.select_related("fund")}


def post_entry(books, user, amount="10.00"):
    with audit_actor(user, source="test"):
        return journal_entry_post(
            entry_date=TODAY,
            memo="Counter receipts",
            lines=[
                LineSpec(books["001.101.30"], debit=Decimal(amount)),
                LineSpec(books["001.321.10.00"], credit=Decimal(amount)),
            ],
            user=user,
        )


def rename(account, user, name):
    with audit_actor(user, source="admin"):
        account.name = name
        account.save()


def activity(client, **params):
    response = client.get(reverse("activity"), params)
    assert response.status_code == 200
    return response


def rows(response):
    return list(response.context["page"].object_list)


def backdated_copy(event, when: datetime) -> None:
    """Insert a copy of `event` as if it had been recorded at `when` (INSERT is allowed
    on event tables; only UPDATE and DELETE are refused)."""
    model = type(event)
    columns = [f.column for f in model._meta.concrete_fields if f.column != "pgh_id"]
    names = ", ".join(f'"{c}"' for c in columns)
    selected = ", ".join("%s" if c == "pgh_created_at" else f'"{c}"' for c in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO "{model._meta.db_table}" ({names}) '
            f'SELECT {selected} FROM "{model._meta.db_table}" WHERE pgh_id = %s',
            [when, event.pgh_id],
        )


# --------------------------------------------------------------------------- access


@pytest.mark.parametrize(("persona", "status"), [("supervisor", 200), ("admin", 200)])
def test_supervisors_and_administrators_may_review_activity(client, personas, persona, status):
    client.force_login(personas[persona])
    response = client.get(reverse("activity"))
    assert response.status_code == status
    assert '<h1 class="h3">Activity</h1>' in response.content.decode()


@pytest.mark.parametrize("persona", ["cashier", "technician", "outsider"])
def test_others_are_refused_with_the_403_page(client, personas, persona):
    client.force_login(personas[persona])
    response = client.get(reverse("activity"))
    assert response.status_code == 403
    page = response.content.decode()
    assert "You are not allowed to do that" in page
    assert 'aria-label="Main"' in page  # the base layout, with its navigation
    assert "No activity matches" not in page


# -------------------------------------------------------------------------- filters


def test_the_user_filter_shows_only_that_users_changes(
    client, books, technician, admin, supervisor
):
    entry = post_entry(books, technician)
    rename(books["001.321.10.00"], admin, "Business licenses and permits")
    client.force_login(supervisor)

    mine = rows(activity(client, user=technician.pk))
    # The entry's lines are written with it and have no events of their own.
    assert sorted((r.pgh_obj_model, r.pgh_label) for r in mine) == [
        ("ledger.JournalEntry", "insert"),
    ]
    assert all(r.actor == technician for r in mine)
    assert {r.pgh_obj_id for r in mine if r.pgh_obj_model == "ledger.JournalEntry"} == {
        str(entry.pk)
    }

    theirs = rows(activity(client, user=admin.pk))
    assert [(r.pgh_obj_model, r.pgh_label, r.actor) for r in theirs] == [
        ("ledger.GLAccount", "update", admin)
    ]
    assert theirs[0].pgh_diff == {"name": ["Business licenses", "Business licenses and permits"]}

    assert rows(activity(client, user=supervisor.pk)) == []


def test_a_change_is_listed_once(client, books, admin, supervisor):
    """Insert and update events share one table; it must not be read twice."""
    account = books["001.321.10.00"]
    rename(account, admin, "Licenses")
    client.force_login(supervisor)
    found = rows(activity(client, model="ledger.GLAccount", object_id=str(account.pk)))
    assert [r.pgh_label for r in found] == ["update", "insert"]
    everything = rows(activity(client))
    assert len({r.pgh_slug for r in everything}) == len(everything)


def test_the_record_filter_narrows_to_one_record(client, books, admin, supervisor):
    licenses, fire = books["001.321.10.00"], books["001.321.90.00"]
    rename(licenses, admin, "Licenses")
    rename(fire, admin, "Fire inspections")
    client.force_login(supervisor)

    accounts = rows(activity(client, model="ledger.GLAccount"))
    assert {r.pgh_obj_model for r in accounts} == {"ledger.GLAccount"}
    assert len(accounts) == GLAccount.objects.count() + 2  # every insert, two updates

    one = rows(activity(client, model="ledger.GLAccount", object_id=str(fire.pk)))
    assert [(r.pgh_obj_id, r.pgh_label) for r in one] == [
        (str(fire.pk), "update"),
        (str(fire.pk), "insert"),
    ]
    assert one[0].model_name == "Gl account" or one[0].model_name == "GL account"


def test_the_date_filter_uses_whole_local_days(client, books, admin, supervisor):
    rename(books["001.321.10.00"], admin, "Licenses")
    event = GLAccountEvent.objects.get(pgh_label="update")
    # 11:30 pm in Kent on January 5 is already January 6 in UTC.
    late_evening = datetime(TODAY.year, 1, 5, 23, 30, tzinfo=PACIFIC)
    backdated_copy(event, late_evening)
    backdated_copy(event, datetime(TODAY.year, 1, 2, 9, 0, tzinfo=PACIFIC))
    client.force_login(supervisor)

    def created(**params):
        return [
            r.pgh_created_at for r in rows(activity(client, model="ledger.GLAccount", **params))
        ]

    jan5 = date(TODAY.year, 1, 5).isoformat()
    jan6 = date(TODAY.year, 1, 6).isoformat()
    assert created(date_from=jan5, date_to=jan5) == [late_evening]
    assert created(date_from=jan6, date_to=jan6) == []
    assert len(created(date_to=jan5)) == 2
    since_jan6 = activity(client, date_from=jan6).context["page"].paginator.count
    assert since_jan6 == activity(client).context["page"].paginator.count - 2


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"object_id": "7"}, "model", "Choose the record type the id belongs to."),
        ({"date_from": "2026-03-10", "date_to": "2026-03-01"}, "date_to", "before the start"),
        ({"date_from": "yesterday"}, "date_from", "Enter a valid date."),
        ({"model": "auth.Nothing"}, "model", "Select a valid choice."),
        ({"model": "ledger.GLAccount", "object_id": "12a"}, "object_id", "12a is not a record id."),
    ],
)
def test_bad_filters_are_explained_and_nothing_is_listed(
    client, supervisor, params, field, message
):
    client.force_login(supervisor)
    response = activity(client, **params)
    assert response.context["page"] is None
    assert any(message in error for error in response.context["form"].errors[field])
    page = response.content.decode()
    assert message.replace("'", "&#x27;") in page
    assert "<table" not in page


def test_long_activity_is_paged_with_a_constant_number_of_queries(
    client, books, admin, supervisor, django_assert_max_num_queries
):
    client.force_login(supervisor)
    account = books["001.321.10.00"]
    with django_assert_max_num_queries(12):
        first = activity(client)
    for n in range(ACTIVITY_PAGE_SIZE + 5):
        rename(account, admin, f"Licenses {n}")
    with django_assert_max_num_queries(12):
        first = activity(client, model="ledger.GLAccount")
    page = first.context["page"]
    assert len(page.object_list) == ACTIVITY_PAGE_SIZE
    assert page.paginator.num_pages == 2
    assert page.object_list[0].pgh_data["name"] == f"Licenses {ACTIVITY_PAGE_SIZE + 4}"
    html = first.content.decode()
    assert "Page 1 of 2" in html
    assert "model=ledger.GLAccount&amp;" in html  # the next link keeps the filters
    second = activity(client, model="ledger.GLAccount", page=2)
    assert second.context["page"].number == 2


# ------------------------------------------------------------------- request context


@pytest.mark.urls(__name__)
def test_a_change_made_by_a_request_records_user_address_path_and_reason(client, books, supervisor):
    period = AccountingPeriod.objects.get(year=TODAY.year, month=TODAY.month)
    period_close(period=period, user=supervisor, reason="Month end")
    client.force_login(supervisor)
    url = f"/test/periods/{period.pk}/reopen/"
    response = client.post(url, {"reason": "Late deposit from the pool"}, REMOTE_ADDR="10.1.2.3")
    assert response.status_code == 200

    event = (
        period.events.filter(pgh_label="update", status="open").select_related("pgh_context").get()
    )
    metadata = event.pgh_context.metadata
    assert metadata["user"] == supervisor.pk
    assert metadata["username"] == "supervisor"
    assert metadata["ip"] == "10.1.2.3"
    assert metadata["path"] == url
    assert metadata["method"] == "POST"
    assert metadata["reason"] == "Late deposit from the pool"

    page = activity(client, model="ledger.AccountingPeriod", object_id=str(period.pk))
    html = page.content.decode()
    assert "10.1.2.3" in html
    assert f"<code>POST {url}</code>" in html
    assert "Reason: Late deposit from the pool" in html
    assert "<strong>status</strong>: closed → open" in html
    assert rows(page)[0].actor == supervisor


def test_two_reasons_in_one_transaction_each_keep_their_own(books, admin):
    """A request or command that changes two records for two reasons records both."""
    with transaction.atomic(), audit_actor(admin, source="test"):
        with audit_reason("Renamed for the new fee schedule"):
            rename_in_place(books["001.321.10.00"], "Licenses")
        with audit_reason("Fire inspections moved here"):
            rename_in_place(books["001.321.90.00"], "Fire inspections")
        rename_in_place(books["001.101.30"], "Undeposited receipts (counter)")
    first, second, third = GLAccountEvent.objects.filter(pgh_label="update").order_by("pgh_id")
    assert first.pgh_context.metadata["reason"] == "Renamed for the new fee schedule"
    assert second.pgh_context.metadata["reason"] == "Fire inspections moved here"
    assert "reason" not in third.pgh_context.metadata  # the enclosing context's, no reason
    assert {e.pgh_context.metadata["user"] for e in (first, second, third)} == {admin.pk}
    assert first.pgh_context_id != second.pgh_context_id != third.pgh_context_id


def rename_in_place(account: GLAccount, name: str) -> None:
    account.name = name
    account.save(update_fields=["name"])


def test_a_change_after_an_attributed_block_is_not_attributed_to_it(books, admin):
    """pghistory's settings last until the transaction ends; ours end with the block."""
    with transaction.atomic():
        rename(books["001.321.10.00"], admin, "Licenses")
        account = books["001.321.90.00"]
        account.name = "Fire inspections"
        account.save()  # e.g. a later step of a command, outside any audit block
    first, second = GLAccountEvent.objects.filter(pgh_label="update").order_by("pgh_id")
    assert first.pgh_context.metadata["user"] == admin.pk
    assert second.pgh_context is None


def test_the_timeline_of_a_record_lists_its_changes_newest_first(books, admin):
    account = books["001.321.10.00"]
    rename(account, admin, "Licenses")
    timeline = object_timeline(account)
    assert [(e.pgh_label, e.actor) for e in timeline] == [("update", admin), ("insert", None)]


# -------------------------------------------------------------------- append-only


def test_every_event_table_refuses_update_and_delete(db):
    """Every tracked model's event table carries the append-only trigger."""
    event_tables = {
        event_model._meta.db_table
        for model in tracked_models()
        for event_model in model.pgh_event_models.values()
    }
    assert "ledger_glaccountevent" in event_tables
    assert "kent_cs_autheventevent" in event_tables
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE t.tgname LIKE 'pgtrigger_append_only_%%' AND NOT t.tgisinternal "
            # BEFORE (2) ROW (1) trigger firing on DELETE (8) and UPDATE (16)
            "AND t.tgtype & 27 = 27"
        )
        protected = {name for (name,) in cursor.fetchall()}
    assert event_tables - protected == set()


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE ledger_glaccountevent SET name = 'rewritten'",
        "UPDATE ledger_glaccountevent SET pgh_context_id = NULL",
        "DELETE FROM ledger_glaccountevent",
        "DELETE FROM pghistory_context",
        "UPDATE pghistory_context SET id = gen_random_uuid()",
        "UPDATE pghistory_context SET created_at = created_at - interval '1 day'",
    ],
)
def test_recorded_history_cannot_be_rewritten(books, admin, sql):
    rename(books["001.321.10.00"], admin, "Licenses")
    before = GLAccountEvent.objects.count()
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)
    assert GLAccountEvent.objects.count() == before
    assert GLAccountEvent.objects.get(pgh_label="update").pgh_context.metadata["user"] == admin.pk
