"""The counter in a real browser: a cashier's day from opening the drawer to a voided
receipt, the keystrokes a payment takes, and the cashier's pages checked by axe-core and
the Content Security Policy."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from cashiering.models import (
    ARInvoice,
    CashierSession,
    CorrectionRequest,
    Receipt,
    UtilityAccount,
)
from cashiering.payables import invoice_index_rows, utility_index_rows
from cashiering.targets import index_bulk_upsert
from tests.cashiering.factories import (
    FLOAT,
    entry_lines,
    make_account,
    make_invoice,
    open_session,
    unbalanced_entries,
)
from tests.e2e.helpers import (
    axe_violations,
    axe_violations_in_place,
    describe_violations,
    open_menu,
    sign_in,
    watch_csp,
)

D = Decimal
ACCOUNT = "104455-01"  # Maria Lopez, 120.00 owed
INVOICE = "INV-24001"  # Valley Auto Body, 250.00 due
MAX_KEYSTROKES = 6  # the promise for a full-balance cash payment
# window.print opens a dialog a headless browser cannot close: count the calls instead.
STUB_PRINT = "window.print = () => { window.printCalls = (window.printCalls || 0) + 1; };"


@pytest.fixture
def payables(chart):
    """A utility account and an AR invoice, findable by the counter's search. The chart
    fixture seeds tender types, drawers D1-D4 and the counter fees."""
    account = make_account(ACCOUNT, balance="120.00", name="Maria Lopez")
    invoice = make_invoice(INVOICE, amount="250.00")
    index_bulk_upsert(utility_index_rows([account]))
    index_bulk_upsert(invoice_index_rows([invoice]))
    return account, invoice


def _accept_confirmations(page: Page) -> None:
    """Forms with data-confirm ask window.confirm first; the person says yes."""
    page.on("dialog", lambda dialog: dialog.accept())


def _search(page: Page, text: str) -> None:
    """Type into the receipt's search box as a person would, one key at a time."""
    box = page.get_by_role("combobox", name="Find an account, invoice or fee")
    box.focus()
    box.press_sequentially(text)


def test_cashier_takes_a_split_payment_and_a_supervisor_voids_it(
    live_server, browser, context, page, cashier, supervisor, payables
):
    csp = watch_csp(page)
    context.add_init_script(STUB_PRINT)
    _accept_confirmations(page)
    sign_in(page, live_server, "cashier")

    # Open the drawer: counted by denomination through the form.
    page.goto(f"{live_server.url}/counter/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Open a drawer")
    page.get_by_label(re.compile(r"\bDrawer\b")).select_option(label="D1 Window 1")
    for label, pieces in (("$20 bills", 5), ("$5 bills", 8), ("$1 bills", 10), ("Quarters", 40)):
        page.get_by_label(label, exact=True).fill(str(pieces))
    expect(page.locator("[data-count-total]")).to_have_text("160.00")
    page.get_by_role("button", name="Open drawer").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "Drawer D1 open (session) with a float of 160.00"
    )
    expect(page.get_by_role("heading", level=1)).to_have_text("New receipt")

    # Find both items by part of a name; Enter adds the highlighted result.
    _search(page, "lope")
    expect(page.get_by_role("option").first).to_contain_text(ACCOUNT)
    page.keyboard.press("Enter")
    lines = page.locator("#receipt-lines [data-line]")
    expect(lines).to_have_count(1)
    _search(page, "valley")
    expect(page.get_by_role("option").first).to_contain_text(INVOICE)
    page.keyboard.press("Enter")
    expect(lines).to_have_count(2)
    expect(page.get_by_label("Payer name")).to_have_value("Maria Lopez")
    expect(page.get_by_label(f"Amount paid on {ACCOUNT}")).to_have_value("120.00")
    expect(page.get_by_label(f"Amount paid on {INVOICE}")).to_have_value("250.00")
    expect(page.locator("[data-total-due]")).to_have_text("370.00")

    # One split payment: 100.00 in cash and a 300.00 check, 30.00 change.
    tenders = page.locator("[data-tender]")
    tenders.nth(0).get_by_label("Amount tendered").fill("100.00")
    page.get_by_role("button", name="Add another tender").click()
    check = tenders.nth(1)
    check.get_by_label("Paid by").select_option(label="Check")
    check.get_by_label("Amount tendered").fill("300.00")
    check.get_by_label("Check number").fill("1042")
    check.get_by_label("Name on the check").fill("Dana Whitfield")
    expect(page.locator("[data-tendered]")).to_have_text("400.00")
    expect(page.locator("[data-change]")).to_have_text("30.00")
    expect(page.locator("[data-tender-warning]")).to_have_text("")
    page.get_by_role("button", name="Post payment").click()

    # The thermal print view: both items, both tenders, the change.
    receipt = page.locator("article.thermal-receipt")
    expect(receipt).to_be_visible()
    posted = Receipt.objects.get()
    expect(page).to_have_url(f"{live_server.url}/counter/receipts/{posted.pk}/print/")
    expect(receipt.locator(".receipt-number")).to_have_text(str(posted))
    expect(receipt.get_by_role("row", name=f"Utility account {ACCOUNT}")).to_contain_text("120.00")
    expect(receipt.get_by_role("row", name=f"Invoice {INVOICE}")).to_contain_text("250.00")
    expect(receipt.get_by_role("row", name="TOTAL")).to_contain_text("370.00")
    expect(receipt.get_by_role("row", name=re.compile(r"^Cash\b"))).to_contain_text("100.00")
    check_row = receipt.get_by_role("row", name=re.compile(r"^Check"))
    expect(check_row).to_contain_text("Check #1042 (Dana Whitfield)")
    expect(check_row).to_contain_text("300.00")
    expect(receipt.get_by_role("row", name="Change")).to_contain_text("30.00")
    assert page.locator("link[href$='css/receipt-thermal.css']").count() == 1
    page.get_by_role("button", name="Print receipt").click()
    assert page.evaluate("() => window.printCalls") == 1
    page.emulate_media(media="print")  # what the printer gets: the receipt, no buttons
    expect(page.get_by_role("button", name="Print receipt")).to_be_hidden()
    expect(page.locator("nav[aria-label='Main']")).to_be_hidden()
    expect(receipt).to_be_visible()
    page.emulate_media(media="screen")

    # The cashier asks for a void from the receipt's page.
    page.get_by_role("link", name="Receipt details").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Receipt {posted}")
    page.get_by_label("Reason").fill("Keyed the wrong account")
    page.get_by_role("button", name="Request void").click()
    expect(page.get_by_role("alert")).to_contain_text(f"Void of receipt {posted} requested")
    correction = CorrectionRequest.objects.get()
    assert (correction.status, correction.requested_by) == ("pending", cashier)

    # A supervisor, in a browser of their own, approves it.
    supervisor_context = browser.new_context()
    try:
        office = supervisor_context.new_page()
        office_csp = watch_csp(office)
        _accept_confirmations(office)
        sign_in(office, live_server, "supervisor")
        open_menu(office, "Counter").get_by_role("link", name="Voids and reversals").click()
        expect(office.get_by_role("heading", level=1)).to_have_text("Voids and reversals")
        waiting = office.locator(f"#correction-{correction.pk}")
        expect(waiting).to_contain_text("Keyed the wrong account")
        expect(waiting).to_contain_text("370.00")
        waiting.get_by_role("button", name="Approve void").click()
        expect(office.get_by_role("alert")).to_contain_text(
            f"Void of receipt {posted} approved: the receipt is VOID and its entry reversed."
        )
        expect(office.get_by_role("heading", name="Waiting for approval")).to_contain_text("0")
        assert office_csp == []
    finally:
        supervisor_context.close()

    # Account inquiry: the payment shows as VOID and the balances are back.
    open_menu(page, "Counter").get_by_role("link", name="Account inquiry").click()
    page.get_by_label("Account, invoice, name or address").fill("Lopez")
    page.get_by_role("button", name="Search payers").click()
    page.get_by_role("link", name=ACCOUNT).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Utility account {ACCOUNT}")
    expect(page.locator("#amount-due")).to_have_text("120.00")
    payment = page.get_by_role("row", name=re.compile(str(posted)))
    expect(payment).to_contain_text("VOID")
    expect(payment).to_contain_text("120.00")
    expect(page.locator("#total-paid")).to_have_text("0.00")

    page.goto(f"{live_server.url}/counter/inquiry/invoice/{INVOICE}/")
    expect(page.locator("#amount-due")).to_have_text("250.00")
    payment = page.get_by_role("row", name=re.compile(str(posted)))
    expect(payment).to_contain_text("VOID")
    expect(payment).to_contain_text("250.00")
    assert csp == []

    # The books: the session as counted, the receipt void, its entry reversed line by line.
    session = CashierSession.objects.get()
    assert (session.cashier, session.drawer.code, session.opening_float) == (
        cashier,
        "D1",
        D("160.00"),
    )
    assert session.opening_count == FLOAT
    posted.refresh_from_db()
    assert posted.status == Receipt.Status.VOIDED
    assert posted.voided_at is not None
    assert (posted.total, posted.tendered, posted.change_given) == (
        D("370.00"),
        D("400.00"),
        D("30.00"),
    )
    assert [
        (t.tender_type.code, t.amount, t.check_number, t.check_payer)
        for t in posted.tenders.order_by("line_no")
    ] == [("CASH", D("100.00"), "", ""), ("CHECK", D("300.00"), "1042", "Dana Whitfield")]
    assert sorted(posted.lines.values_list("target_kind", "target_ref", "amount")) == [
        ("invoice", INVOICE, D("250.00")),
        ("utility", ACCOUNT, D("120.00")),
    ]
    paid = entry_lines(posted.journal_entry)
    assert paid == {
        "001.101.30": D("370.00"),  # 400 tendered less 30 change
        "401.122.10": D("-120.00"),
        "001.121.10": D("-250.00"),
    }
    assert entry_lines(posted.void_entry) == {code: -amount for code, amount in paid.items()}
    assert unbalanced_entries() == []
    assert UtilityAccount.objects.get(number=ACCOUNT).balance == D("120.00")
    assert ARInvoice.objects.get(number=INVOICE).amount_due == D("250.00")
    correction.refresh_from_db()
    assert (correction.status, correction.decided_by) == ("approved", supervisor)


def test_full_balance_in_cash_takes_two_keystrokes_after_the_search(
    live_server, page, cashier, payables
):
    session = open_session(cashier)
    sign_in(page, live_server, "cashier")
    page.goto(f"{live_server.url}/counter/")
    search = page.get_by_role("combobox", name="Find an account, invoice or fee")
    expect(search).to_be_focused()  # the page starts in the search box

    search.press_sequentially("lopez")
    keystrokes = 0

    def press(key: str) -> None:
        nonlocal keystrokes
        keystrokes += 1
        page.keyboard.press(key)

    # Enter at once, before the answer may have come: the first result is added when it
    # does, the full balance filled in as cash, and the cursor waits in its amount.
    press("Enter")
    amount = page.get_by_label("Amount tendered")
    expect(amount).to_be_focused()
    expect(amount).to_have_value("120.00")
    expect(page.get_by_label("Paid by")).to_have_value("CASH")
    press("Enter")

    expect(page.locator("article.thermal-receipt")).to_contain_text(f"Utility account {ACCOUNT}")
    assert keystrokes == 2
    assert keystrokes <= MAX_KEYSTROKES
    receipt = Receipt.objects.get()
    expect(page).to_have_url(f"{live_server.url}/counter/receipts/{receipt.pk}/print/")
    assert (receipt.session, receipt.status, receipt.total, receipt.change_given) == (
        session,
        Receipt.Status.POSTED,
        D("120.00"),
        D("0.00"),
    )
    assert receipt.payer_name == "Maria Lopez"
    assert [(t.tender_type.code, t.amount) for t in receipt.tenders.all()] == [
        ("CASH", D("120.00"))
    ]
    assert UtilityAccount.objects.get(number=ACCOUNT).balance == D("0.00")


def test_cashier_pages_pass_axe_and_the_content_security_policy(
    live_server, browser, page, cashier, supervisor, payables
):
    """Every page of a cashier's day, in the states a cashier sees them (results listed,
    a warning, a refused post, a voided receipt), checked by axe-core (WCAG 2.1 A and AA)
    and watched for Content Security Policy violations. Every page is checked before the
    test fails, so one run lists every problem."""
    csp = watch_csp(page)
    _accept_confirmations(page)
    found: dict[str, list[dict]] = {}

    def audit(name: str, on: Page = page, *, in_place: bool = False) -> None:
        """in_place audits the DOM as it stands (typed-in state, a POST's answer);
        otherwise the URL is loaded afresh in a CSP-bypassing context."""
        on.wait_for_load_state("load")
        violations = axe_violations_in_place(on) if in_place else axe_violations(on)
        if violations:
            found[name] = violations

    sign_in(page, live_server, "cashier")
    page.goto(f"{live_server.url}/counter/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Open a drawer")
    audit("open-session form")
    page.get_by_label("$20 bills", exact=True).fill("5")
    page.get_by_role("button", name="Open drawer").click()
    session = CashierSession.objects.get()

    expect(page.get_by_role("heading", level=1)).to_have_text("New receipt")
    audit("receipt entry, empty")
    _search(page, "lope")
    expect(page.get_by_role("option").first).to_contain_text(ACCOUNT)
    audit("receipt entry, search results listed", in_place=True)
    page.keyboard.press("Enter")
    tenders = page.locator("[data-tender]")
    expect(tenders.get_by_label("Amount tendered")).to_have_value("120.00")
    tenders.nth(0).get_by_label("Amount tendered").fill("50.00")
    page.get_by_role("button", name="Add another tender").click()
    tenders.nth(1).get_by_label("Paid by").select_option(label="Check")
    tenders.nth(1).get_by_label("Amount tendered").fill("")
    expect(page.locator("[data-tender-warning]")).to_contain_text("Short by 70.00")
    audit("receipt entry, item added, a check tender, short warning", in_place=True)
    page.get_by_role("button", name="Post payment").click()  # short, and no check number
    expect(page.get_by_role("alert").first).to_contain_text("Nothing was posted")
    audit("receipt entry, refused post with its errors", in_place=True)
    tenders.nth(1).get_by_role("button", name="Remove").click()
    tenders.nth(0).get_by_label("Amount tendered").fill("150.00")
    page.get_by_role("button", name="Post payment").click()

    expect(page.locator("article.thermal-receipt")).to_be_visible()
    receipt = Receipt.objects.get()
    audit("print view")
    page.get_by_role("link", name="Receipt details").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Receipt {receipt}")
    audit("receipt detail")
    page.goto(f"{live_server.url}{session.get_absolute_url()}")
    audit("drawer session")
    page.goto(f"{live_server.url}/counter/inquiry/?q=lopez")
    expect(page.get_by_role("link", name=ACCOUNT)).to_be_visible()
    audit("account inquiry search")
    page.goto(f"{live_server.url}/counter/inquiry/utility/{ACCOUNT}/")
    audit("account inquiry")
    page.goto(f"{live_server.url}/counter/lookup/?q=valley")
    expect(page.get_by_role("link", name="Take a payment")).to_be_visible()
    audit("lookup page")

    page.goto(f"{live_server.url}{receipt.get_absolute_url()}")
    page.get_by_label("Reason").fill("Customer paid twice")
    page.get_by_role("button", name="Request void").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Voids and reversals")
    audit("corrections list, a request waiting")

    # The supervisor's queue, with its approve and reject forms.
    supervisor_context = browser.new_context()
    try:
        office = supervisor_context.new_page()
        office_csp = watch_csp(office)
        _accept_confirmations(office)
        sign_in(office, live_server, "supervisor")
        office.goto(f"{live_server.url}/counter/corrections/")
        expect(office.get_by_role("button", name="Approve void")).to_be_visible()
        audit("corrections queue, as the supervisor", office)
        office.get_by_role("button", name="Approve void").click()
        expect(office.get_by_role("alert")).to_contain_text("approved")
        assert office_csp == []
    finally:
        supervisor_context.close()

    # The same pages once the receipt is void.
    page.goto(f"{live_server.url}/counter/corrections/")
    audit("corrections list, decided")
    page.goto(f"{live_server.url}{receipt.get_absolute_url()}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("VOID")
    audit("receipt detail, void")
    page.goto(f"{live_server.url}/counter/inquiry/utility/{ACCOUNT}/")
    audit("account inquiry, payment void")
    page.goto(f"{live_server.url}{session.get_absolute_url()}")
    audit("drawer session, a receipt void")

    assert found == {}, "\n".join(f"{name}: {describe_violations(v)}" for name, v in found.items())
    assert csp == []
