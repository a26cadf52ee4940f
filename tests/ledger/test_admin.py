"""The Django admin: reference data editable and audited, nothing audited deleted."""

from datetime import date

import pghistory.models
import pytest
from django.contrib import admin as django_admin
from django.urls import reverse

from cashiering.models import TenderType
from kent_cs.admin import NoDeleteAdmin
from kent_cs.models import AuthEvent, Job
from kent_cs.selectors import tracked_models
from ledger.models import AccountingPeriod, FeeCode, GLAccount, JournalEntry
from tests.ledger.test_views import post


def _admin_request(rf, user):
    request = rf.get("/admin/")
    request.user = user
    return request


def test_every_audited_model_in_admin_cannot_be_deleted(rf, admin):
    request = _admin_request(rf, admin)
    registered = [m for m in tracked_models() if m in django_admin.site._registry]
    assert GLAccount in registered and TenderType in registered
    for model in registered:
        model_admin = django_admin.site._registry[model]
        assert isinstance(model_admin, NoDeleteAdmin), model
        assert not model_admin.has_delete_permission(request), model
        assert "delete_selected" not in model_admin.get_actions(request), model


def test_admin_cannot_delete_a_gl_account(client_for, admin, chart):
    account = chart["001.514.23.40"]
    client = client_for(admin)
    assert client.get(reverse("admin:ledger_glaccount_changelist")).status_code == 200
    change = client.get(reverse("admin:ledger_glaccount_change", args=[account.pk]))
    assert change.status_code == 200
    assert b"deletelink" not in change.content
    assert (
        client.get(reverse("admin:ledger_glaccount_delete", args=[account.pk])).status_code == 403
    )
    response = client.post(
        reverse("admin:ledger_glaccount_changelist"),
        {"action": "delete_selected", "_selected_action": [account.pk], "post": "yes"},
    )
    assert response.status_code in (200, 302)
    assert GLAccount.objects.filter(pk=account.pk).exists()


def test_admin_deactivates_an_account_and_the_change_is_attributed(client_for, admin, chart):
    account = chart["001.514.23.40"]
    response = client_for(admin).post(
        reverse("admin:ledger_glaccount_change", args=[account.pk]),
        {
            "fund": account.fund_id,
            "code": account.code,
            "name": account.name,
            "account_type": account.account_type,
            # is_active left out: unticked
        },
    )
    assert response.status_code == 302
    account.refresh_from_db()
    assert not account.is_active
    event = pghistory.models.Events.objects.tracks(account).order_by("-pgh_id").first()
    assert event.pgh_label == "update"
    assert event.pgh_context["user"] == admin.pk
    assert event.pgh_context["path"] == reverse("admin:ledger_glaccount_change", args=[account.pk])


def _fee_code_form(rows, code="BL-TEST"):
    data = {
        "code": code,
        "name": "Test fee",
        "default_amount": "",
        "is_active": "on",
        "distributions-TOTAL_FORMS": str(len(rows)),
        "distributions-INITIAL_FORMS": "0",
        "distributions-MIN_NUM_FORMS": "1",
        "distributions-MAX_NUM_FORMS": "1000",
    }
    for index, (account, percent, fixed) in enumerate(rows):
        data[f"distributions-{index}-account"] = account.pk
        data[f"distributions-{index}-percent"] = percent
        data[f"distributions-{index}-fixed_amount"] = fixed
    return data


def test_fee_code_percents_must_add_up_to_100(client_for, admin, chart):
    client = client_for(admin)
    url = reverse("admin:ledger_feecode_add")
    response = client.post(
        url,
        _fee_code_form(
            [(chart["001.321.10.00"], "60", ""), (chart["001.321.90.00"], "30", "")],
        ),
    )
    assert response.status_code == 200
    assert "The percents add up to 90%; they must add up to 100%." in response.content.decode()
    assert not FeeCode.objects.filter(code="BL-TEST").exists()

    response = client.post(
        url,
        _fee_code_form(
            [
                (chart["001.321.91.00"], "", "1.00"),
                (chart["001.321.10.00"], "62.5", ""),
                (chart["001.321.90.00"], "37.5", ""),
            ]
        ),
    )
    assert response.status_code == 302
    fee = FeeCode.objects.get(code="BL-TEST")
    parts = {account.full_code: amount for account, amount in fee.distribute("81.00")}
    assert parts == {"001.321.91.00": 1, "001.321.10.00": 50, "001.321.90.00": 30}


def test_fee_code_needs_a_distribution(client_for, admin, chart):
    response = client_for(admin).post(
        reverse("admin:ledger_feecode_add"), _fee_code_form([], code="BL-NONE")
    )
    assert response.status_code == 200
    assert not FeeCode.objects.filter(code="BL-NONE").exists()


def test_fixed_amounts_alone_need_no_percent(client_for, admin, chart):
    response = client_for(admin).post(
        reverse("admin:ledger_feecode_add"),
        _fee_code_form([(chart["001.321.91.00"], "", "5.00")], code="BL-FLAT"),
    )
    assert response.status_code == 302
    assert FeeCode.objects.get(code="BL-FLAT").distributions.get().fixed_amount == 5


def test_period_status_is_read_only_in_admin(client_for, admin, rf, chart):
    march = AccountingPeriod.objects.get(year=2026, month=3)
    model_admin = django_admin.site._registry[AccountingPeriod]
    request = _admin_request(rf, admin)
    assert "status" in model_admin.get_readonly_fields(request)
    assert {"status", "start_date", "end_date"} <= set(
        model_admin.get_readonly_fields(request, march)
    )
    client_for(admin).post(
        reverse("admin:ledger_accountingperiod_change", args=[march.pk]),
        {"status": "closed", "year": "2026", "month": "3"},
    )
    march.refresh_from_db()
    assert march.is_open


def test_journal_entries_are_view_only(client_for, admin, supervisor, chart):
    entry = post(
        supervisor,
        chart,
        date(2026, 3, 5),
        "Receipts",
        ("001.101.30", "10.00", "0"),
        ("001.369.90.00", "0", "10.00"),
    )
    client = client_for(admin)
    change_url = reverse("admin:ledger_journalentry_change", args=[entry.pk])
    page = client.get(change_url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "001.101.30" in html and "Receipts" in html
    assert 'name="_save"' not in html
    assert client.get(reverse("admin:ledger_journalentry_add")).status_code == 403
    assert client.post(change_url, {"memo": "Changed"}).status_code == 403
    delete_url = reverse("admin:ledger_journalentry_delete", args=[entry.pk])
    assert client.get(delete_url).status_code == 403
    entry.refresh_from_db()
    assert entry.memo == "Receipts"


@pytest.mark.parametrize("model", [AuthEvent, Job, JournalEntry])
def test_logs_and_postings_cannot_be_added_or_changed(rf, admin, model):
    request = _admin_request(rf, admin)
    model_admin = django_admin.site._registry[model]
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)


def test_admin_edits_tender_types_but_cannot_delete_them(client_for, rf, admin, chart):
    model_admin = django_admin.site._registry[TenderType]
    assert not model_admin.has_delete_permission(_admin_request(rf, admin))
    tender = TenderType.objects.get(code="CHECK")
    client = client_for(admin)
    changelist = client.get(reverse("admin:cashiering_tendertype_changelist"))
    assert changelist.status_code == 200
    assert "Check" in changelist.content.decode()
    change = client.get(reverse("admin:cashiering_tendertype_change", args=[tender.pk]))
    assert change.status_code == 200 and b"deletelink" not in change.content


def test_non_staff_cannot_open_the_admin(client_for, supervisor):
    response = client_for(supervisor).get(reverse("admin:ledger_glaccount_changelist"))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
