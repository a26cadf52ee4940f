"""The training course: each exercise's check fails before the work and passes once it is
done through the real services in a training session; live work never counts; a
completion is written once and is append-only; who sees whose progress; the user guide
per role and the help link."""

from decimal import Decimal

import pytest
from django.db import DatabaseError, transaction
from django.urls import reverse

from audit import training
from audit.models import TrainingAttempt, TrainingCompletion
from cashiering.models import CorrectionRequest
from cashiering.services.closing import session_blind_close
from cashiering.services.corrections import correction_approve, correction_request
from cashiering.services.receipt_inputs import LineInput
from licensing.models import LicenseInvoice, LicenseType
from licensing.renewals import renewal_invoice_create
from tests.cashiering.factories import counter_setup, make_account, open_session, post, utility
from tests.licensing.factories import defaults, make_business, make_license

D = Decimal


@pytest.fixture
def counter(db):
    return counter_setup()


def start(user, exercise):
    return training.training_start(user=user, exercise=exercise)


def check(user, exercise):
    return training.training_check(user=user, exercise=exercise)


def cash_receipt(session, *, owed="37.50", cash="40.00", user=None):
    account = make_account(number=f"1044{session.pk:02d}-01", balance="120.00")
    return post(session, [utility(account.number, owed)], [counter_setup().cash(cash)], user=user)


# ---- cash payment with change ---------------------------------------------------------


def test_cash_payment_check_fails_before_and_passes_after_a_training_payment(counter, cashier):
    attempt = start(cashier, training.CASH_PAYMENT)
    result = check(cashier, training.CASH_PAYMENT)
    assert not result.passed and "Not done yet" in result.message
    session = open_session(cashier, training=True)
    receipt = cash_receipt(session)
    assert receipt.is_training and receipt.journal_entry is None
    result = check(cashier, training.CASH_PAYMENT)
    assert result.passed
    completion = TrainingCompletion.objects.get(user=cashier)
    assert completion.attempt == attempt and completion.exercise == "cash-payment"
    assert completion.evidence == (
        f"Training receipt {receipt}: total $37.50, tendered $40.00 with cash, change given $2.50."
    )


def test_live_payments_and_exact_cash_do_not_count(counter, cashier):
    start(cashier, training.CASH_PAYMENT)
    live = open_session(cashier, "D1")
    cash_receipt(live)  # live, with change: not training
    assert not check(cashier, training.CASH_PAYMENT).passed
    from cashiering.services.sessions import session_close

    session_close(session=live, user=cashier)
    session = open_session(cashier, "D2", training=True)
    cash_receipt(session, owed="40.00", cash="40.00")  # training, but no change given
    assert not check(cashier, training.CASH_PAYMENT).passed
    assert not TrainingCompletion.objects.exists()


def test_someone_elses_training_payment_does_not_count(counter, cashier, cashier_b):
    start(cashier, training.CASH_PAYMENT)
    cash_receipt(open_session(cashier_b, "D2", training=True))
    assert not check(cashier, training.CASH_PAYMENT).passed


def test_checking_without_starting_says_to_start(counter, cashier):
    cash_receipt(open_session(cashier, training=True))
    result = check(cashier, training.CASH_PAYMENT)
    assert not result.passed and result.message.startswith("Start the exercise first")


# ---- void with approval ---------------------------------------------------------------


def test_void_check_needs_the_supervisors_approval(counter, cashier, supervisor):
    start(cashier, training.VOID_WITH_APPROVAL)
    session = open_session(cashier, training=True)
    receipt = cash_receipt(session)
    assert not check(cashier, training.VOID_WITH_APPROVAL).passed
    request = correction_request(
        receipt=receipt, kind=CorrectionRequest.Kind.VOID, reason="Wrong account", user=cashier
    )
    assert not check(cashier, training.VOID_WITH_APPROVAL).passed  # requested, not approved
    start(supervisor, training.APPROVE_VOID)
    assert not check(supervisor, training.APPROVE_VOID).passed
    correction_approve(correction=request, user=supervisor)
    result = check(cashier, training.VOID_WITH_APPROVAL)
    assert result.passed
    assert result.completion.evidence == (
        f"Training receipt {receipt} voided: requested for “Wrong account”, approved by supervisor."
    )
    result = check(supervisor, training.APPROVE_VOID)
    assert result.passed
    assert result.completion.evidence == (
        f"Approved the void of training receipt {receipt}, requested by cashier."
    )


# ---- blind close ----------------------------------------------------------------------


def test_blind_close_check_passes_after_counting_a_training_drawer(counter, cashier):
    start(cashier, training.BLIND_CLOSE)
    session = open_session(cashier, training=True)
    cash_receipt(session)
    assert not check(cashier, training.BLIND_CLOSE).passed
    count = session_blind_close(
        session=session,
        cash_count={"20.00": 6, "10.00": 1, "5.00": 8, "1.00": 17, "0.25": 42},
        checks=[],
        card_settlement="0",
        user=cashier,
    )
    assert count.session.is_training and count.over_short_entry is None
    assert count.over_short == D("0.00")  # $160.00 float + $37.50 cash taken, counted
    result = check(cashier, training.BLIND_CLOSE)
    assert result.passed
    assert result.completion.evidence == (
        f"Training session on drawer D1 blind-closed: over/short ${count.over_short:,.2f} "
        f"({count.get_status_display().lower()})."
    )


# ---- license renewal payment ----------------------------------------------------------


@pytest.fixture
def renewal(counter, technician):
    if not LicenseType.objects.exists():
        defaults()
    license = make_license(make_business(), year=2026)
    return renewal_invoice_create(license=license, year=2027, user=technician)


def test_renewal_check_passes_after_a_training_payment_that_renews_nothing(renewal, cashier):
    start(cashier, training.RENEW_LICENSE)
    session = open_session(cashier, training=True)
    cash_receipt(session)  # a training payment, but not of a renewal invoice
    assert not check(cashier, training.RENEW_LICENSE).passed
    receipt = post(
        session,
        [LineInput(kind="license", ref=renewal.number, amount=renewal.total)],
        [counter_setup().cash("220.00")],
    )
    renewal.refresh_from_db()
    assert renewal.status == LicenseInvoice.Status.OPEN  # training pays nothing
    result = check(cashier, training.RENEW_LICENSE)
    assert result.passed
    first = receipt.lines.order_by("line_no").first()
    assert result.completion.evidence == (
        f"Training receipt {receipt} paid ${first.amount:,.2f} on renewal invoice "
        f"{renewal.number} ({first.description})."
    )


# ---- completions ----------------------------------------------------------------------


def test_a_completion_is_written_once_and_never_changed(counter, cashier):
    start(cashier, training.CASH_PAYMENT)
    cash_receipt(open_session(cashier, training=True))
    first = check(cashier, training.CASH_PAYMENT)
    start(cashier, training.CASH_PAYMENT)  # starting again after completing
    again = check(cashier, training.CASH_PAYMENT)
    assert again.passed and again.message.startswith("Already completed")
    assert TrainingCompletion.objects.filter(user=cashier).count() == 1
    assert again.completion == first.completion
    assert TrainingAttempt.objects.filter(user=cashier).count() == 2
    with pytest.raises(DatabaseError), transaction.atomic():
        TrainingCompletion.objects.filter(pk=first.completion.pk).update(evidence="edited")
    with pytest.raises(DatabaseError), transaction.atomic():
        TrainingCompletion.objects.filter(pk=first.completion.pk).delete()


def test_unchecked_exercises_cannot_be_started(cashier):
    assert not training.BUILD_DEPOSIT.is_checked and training.BUILD_DEPOSIT.not_checked
    with pytest.raises(training.TrainingError):
        start(cashier, training.RETURNED_CHECK)


def test_each_role_has_its_course(cashier, technician, supervisor, admin):
    assert [c.role for c in training.courses_for(cashier)] == ["cashier"]
    assert [e.code for e in training.courses_for(technician)[0].checked] == [
        "cash-payment",
        "blind-close",
        "renew-license",
    ]
    assert [e.code for e in training.courses_for(supervisor)[0].checked] == ["approve-void"]
    assert training.courses_for(admin) == []


# ---- pages ----------------------------------------------------------------------------


def test_start_and_check_my_work_through_the_pages(client_for, counter, cashier):
    client = client_for(cashier)
    page = client.get(reverse("audit:training-exercise", args=["cash-payment"]))
    assert "Start exercise" in page.content.decode()
    client.post(reverse("audit:training-start", args=["cash-payment"]))
    response = client.post(reverse("audit:training-check", args=["cash-payment"]), follow=True)
    assert "Not done yet" in response.content.decode()
    receipt = cash_receipt(open_session(cashier, training=True))
    response = client.post(reverse("audit:training-check", args=["cash-payment"]), follow=True)
    text = response.content.decode()
    assert "Completed" in text and f"Training receipt {receipt}" in text
    assert "Check my work" not in text


def test_an_exercise_outside_the_course_is_not_found(client_for, cashier):
    client = client_for(cashier)
    assert client.get(reverse("audit:training-exercise", args=["approve-void"])).status_code == 404
    assert client.post(reverse("audit:training-start", args=["approve-void"])).status_code == 404


def test_supervisor_sees_each_staff_members_progress(
    client_for, counter, cashier, cashier_b, technician, supervisor, django_assert_max_num_queries
):
    start(cashier, training.CASH_PAYMENT)
    receipt = cash_receipt(open_session(cashier, training=True))
    check(cashier, training.CASH_PAYMENT)
    client = client_for(supervisor)
    with django_assert_max_num_queries(8):
        page = client.get(reverse("audit:training-staff"))
    rows = {(r.user.username, r.course.role): (r.completed, r.total) for r in page.context["rows"]}
    assert rows == {
        ("cashier", "cashier"): (1, 4),
        ("cashier_b", "cashier"): (0, 4),
        ("supervisor", "supervisor"): (0, 1),
        ("technician", "technician"): (0, 3),
    }
    assert "1 of 4" in page.content.decode()
    detail = client.get(reverse("audit:training-staff-detail", args=[cashier.pk]))
    text = detail.content.decode()
    assert f"Training receipt {receipt}: total $37.50" in text
    assert "Completed" in text


def test_cashiers_see_only_their_own_progress(client_for, counter, cashier, cashier_b):
    start(cashier_b, training.CASH_PAYMENT)
    receipt = cash_receipt(open_session(cashier_b, "D2", training=True))
    check(cashier_b, training.CASH_PAYMENT)
    client = client_for(cashier)
    page = client.get(reverse("audit:training"))
    assert f"Training receipt {receipt}" not in page.content.decode()
    assert [p.completion for _, progress in page.context["courses"] for p in progress] == [None] * 4
    assert client.get(reverse("audit:training-staff")).status_code == 403
    url = reverse("audit:training-staff-detail", args=[cashier_b.pk])
    assert client.get(url).status_code == 403


# ---- the user guide -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "heading", "phrase"),
    [
        ("cashier", "Cashier", "Start of day."),
        ("technician", "Accounting technician", "Daily balancing"),
        ("supervisor", "Supervisor", "Voids and reversals"),
        ("administrator", "Administrator", "Clear sign-in lockout"),
    ],
)
def test_the_guide_renders_each_roles_section(client_for, cashier, role, heading, phrase):
    page = client_for(cashier).get(reverse("audit:help-role", args=[role]))
    text = page.content.decode()
    assert [s.title for s in page.context["sections"]] == [heading, "Training course"]
    assert f'<section id="{page.context["sections"][0].slug}"' in text
    assert phrase in text
    assert "<strong>" in text  # the Markdown is rendered, not shown raw
    others = set(training_headings()) - {heading}
    assert not any(f">{title}</h2>" in text for title in others)


def training_headings():
    return ["Cashier", "Accounting technician", "Supervisor", "Administrator"]


def test_help_opens_the_guide_at_the_users_role_or_the_pages_section(
    client_for, technician, supervisor
):
    client = client_for(technician)
    response = client.get(reverse("audit:help"), {"page": "/cashiering/balancing/"})
    assert response.url == "/audit/help/technician/#accounting-technician"
    response = client.get(reverse("audit:help"), {"page": "/audit/training/blind-close/"})
    assert response.url == "/audit/help/technician/#training-course"
    response = client_for(supervisor).get(reverse("audit:help"), {"page": "https://x.test/"})
    assert response.url == "/audit/help/supervisor/#supervisor"


def test_every_page_has_the_help_link(client_for, cashier):
    page = client_for(cashier).get(reverse("home"))
    assert '<a class="nav-link" href="/audit/help/?page=/">Help</a>' in page.content.decode()


def test_the_guide_shows_html_in_it_as_text(tmp_path, monkeypatch):
    from audit import guide

    source = tmp_path / "guide.md"
    source.write_text("# User guide\n\n## Cashier\n\n<script>alert(1)</script> **bold**\n")
    monkeypatch.setattr(guide, "guide_path", lambda: source)
    section = guide.guide_load().sections["Cashier"]
    assert "<script>" not in section.html and "&lt;script&gt;" in section.html
    assert "<strong>bold</strong>" in section.html


def test_training_pages_answer_in_a_constant_number_of_queries(
    client_for, counter, cashier, supervisor, django_assert_max_num_queries
):
    from kent_cs.roles import Role
    from tests.factories import make_user

    for number in range(6):
        staff = make_user(f"trainee{number}", Role.CASHIER)
        start(staff, training.CASH_PAYMENT)
    start(cashier, training.CASH_PAYMENT)
    cash_receipt(open_session(cashier, training=True))
    check(cashier, training.CASH_PAYMENT)
    client = client_for(supervisor)
    with django_assert_max_num_queries(8):
        page = client.get(reverse("audit:training-staff"))
    assert len(page.context["rows"]) == 8  # 7 cashiers and the supervisor
    with django_assert_max_num_queries(6):
        client.get(reverse("audit:training-staff-detail", args=[cashier.pk]))
    client = client_for(cashier)
    client.get(reverse("home"))  # the first request after signing in saves the session
    with django_assert_max_num_queries(5):
        page = client.get(reverse("audit:training"))
    assert "1 of" not in page.content.decode()  # the staff page's wording, not here
    with django_assert_max_num_queries(7):
        client.get(reverse("audit:training-exercise", args=["cash-payment"]))


def test_the_exercises_link_opens_a_drawer_with_training_ticked(client_for, counter, cashier):
    client = client_for(cashier)
    ticked = client.get(reverse("cashiering:session-open"), {"training": "1"})
    assert ticked.context["form"]["is_training"].value() is True
    plain = client.get(reverse("cashiering:session-open"))
    assert plain.context["form"]["is_training"].value() is False
    page = client.get(reverse("audit:training-exercise", args=["cash-payment"]))
    assert 'href="/counter/sessions/open/?training=1">Open a training drawer</a>' in (
        page.content.decode()
    )


@pytest.mark.django_db(transaction=True)
def test_work_done_before_starting_does_not_count(cashier):
    """Committed in requests of their own, as at the counter: a training payment taken
    before the exercise started is not this exercise's work; one taken after it is."""
    counter_setup()
    session = open_session(cashier, training=True)
    account = make_account(balance="300.00")
    before = post(session, [utility(account.number, "37.50")], [counter_setup().cash("40.00")])
    start(cashier, training.CASH_PAYMENT)
    assert not check(cashier, training.CASH_PAYMENT).passed
    after = post(session, [utility(account.number, "12.00")], [counter_setup().cash("20.00")])
    result = check(cashier, training.CASH_PAYMENT)
    assert result.passed and before.posted_at < result.completion.attempt.started_at
    assert result.completion.evidence.startswith(f"Training receipt {after}: total $12.00")


def test_walk_throughs_say_why_they_are_not_checked(client_for, technician):
    client = client_for(technician)
    text = client.get(reverse("audit:training-exercise", args=["build-deposit"])).content.decode()
    assert "Not checked by the system." in text and "training sessions are never deposited" in text
    assert "Start exercise" not in text and "Check my work" not in text
    response = client.post(reverse("audit:training-check", args=["returned-check"]), follow=True)
    assert "is not checked by the system" in response.content.decode()
    assert not TrainingCompletion.objects.exists()
    course = client.get(reverse("audit:training")).content.decode()
    assert course.count("Walk-through, not checked") == 2
