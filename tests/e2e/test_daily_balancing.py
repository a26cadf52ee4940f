"""The accounting day in a real browser, in 1280 x 800 windows: a cashier opens a drawer,
takes a payment in cash with change and one split between a check and a card, and has a
third voided by a supervisor; the cashier blind-closes the drawer, which is short; the
supervisor approves the over/short; the technician balances the day, builds the deposit
and prints its slip; a bank file is imported and matched; the supervisor closes the day,
every clearing account is back at zero, and the counter refuses a drawer for the day
afterwards. Every back-office page visited is
checked by axe-core (WCAG 2.1 A and AA) and watched for Content Security Policy
violations; every page is checked before the test fails, so one run lists every problem.
"""

import re
from datetime import date, timedelta
from decimal import Decimal

from playwright.sync_api import Page, expect

from cashiering.models import (
    BusinessDay,
    CashierSession,
    CorrectionRequest,
    Deposit,
    Receipt,
    SessionCount,
)
from cashiering.payables import fee_index_rows, invoice_index_rows, utility_index_rows
from cashiering.services.closing import CheckInput, session_blind_close
from cashiering.targets import index_bulk_upsert
from ledger.models import BankAccount, BankMatch, BankTransaction
from tests.cashiering.factories import (
    CARD_CLEARING,
    UNDEPOSITED,
    Counter,
    counter_setup,
    fee,
    gl_balance,
    make_account,
    make_invoice,
    open_session,
    post,
    unbalanced_entries,
)
from tests.e2e.helpers import (
    DEFAULT_TIMEOUT_MS,
    axe_violations,
    axe_violations_in_place,
    describe_violations,
    open_menu,
    sign_in,
    watch_csp,
)
from tests.factories import PASSWORD, TODAY

D = Decimal
DAY = TODAY.isoformat()  # 2026-03-16, a Monday in an open period
BANK_DAY = TODAY + timedelta(days=1)  # the bank credits the deposit the next day
WINDOW = {"width": 1280, "height": 800}

# Drawer D1 (Casey), in the browser: float 160.00; utility 120.00 paid with 150.00 cash
# (30.00 change); a pet license and an invoice of 250.00 on one receipt, paid by check
# #1042 (30.00) and by card (250.00); a pet license in cash, voided. Expected cash 280.00.
# Casey counts 272.00: short 8.00, above the 5.00 threshold.
SHORT_COUNT = {"$20 bills": 13, "$5 bills": 2, "$1 bills": 2}  # 272.00
# Drawer D2 (Jordan): float 160.00; two pet licenses in cash (60.00) and one by check
# #5001 (30.00), counted exactly through the service.
# The deposit: cash (272 - 160) + (220 - 160) = 172.00, checks 60.00, total 232.00.
DEPOSIT_CURRENCY = {"$100 bills": 1, "$20 bills": 3, "$5 bills": 2, "$1 bills": 2}  # 172.00


def _bai2(*, account_number: str, as_of: date, amount: Decimal, reference: str) -> bytes:
    """A bank's BAI2 file of one account on `as_of`: the deposit credited (type 301), its
    summaries and the 49/98/99 control totals (cents, opening + closing + every amount)."""
    cents = int(amount * 100)
    opening = 1_500_000_00
    closing = opening + cents
    account = [
        f"03,{account_number},USD,010,{opening},,,015,{closing},,/",
        f"88,100,{cents},1,,400,0,0,/",
        f"16,301,{cents},0,BK7730041,{reference},COUNTER DEPOSIT/",
    ]
    total = opening + closing + cents + 0 + cents
    records = len(account) + 1
    lines = [
        f"01,KENTBANK,CITYKENT,{as_of + timedelta(days=1):%y%m%d},0600,STMT0317,80,,2/",
        f"02,CITYKENT,KENTBANK,1,{as_of:%y%m%d},2400,USD,2/",
        *account,
        f"49,{total},{records}/",
        f"98,{total},1,{records + 2}/",
        f"99,{total},1,{records + 4}/",
    ]
    return ("\n".join(lines) + "\n").encode("ascii")


def _payables_and_second_drawer(counter: Counter, cashier_b):
    """The account and invoice Casey's drawer takes payments on, findable by the counter's
    search with the counter fees; Jordan's drawer D2, counted exactly."""
    account = make_account("104455-01", balance="120.00", name="Maria Lopez")
    bill = make_invoice("INV-24001", amount="250.00")
    index_bulk_upsert(utility_index_rows([account]))
    index_bulk_upsert(invoice_index_rows([bill]))
    index_bulk_upsert(fee_index_rows())
    second = open_session(cashier_b, "D2")
    post(second, [fee("PET", quantity=2)], [counter.cash("60.00")], payer="Ana Ruiz")
    post(
        second,
        [fee("PET")],
        [counter.check("30.00", number="5001", payer="Ana Ruiz")],
        payer="Ana Ruiz",
    )
    count = session_blind_close(
        session=second,
        cash_count={"100.00": 2, "20.00": 1},  # 220.00 = 160.00 float + 60.00
        checks=[CheckInput("5001", D("30.00"))],
        card_settlement=D("0.00"),
        user=cashier_b,
    )
    assert count.status == SessionCount.Status.BALANCED
    return second


def _add(tab: Page, search: str, number: str) -> None:
    """Find an item by what the cashier types and add the highlighted result."""
    box = tab.get_by_role("combobox", name="Find an account, invoice or fee")
    box.fill("")
    box.press_sequentially(search)
    expect(tab.get_by_role("option").first).to_contain_text(number)
    tab.keyboard.press("Enter")
    expect(tab.locator(f"#receipt-lines [data-ref='{number}']")).to_have_count(1)


def _take_payments(desk: Page, live_server) -> None:
    """Casey opens drawer D1 for the test's business day (an earlier date than the
    clock's, so a supervisor signs for it at the form) and takes its three payments."""
    desk.goto(f"{live_server.url}/counter/")
    expect(desk.get_by_role("heading", level=1)).to_have_text("Open a drawer")
    desk.get_by_label(re.compile(r"\bDrawer\b")).select_option(label="D1 Window 1")
    desk.get_by_label("Business date").fill(DAY)
    desk.get_by_label("Supervisor's username").fill("supervisor")
    desk.get_by_label("Supervisor's password").fill(PASSWORD)
    desk.get_by_label("Reason for the earlier date").fill("Paper receipts from the outage")
    for label, pieces in (("$20 bills", 5), ("$5 bills", 8), ("$1 bills", 10), ("Quarters", 40)):
        desk.get_by_label(label, exact=True).fill(str(pieces))
    expect(desk.locator("[data-count-total]")).to_have_text("160.00")
    desk.get_by_role("button", name="Open drawer").click()
    expect(desk.get_by_role("heading", level=1)).to_have_text("New receipt")

    # The utility bill in cash, with change.
    _add(desk, "lope", "104455-01")
    tenders = desk.locator("[data-tender]")
    tenders.nth(0).get_by_label("Amount tendered").fill("150.00")
    expect(desk.locator("[data-change]")).to_have_text("30.00")
    desk.get_by_role("button", name="Post payment").click()
    expect(desk.locator("article.thermal-receipt")).to_be_visible()

    # The invoice and a pet license on one receipt, split between a check and a card.
    desk.goto(f"{live_server.url}/counter/")
    _add(desk, "valley", "INV-24001")
    _add(desk, "pet", "PET")
    expect(desk.locator("[data-total-due]")).to_have_text("280.00")
    desk.get_by_label("Payer name").fill("Valley Auto Body")
    tenders = desk.locator("[data-tender]")
    check = tenders.nth(0)
    check.get_by_label("Paid by").select_option(label="Check")
    check.get_by_label("Amount tendered").fill("30.00")
    check.get_by_label("Check number").fill("1042")
    check.get_by_label("Name on the check").fill("Dana Whitfield")
    desk.get_by_role("button", name="Add another tender").click()
    card = tenders.nth(1)
    card.get_by_label("Paid by").select_option(label="Credit card")
    card.get_by_label("Amount tendered").fill("250.00")
    card.get_by_label("Card brand").select_option("Visa")
    card.get_by_label("Card last 4").fill("4242")
    card.get_by_label("Authorization code").fill("A1B2C3")
    expect(desk.locator("[data-tendered]")).to_have_text("280.00")
    desk.get_by_role("button", name="Post payment").click()
    expect(desk.locator("article.thermal-receipt")).to_be_visible()

    # A pet license in cash, keyed by mistake: the cashier asks for a void.
    desk.goto(f"{live_server.url}/counter/")
    _add(desk, "pet", "PET")
    desk.get_by_label("Payer name").fill("Lee Chu")
    desk.locator("[data-tender]").nth(0).get_by_label("Amount tendered").fill("30.00")
    desk.get_by_role("button", name="Post payment").click()
    expect(desk.locator("article.thermal-receipt")).to_be_visible()
    desk.get_by_role("link", name="Receipt details").click()
    desk.get_by_label("Reason").fill("Keyed twice")
    desk.get_by_role("button", name="Request void").click()
    expect(desk.get_by_role("alert")).to_contain_text("requested")


def _says(tab: Page, text: str) -> None:
    """The page shows a message (role alert) with that text; the daily page may show
    other alerts (its flags) beside it."""
    expect(tab.get_by_role("alert").filter(has_text=text)).to_be_visible()


def _fact(tab: Page, term: str):
    """The definition beside a term of the page's description list."""
    dt = tab.locator("dl dt").filter(has_text=re.compile(rf"^{re.escape(term)}$"))
    return dt.locator("xpath=following-sibling::dd[1]")


def _cells(page: Page, session: CashierSession) -> list[str]:
    """The data cells of a session's row on the daily balancing page, actions left out."""
    texts = page.locator(f"#session-{session.pk} td").all_inner_texts()
    return [" ".join(text.split()) for text in texts[:-1]]


def test_a_day_blind_closed_approved_balanced_deposited_reconciled_and_closed(
    live_server, browser, context, page, cashier, cashier_b, technician, supervisor
):
    counter = counter_setup()
    second = _payables_and_second_drawer(counter, cashier_b)
    bank_account = BankAccount.objects.get(is_default=True)

    found: dict[str, list[dict]] = {}
    csp: dict[str, list[str]] = {}

    def audit(name: str, on: Page, *, in_place: bool = False) -> None:
        on.wait_for_load_state("load")
        violations = axe_violations_in_place(on) if in_place else axe_violations(on)
        if violations:
            found[name] = violations

    opened = []

    def person(username: str) -> Page:
        """A browser of that person's own, signed in."""
        if username == "cashier":
            tab = page
            tab.set_viewport_size(WINDOW)
        else:
            own = browser.new_context(viewport=WINDOW)
            own.set_default_timeout(DEFAULT_TIMEOUT_MS)
            opened.append(own)
            tab = own.new_page()
        csp[username] = watch_csp(tab)
        tab.on("dialog", lambda dialog: dialog.accept())  # data-confirm forms
        sign_in(tab, live_server, username)
        return tab

    try:
        # (0) The cashier takes the day's payments; a supervisor approves the void.
        desk = person("cashier")
        _take_payments(desk, live_server)
        first = CashierSession.objects.get(drawer__code="D1")
        split = Receipt.objects.get(session=first, total=D("280.00"))
        assert [(t.tender_type.kind, t.amount) for t in split.tenders.order_by("line_no")] == [
            ("check", D("30.00")),
            ("card", D("250.00")),
        ]
        office = person("supervisor")
        open_menu(office, "Counter").get_by_role("link", name="Voids and reversals").click()
        correction = CorrectionRequest.objects.get()
        office.locator(f"#correction-{correction.pk}").get_by_role(
            "button", name="Approve void"
        ).click()
        _says(office, "approved: the receipt is VOID and its entry reversed.")
        audit("voids and reversals, void approved", office)
        assert Receipt.objects.filter(session=first, status=Receipt.Status.VOIDED).count() == 1

        # (1) The cashier closes the drawer and counts it blind.
        open_menu(desk, "Counter").get_by_role("link", name="My drawer").click()
        expect(desk.get_by_role("heading", level=1)).to_have_text("New receipt")
        desk.get_by_role("link", name=re.compile(r"^D1 ")).click()
        desk.get_by_role("link", name="Close session and count drawer").click()
        expect(desk.get_by_role("heading", level=1)).to_have_text("Close and count drawer D1")
        expect(desk.locator("main")).not_to_contain_text("280.00")  # nothing expected shown
        audit("blind close", desk)
        for label, pieces in SHORT_COUNT.items():
            desk.get_by_label(label, exact=True).fill(str(pieces))
        expect(desk.locator("[data-count-total]")).to_have_text("272.00")
        desk.get_by_label("Number of check 1").fill("1042")
        desk.get_by_label("Amount of check 1").fill("30.00")
        desk.get_by_label("Settlement total printed by the card terminal").fill("250.00")
        desk.get_by_label("Note for the technician (optional)").fill("Counted twice")
        audit("blind close, filled in", desk, in_place=True)
        desk.get_by_role("button", name="Close session and submit count").click()

        expect(desk.get_by_role("heading", level=1)).to_have_text("Count of drawer D1")
        _says(
            desk,
            "Drawer D1 counted. The over/short of -8.00 is above the limit: "
            "a supervisor must approve it.",
        )
        expect(desk.locator("#count-status")).to_contain_text("Awaiting supervisor approval")
        result = desk.locator("#count-result")
        expect(result.get_by_role("row", name=re.compile(r"^Cash\b"))).to_have_text(
            re.compile(r"Cash\s+280\.00\s+272\.00\s+-8\.00")
        )
        expect(result.get_by_role("row", name=re.compile("^Checks"))).to_have_text(
            re.compile(r"30\.00\s+30\.00\s+0\.00")
        )
        expect(result.get_by_role("row", name=re.compile("^Cards"))).to_have_text(
            re.compile(r"250\.00\s+250\.00\s+0\.00")
        )
        expect(result.locator("tfoot")).to_contain_text("-8.00")
        expect(desk.get_by_role("button", name="Approve and post over/short")).to_have_count(0)
        audit("count result, awaiting approval", desk)
        first.refresh_from_db()
        assert first.status == CashierSession.Status.CLOSED
        assert first.count.status == SessionCount.Status.PENDING
        assert first.count.over_short == D("-8.00")

        # (3) The supervisor finds the over/short waiting and approves it.
        open_menu(office, "Balancing").get_by_role("link", name="Daily balancing").click()
        expect(office.get_by_role("heading", level=1)).to_have_text("Daily balancing")
        waiting = office.locator("section", has=office.locator("#pending-heading"))
        expect(waiting.get_by_role("heading", level=2)).to_contain_text("1")
        expect(waiting.get_by_role("row", name=re.compile("D1"))).to_contain_text("-8.00")
        audit("daily balancing index, an over/short waiting", office)
        office.get_by_label("Business date").fill(DAY)
        office.get_by_role("button", name="Open the day").click()
        expect(office.get_by_role("heading", level=1)).to_contain_text(f"Balancing · Monday {DAY}")
        office.locator(f"#session-{first.pk}").get_by_role(
            "link", name="Approve over/short"
        ).click()
        expect(office.get_by_role("heading", name="Approve the over/short")).to_be_visible()
        audit("count, as the supervisor", office)
        office.get_by_label("Explanation (required)").fill(
            "Change for a $50 given twice; cashier reminded to count back"
        )
        office.get_by_role("button", name="Approve and post over/short").click()
        _says(office, "Over/short of -8.00 on drawer D1 approved and posted.")
        expect(office.locator("#count-status")).to_contain_text("Approved and posted")
        audit("count result, approved", office)

        # (4) The technician balances the day.
        desk_tech = person("technician")
        open_menu(desk_tech, "Balancing").get_by_role("link", name="Daily balancing").click()
        desk_tech.get_by_label("Business date").fill(DAY)
        desk_tech.get_by_role("button", name="Open the day").click()
        expect(desk_tech.locator("#day-status")).to_have_text("Day open")
        # Cashier, status, receipts, voids, then expected/counted/+- for cash, checks,
        # cards, then ACH and the over/short.
        assert _cells(desk_tech, first) == [
            "Casey",
            "Closed Approved and posted",
            "2",
            "1",
            *("280.00", "272.00", "-8.00"),
            *("30.00", "30.00", "0.00"),
            *("250.00", "250.00", "0.00"),
            "0.00",
            "-8.00",
        ]
        assert _cells(desk_tech, second) == [
            "Jordan",
            "Closed No over/short",
            "2",
            "0",
            *("220.00", "220.00", "0.00"),
            *("30.00", "30.00", "0.00"),
            *("0.00", "0.00", "0.00"),
            "0.00",
            "0.00",
        ]
        expect(desk_tech.locator("#sessions-table tfoot")).to_contain_text("500.00")
        audit("daily balancing, drawers counted", desk_tech)
        desk_tech.get_by_role("button", name="Mark D1 balanced").click()
        _says(desk_tech, "Drawer D1 balanced.")
        desk_tech.get_by_role("button", name="Mark D2 balanced").click()
        _says(desk_tech, "Drawer D2 balanced.")
        expect(desk_tech.get_by_role("button", name=re.compile("^Mark D"))).to_have_count(0)
        audit("daily balancing, drawers balanced", desk_tech)

        # ... prepares the deposit: currency by denomination, the checks listed ...
        open_menu(desk_tech, "Balancing").get_by_role("link", name="Prepare a deposit").click()
        expect(desk_tech.get_by_role("heading", level=1)).to_have_text("Prepare a bank deposit")
        audit("deposit prepare, sessions ready", desk_tech)
        desk_tech.get_by_label(f"Deposit drawer D1 of {DAY} (cashier)").check()
        desk_tech.get_by_label(f"Deposit drawer D2 of {DAY} (cashier_b)").check()
        desk_tech.get_by_role("button", name="Show the deposit for the chosen sessions").click()
        expect(desk_tech.get_by_role("heading", name="Deposit for 2 sessions")).to_be_visible()
        expect(desk_tech.locator("#cash-due")).to_have_text("172.00")
        checks = desk_tech.locator("#deposit-checks")
        expect(checks.get_by_role("row", name=re.compile("1042"))).to_contain_text("Dana Whitfield")
        expect(checks.get_by_role("row", name=re.compile("5001"))).to_contain_text("Ana Ruiz")
        audit("deposit prepare, two sessions chosen", desk_tech)
        desk_tech.get_by_label("Deposit date").fill(DAY)
        expect(desk_tech.get_by_label("Bank account")).to_have_value(str(bank_account.pk))
        for label, pieces in DEPOSIT_CURRENCY.items():
            desk_tech.get_by_label(label, exact=True).fill(str(pieces))
        expect(desk_tech.locator("[data-count-total]")).to_have_text("172.00")
        expect(desk_tech.locator("[data-count-grand]")).to_have_text("172.00")
        difference = desk_tech.locator("[data-count-difference]")
        expect(difference).to_have_text("(matches the cash to deposit)")
        rolled = desk_tech.get_by_label("Coin as a total (rolled coin)")
        rolled.fill("2.50")  # rolled coin given as a total counts in the running total
        expect(desk_tech.locator("[data-count-grand]")).to_have_text("174.50")
        expect(difference).to_have_text("(2.50 over the cash to deposit)")
        rolled.fill("")
        expect(difference).to_have_text("(matches the cash to deposit)")
        audit("deposit prepare, currency counted", desk_tech, in_place=True)
        desk_tech.get_by_role("button", name="Prepare deposit").click()

        deposit = Deposit.objects.get(kind=Deposit.Kind.CASH_CHECK)
        expect(desk_tech.get_by_role("heading", level=1)).to_contain_text(
            f"Deposit {deposit.number}"
        )
        _says(desk_tech, f"Deposit {deposit.number} prepared for 232.00.")
        for term, amount in (
            ("Total", "232.00"),
            ("Currency", "172.00"),
            ("Coin", "0.00"),
            ("Checks and money orders", "60.00"),
        ):
            expect(_fact(desk_tech, term)).to_have_text(amount)
        card_deposit = Deposit.objects.get(kind=Deposit.Kind.CARD)
        expect(desk_tech.get_by_role("link", name=f"Deposit {card_deposit.number}")).to_be_visible()
        audit("deposit detail", desk_tech)

        # ... and prints the slip, as a page and as a PDF.
        desk_tech.get_by_role("link", name="Print deposit slip").click()
        expect(desk_tech.get_by_role("heading", level=1)).to_have_text(
            f"Deposit slip {deposit.number}"
        )
        slip_checks = desk_tech.locator("#slip-checks")
        expect(slip_checks.get_by_role("row", name=re.compile("1042"))).to_contain_text("30.00")
        expect(slip_checks.get_by_role("row", name=re.compile("5001"))).to_contain_text("30.00")
        expect(slip_checks.locator("tfoot")).to_contain_text("Checks (2)")
        expect(desk_tech.get_by_role("row", name="Total deposit")).to_contain_text("232.00")
        audit("deposit slip print view", desk_tech)
        desk_tech.go_back()
        pdf_href = desk_tech.get_by_role("link", name="Deposit slip PDF").get_attribute("href")
        pdf = desk_tech.request.get(f"{live_server.url}{pdf_href}")
        assert pdf.status == 200
        assert pdf.headers["content-type"] == "application/pdf"
        assert pdf.body()[:5] == b"%PDF-"

        # (5) The bank's statement for the next day: imported, the deposit matched.
        statement = _bai2(
            account_number=bank_account.number,
            as_of=BANK_DAY,
            amount=deposit.total,
            reference=str(deposit.number),
        )
        open_menu(desk_tech, "Ledger").get_by_role("link", name="Import bank statement").click()
        expect(desk_tech.get_by_role("heading", level=1)).to_have_text("Import a bank statement")
        audit("bank import", desk_tech)
        desk_tech.get_by_label("Statement file").set_input_files(
            {"name": "kentbank-0317.bai2", "mimeType": "text/plain", "buffer": statement}
        )
        desk_tech.get_by_role("button", name="Import statement").click()
        summary = desk_tech.locator("#import-summary")
        expect(summary).to_contain_text("Imported kentbank-0317.bai2")
        expect(summary).to_contain_text("1 line, credits 232.00, debits 0.00")
        expect(summary).to_contain_text(f"{bank_account.name}: 1 line matched automatically.")
        audit("bank import, imported", desk_tech, in_place=True)
        summary.get_by_role("link", name=f"Reconcile the {bank_account.name}").click()
        expect(desk_tech.get_by_role("heading", level=1)).to_have_text(
            f"Reconcile the {bank_account.name}"
        )
        expect(desk_tech.get_by_text("Every bank line is matched.")).to_be_visible()
        matched = desk_tech.locator("#matches")
        expect(matched).to_contain_text(str(deposit.number))
        expect(matched).to_contain_text(f"{BANK_DAY:%Y-%m-%d} 232.00 COUNTER DEPOSIT")
        expect(matched).to_contain_text("Automatic")
        audit("reconciliation", desk_tech)
        bank_line = BankTransaction.objects.get()
        assert (bank_line.amount, bank_line.booked_date) == (D("232.00"), BANK_DAY)
        match = BankMatch.objects.get()
        assert match.amount == D("232.00")
        assert list(
            match.items.exclude(journal_line=None).values_list("journal_line__entry", flat=True)
        ) == [deposit.journal_entry_id]

        # (6) The supervisor closes the business day.
        office.goto(f"{live_server.url}/counter/balancing/{DAY}/")
        expect(office.locator(f"#session-{first.pk}")).to_contain_text("Deposited")
        office.get_by_role("button", name="Close business day").click()
        _says(office, f"Business day {DAY} closed: nothing more posts into it.")
        expect(office.locator("#day-status")).to_have_text("Day closed")
        expect(office.locator("#flag-undeposited")).to_have_count(0)  # all in the bank
        expect(office.get_by_role("button", name="Reopen business day")).to_be_visible()
        audit("daily balancing, day closed", office)
        assert BusinessDay.objects.get(business_date=TODAY).status == BusinessDay.Status.CLOSED

        # The cashier cannot open a drawer into the closed day, even with a supervisor's
        # approval of the earlier date (the supervisor signs it on the counter's form).
        desk.goto(f"{live_server.url}/counter/")
        expect(desk.get_by_role("heading", level=1)).to_have_text("Open a drawer")
        approval = desk.get_by_role("group", name="Supervisor's approval")
        expect(approval).to_be_hidden()  # today's date needs none
        desk.get_by_label(re.compile(r"\bDrawer\b")).select_option(label=f"D1 {first.drawer.name}")
        desk.get_by_label("Business date").fill(DAY)
        expect(approval).to_be_visible()
        desk.get_by_label("Supervisor's username").fill("supervisor")
        desk.get_by_label("Supervisor's password").fill(PASSWORD)
        desk.get_by_label("Reason for the earlier date").fill("Paper receipts from the outage")
        desk.get_by_label("$20 bills", exact=True).fill("5")
        desk.get_by_role("button", name="Open drawer").click()
        _says(desk, f"Business day {DAY} is closed; nothing can be taken into it.")
        assert CashierSession.objects.filter(business_date=TODAY).count() == 2
    finally:
        for own in opened:
            own.close()

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (CashierSession.Status.DEPOSITED,) * 2
    assert first.count.over_short_entry is not None  # posted on approval
    # Every dollar taken is in the bank: the clearing accounts are back to zero.
    assert gl_balance(UNDEPOSITED, counter.accounts) == D("0.00")
    assert gl_balance(CARD_CLEARING, counter.accounts) == D("0.00")
    assert unbalanced_entries() == []
    assert found == {}, "\n".join(f"{name}: {describe_violations(v)}" for name, v in found.items())
    assert csp == {"cashier": [], "supervisor": [], "technician": []}
