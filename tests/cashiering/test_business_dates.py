"""Business dates: a drawer opens for today's business date; an earlier date that is still
open needs a supervisor's approval with a reason (kept on the session and in the audit
trail); a future date is refused. A payment's dates (receipt, journal entry, license issue
and status dates) all come from the session's business date."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from cashiering.errors import CashieringError
from cashiering.models import CashierSession, Drawer
from cashiering.services.receipt_inputs import LineInput
from cashiering.services.sessions import session_open
from kent_cs.models import AuthEvent
from tests.cashiering.factories import counter_setup, post
from tests.factories import PASSWORD, TODAY, business_day
from tests.licensing.factories import approved_license, make_business

D = Decimal
pytestmark = pytest.mark.django_db
YESTERDAY = TODAY - timedelta(days=1)
TOMORROW = TODAY + timedelta(days=1)


@pytest.fixture
def counter(db):
    return counter_setup()


def open_on(cashier, day, **approval):
    return session_open(
        cashier=cashier,
        drawer=Drawer.objects.get(code="D1"),
        business_date=day,
        opening_count={"20.00": 5},
        **approval,
    )


def field_errors(exc: CashieringError) -> dict[str, list[str]]:
    return {field: [str(m) for m in messages] for field, messages in exc.message_dict.items()}


def test_a_drawer_opens_for_today_without_approval(counter, cashier):
    with business_day(TODAY):
        session = open_on(cashier, TODAY)
    assert session.business_date == TODAY
    assert session.earlier_date_approved_by is None and session.earlier_date_reason == ""


def test_a_future_business_date_is_refused_at_its_field(counter, cashier, supervisor):
    with business_day(TODAY), pytest.raises(CashieringError) as refused:
        open_on(cashier, TOMORROW, approved_by=supervisor, approval_reason="Getting ahead")
    assert field_errors(refused.value) == {
        "business_date": [
            "Mar 17, 2026 has not begun: a drawer opens for today's business date (Mar 16, 2026)."
        ]
    }
    assert not CashierSession.objects.exists()


def test_an_earlier_date_needs_a_supervisor_and_a_reason(
    counter, cashier, cashier_b, technician, supervisor
):
    with business_day(TODAY):
        with pytest.raises(CashieringError) as unapproved:
            open_on(cashier, YESTERDAY)
        assert "needs a supervisor's approval" in field_errors(unapproved.value)["business_date"][0]
        with pytest.raises(CashieringError) as own:
            open_on(cashier, YESTERDAY, approved_by=cashier, approval_reason="Paper receipts")
        assert "supervisor" in field_errors(own.value)
        for not_a_supervisor in (cashier_b, technician):
            with pytest.raises(CashieringError) as refused:
                open_on(cashier, YESTERDAY, approved_by=not_a_supervisor, approval_reason="Paper")
            assert "cannot approve" in field_errors(refused.value)["supervisor"][0]
        with pytest.raises(CashieringError) as no_reason:
            open_on(cashier, YESTERDAY, approved_by=supervisor, approval_reason="  ")
        assert "approval_reason" in field_errors(no_reason.value)
        assert not CashierSession.objects.exists()

        session = open_on(
            cashier,
            YESTERDAY,
            approved_by=supervisor,
            approval_reason="Counter ran on paper receipts while the network was down",
        )
    session.refresh_from_db()
    assert session.business_date == YESTERDAY
    assert session.earlier_date_approved_by == supervisor
    assert session.earlier_date_reason.startswith("Counter ran on paper")
    event = session.events.get()
    assert "approved by supervisor" in event.pgh_context.metadata["reason"]
    assert "2026-03-15" in event.pgh_context.metadata["reason"]


def test_a_closed_earlier_day_stays_refused_even_with_approval(counter, cashier, supervisor):
    from cashiering.services.closing import business_day_close

    with business_day(YESTERDAY):
        business_day_close(business_date=YESTERDAY, user=supervisor)
    with business_day(TODAY), pytest.raises(CashieringError, match="is closed"):
        open_on(cashier, YESTERDAY, approved_by=supervisor, approval_reason="Paper receipts")


def _open_form(day, **extra):
    return {
        "drawer": Drawer.objects.get(code="D2").pk,
        "business_date": day.isoformat(),
        "count_20_00": "5",
        **extra,
    }


def test_the_open_form_refuses_tomorrow_and_asks_for_approval_for_yesterday(
    client_for, counter, cashier, supervisor
):
    client = client_for(cashier)
    with business_day(TODAY):
        page = client.get(reverse("cashiering:session-open"))
        html = page.content.decode()
        assert 'max="2026-03-16"' in html
        assert "data-earlier-date-approval hidden" in html  # shown once the date is earlier

        future = client.post(reverse("cashiering:session-open"), _open_form(TOMORROW))
        assert "has not begun" in future.context["form"].errors["business_date"][0]

        earlier = client.post(reverse("cashiering:session-open"), _open_form(YESTERDAY))
        assert "needs a supervisor" in earlier.context["form"].errors["business_date"][0]
        assert "data-earlier-date-approval hidden" not in earlier.content.decode()

        wrong = client.post(
            reverse("cashiering:session-open"),
            _open_form(
                YESTERDAY,
                supervisor="supervisor",
                supervisor_password="not-the-password",
                approval_reason="Paper receipts during the outage",
            ),
        )
        assert wrong.context["form"].errors["supervisor_password"] == [
            "That supervisor's username or password is wrong."
        ]
        assert AuthEvent.objects.filter(kind="failed", username="supervisor").count() == 1
        assert not CashierSession.objects.exists()

        approved = client.post(
            reverse("cashiering:session-open"),
            _open_form(
                YESTERDAY,
                supervisor="supervisor",
                supervisor_password=PASSWORD,
                approval_reason="Paper receipts during the outage",
            ),
        )
    session = CashierSession.objects.get()
    assert approved["Location"] == reverse("cashiering:receipt-new", args=[session.pk])
    assert session.business_date == YESTERDAY
    assert session.earlier_date_approved_by == supervisor


@pytest.mark.parametrize("day", [TODAY, YESTERDAY], ids=["today", "approved-earlier-date"])
def test_a_license_paid_at_the_counter_reads_one_date_everywhere(
    client_for, counter, cashier, technician, supervisor, day
):
    license = approved_license(make_business(), technician, issue_date=YESTERDAY)
    invoice = license.invoices.get()
    approval = (
        {"approved_by": supervisor, "approval_reason": "Paper receipts"} if day < TODAY else {}
    )
    with business_day(TODAY):
        session = open_on(cashier, day, **approval)
    receipt = post(
        session,
        [LineInput(kind="license", ref=invoice.number, amount=invoice.amount_due)],
        [counter.cash(str(invoice.amount_due))],
        key=uuid.uuid4(),
        payer="Green River Tacos",
    )
    license.refresh_from_db()
    invoice.refresh_from_db()
    change = license.status_changes.latest("pk")
    assert receipt.business_date == day
    assert receipt.journal_entry.entry_date == day
    assert (license.status, license.issued_on, invoice.paid_on) == ("active", day, day)
    assert change.effective_on == day

    page = client_for(technician).get(reverse("licensing:license-detail", args=[license.pk]))
    html = page.content.decode()
    shown = f"{day:%b} {day.day}, {day.year}"
    assert f"Active since {shown}" in html
    assert f'First issued</dt><dd class="col-sm-10">{shown}' in html
