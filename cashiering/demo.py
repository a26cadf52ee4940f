"""Demo counter data: tender types, drawers, counter fees, utility accounts, AR invoices,
and a year of receipts taken by several cashiers. Deterministic and idempotent."""

import random
import uuid
from datetime import date, timedelta
from decimal import ROUND_CEILING, Decimal

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from cashiering.demo_balancing import seed_balancing
from cashiering.models import (
    ARInvoice,
    CashierSession,
    CounterFee,
    CounterPolicy,
    Drawer,
    Receipt,
    TenderType,
    UtilityAccount,
)
from cashiering.payables import fee_index_rows, invoice_index_rows, utility_index_rows
from cashiering.services.receipt_inputs import LineInput, TenderInput
from cashiering.services.receipts import receipt_post
from cashiering.services.sessions import session_close, session_open
from cashiering.targets import index_bulk_upsert
from kent_cs import dates
from ledger.models import BankAccount, FeeCode, GLAccount

# code, name, kind, in drawer, needs reference, gives change, clearing account
TENDERS = [
    ("CASH", "Cash", "cash", True, False, True, "101.30"),
    ("CHECK", "Check", "check", True, True, False, "101.30"),
    ("MO", "Money order", "money_order", True, True, False, "101.30"),
    ("CREDIT", "Credit card", "card", False, True, False, "101.40"),
    ("DEBIT", "Debit card", "card", False, True, False, "101.40"),
    ("ACH", "ACH / e-check", "ach", False, True, False, "101.40"),
]
DRAWERS = [("D1", "Window 1"), ("D2", "Window 2"), ("D3", "Window 3"), ("D4", "Drive-up")]
COUNTER_FEES = [
    ("COPY", "Copies (per page)", "0.15"),
    ("PET", "Pet license", "30.00"),
    ("NSF-FEE", "Returned check fee", "40.00"),
    ("MERCH", "Kent wear and merchandise", None),
    ("MISC", "Miscellaneous payment", None),
]
UTILITY_ACCOUNTS = 3000
AR_INVOICES = 800
RECEIPT_DAYS = 365

FIRST = [
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Daniel",
    "Lisa",
    "Matthew",
    "Nancy",
    "Anthony",
    "Betty",
    "Mark",
    "Sandra",
    "Donald",
    "Ashley",
    "Steven",
    "Emily",
    "Paul",
    "Kimberly",
    "Andrew",
    "Donna",
    "Joshua",
    "Michelle",
    "Kenneth",
    "Carol",
    "Kevin",
    "Amanda",
    "Brian",
    "Melissa",
    "Minh",
    "Priya",
    "Olga",
    "Wei",
    "Jose",
    "Fatima",
    "Hiroshi",
    "Amara",
]
LAST = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
    "Rivera",
    "Campbell",
    "Mitchell",
    "Carter",
    "Roberts",
    "Petrov",
    "Kowalski",
    "Okafor",
    "Tanaka",
    "Singh",
    "Haddad",
    "Johansson",
]
STREETS = [
    "James St",
    "Meeker St",
    "Smith St",
    "Central Ave N",
    "Central Ave S",
    "Kent-Kangley Rd",
    "S 240th St",
    "SE 256th St",
    "Reith Rd",
    "Canyon Dr",
    "W Valley Hwy",
    "Kennebeck Ave N",
    "Jason Ave N",
    "SE 208th St",
    "132nd Ave SE",
    "Military Rd S",
    "S 212th St",
    "Lake Fenwick Rd S",
    "Woodland Way S",
    "E Titus St",
]
BUSINESSES = [
    "Valley Auto Body",
    "Green River Dental",
    "Kent Station Books",
    "Meeker Street Bakery",
    "Riverbend Landscaping",
    "Puget Sound Plumbing",
    "Orion Industries",
    "ShoWare Events",
    "Kent Lanes",
    "East Hill Pharmacy",
    "Mill Creek Cafe",
    "Cascade Welding",
    "Soos Creek Farms",
    "Benson Hill Florist",
    "Lakeside Printing",
    "Emerald Freight",
    "Sunrise Daycare",
    "Kent Valley Ice Centre",
    "Old Town Barber",
    "Pacific Pallet",
]


def _rng() -> random.Random:
    return random.Random(20261126)


def _person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


def _address(rng: random.Random) -> str:
    zip_code = rng.choice(("98030", "98031", "98032"))
    return f"{rng.randint(100, 27999)} {rng.choice(STREETS)}, Kent WA {zip_code}"


@transaction.atomic
def seed_reference(stdout) -> None:
    for order, (code, name, kind, drawer, ref, change, account) in enumerate(TENDERS):
        TenderType.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "kind": kind,
                "counts_in_drawer": drawer,
                "requires_reference": ref,
                "gives_change": change,
                "clearing_account": GLAccount.objects.get(fund__code="001", code=account),
                "sort_order": order,
            },
        )
    for code, name in DRAWERS:
        Drawer.objects.get_or_create(code=code, defaults={"name": name, "location": "City Hall"})
    for code, label, price in COUNTER_FEES:
        CounterFee.objects.get_or_create(
            fee_code=FeeCode.objects.get(code=code),
            defaults={"label": label, "unit_price": Decimal(price) if price else None},
        )
    index_bulk_upsert(fee_index_rows())
    seed_policy()


# The city's operating account at its bank; statements for it are imported and reconciled.
BANK_ACCOUNT = ("Operating account", "4820019937", "125000105")


def seed_policy() -> None:
    """The counter policy's accounts and the bank account counter deposits go to."""

    def account(fund: str, code: str) -> GLAccount:
        return GLAccount.objects.get(fund__code=fund, code=code)

    name, number, routing = BANK_ACCOUNT
    if not BankAccount.objects.filter(is_default=True).exists():
        BankAccount.objects.get_or_create(
            number=number,
            defaults={
                "name": name,
                "routing_number": routing,
                "gl_account": account("001", "101.10"),
                "is_default": True,
            },
        )
    policy = CounterPolicy.current()
    if policy.over_short_account_id is None:
        policy.over_short_account = account("001", "369.81.00")
        policy.nsf_fee_code = FeeCode.objects.get(code="NSF-FEE")
        policy.returned_checks_receivable = account("001", "122.40")
        policy.refunds_payable = account("001", "231.10")
        policy.save()


@transaction.atomic
def seed_accounts(stdout) -> None:
    if UtilityAccount.objects.exists():
        return
    rng = _rng()
    as_of = timezone.localdate() - timedelta(days=RECEIPT_DAYS + 1)
    accounts = [
        UtilityAccount(
            number=f"{100000 + i * 7:06d}-{rng.randint(0, 99):02d}",
            name=_person(rng) if rng.random() < 0.85 else rng.choice(BUSINESSES),
            service_address=_address(rng),
            balance=Decimal(rng.randint(2000, 90000)) / 100 * 4,
            balance_as_of=as_of,
        )
        for i in range(UTILITY_ACCOUNTS)
    ]
    UtilityAccount.objects.bulk_create(accounts, batch_size=1000)
    invoices = []
    for i in range(AR_INVOICES):
        amount = Decimal(rng.randint(2500, 250000)) / 100
        invoice_date = as_of + timedelta(days=rng.randint(0, 30))
        invoices.append(
            ARInvoice(
                number=f"INV-{24000 + i}",
                customer_name=rng.choice(BUSINESSES) if rng.random() < 0.6 else _person(rng),
                customer_address=_address(rng),
                description=rng.choice(
                    [
                        "False alarm response",
                        "Right-of-way permit inspection",
                        "Facility rental - Kent Commons",
                        "Damage to city property",
                        "Special event police services",
                        "Hydrant meter rental",
                    ]
                ),
                invoice_date=invoice_date,
                due_date=invoice_date + timedelta(days=30),
                amount=amount,
                amount_due=amount,
            )
        )
    ARInvoice.objects.bulk_create(invoices, batch_size=1000)
    index_bulk_upsert(utility_index_rows(UtilityAccount.objects.all()))
    index_bulk_upsert(invoice_index_rows(ARInvoice.objects.all()))
    stdout.write(f"  cashiering: {UTILITY_ACCOUNTS} utility accounts, {AR_INVOICES} AR invoices")


def seed_receipts(stdout) -> None:
    """A year of business days: two cashiers, three to seven receipts each per day."""
    if Receipt.objects.exists():
        return
    User = get_user_model()
    cashiers = list(User.objects.filter(username__in=["cashier", "cashier_b"]))
    if len(cashiers) < 2:
        return
    rng = _rng()
    drawers = list(Drawer.objects.order_by("code"))
    tenders = {t.code: t for t in TenderType.objects.all()}
    utility = list(UtilityAccount.objects.values_list("number", flat=True))
    invoices = list(ARInvoice.objects.values_list("number", flat=True))
    today = timezone.localdate()
    start = today - timedelta(days=RECEIPT_DAYS)
    day = start
    count = 0
    last = today - timedelta(days=1)
    while last.weekday() >= 5:
        last -= timedelta(days=1)
    while day < today:
        if day.weekday() < 5:
            for cashier, drawer in zip(cashiers, drawers, strict=False):
                count += _seed_day(
                    rng, day, cashier, drawer, tenders, utility, invoices, cash_first=day == last
                )
        day += timedelta(days=1)
    stdout.write(f"  cashiering: {count} receipts over {RECEIPT_DAYS} days")


def _seed_day(
    rng, day: date, cashier, drawer, tenders, utility, invoices, *, cash_first: bool = False
) -> int:
    """One drawer's day. `cash_first`: the first payment is in cash (the latest day holds
    the shortage the supervisor is shown, which needs cash taken to be short of)."""
    with transaction.atomic(), dates.replaying(day):  # each past day as it was worked
        session = session_open(
            cashier=cashier,
            drawer=drawer,
            business_date=day,
            opening_count={"20.00": 5, "5.00": 10},
        )
        posted = 0
        for _ in range(rng.randint(3, 7)):
            lines, total = _random_lines(rng, utility, invoices)
            if not lines:
                continue
            tender_list = _random_tenders(rng, total, tenders)
            if cash_first and not posted:
                paid = total.quantize(Decimal("1"), rounding=ROUND_CEILING)
                tender_list = [TenderInput(tender_type=tenders["CASH"], amount=paid)]
            receipt_post(
                session=session,
                payer_name=_person(rng),
                lines=lines,
                tenders=tender_list,
                idempotency_key=uuid.UUID(int=rng.getrandbits(128)),
                user=cashier,
            )
            posted += 1
        session_close(session=session, user=cashier)
    return posted


def _random_lines(rng, utility, invoices):
    lines, total = [], Decimal("0.00")
    roll = rng.random()
    if roll < 0.6:
        number = rng.choice(utility)
        balance = UtilityAccount.objects.only("balance").get(number=number).balance
        amount = balance if balance > 0 and rng.random() < 0.7 else Decimal(rng.randint(20, 200))
        amount = amount.quantize(Decimal("0.01"))
        lines.append(LineInput(kind="utility", ref=number, amount=amount))
        total += amount
    elif roll < 0.75:
        number = rng.choice(invoices)
        due = ARInvoice.objects.only("amount_due").get(number=number).amount_due
        if due > 0:
            amount = due if rng.random() < 0.8 else (due / 2).quantize(Decimal("0.01"))
            lines.append(LineInput(kind="invoice", ref=number, amount=amount))
            total += amount
    if roll >= 0.6 or rng.random() < 0.15:
        code, price = rng.choice([("COPY", "0.15"), ("PET", "30.00"), ("MISC", "25.00")])
        quantity = Decimal(rng.randint(1, 40)) if code == "COPY" else Decimal(1)
        lines.append(LineInput(kind="fee", ref=code, quantity=quantity, unit_price=Decimal(price)))
        total += (quantity * Decimal(price)).quantize(Decimal("0.01"))
    return lines, total


def _random_tenders(rng, total: Decimal, tenders) -> list[TenderInput]:
    roll = rng.random()
    if roll < 0.4:
        paid = (
            (total + rng.choice([0, 0, 1, 5, 10, 20])).quantize(Decimal("1"))
            if total > 1
            else total
        )
        paid = max(paid, total)
        return [TenderInput(tender_type=tenders["CASH"], amount=paid)]
    if roll < 0.65:
        return [
            TenderInput(
                tender_type=tenders["CHECK"],
                amount=total,
                check_number=str(rng.randint(1001, 9999)),
                check_payer=_person(rng),
                account_last4=f"{rng.randint(0, 9999):04d}",
            )
        ]
    if roll < 0.95:
        card = tenders["CREDIT"] if rng.random() < 0.6 else tenders["DEBIT"]
        return [
            TenderInput(
                tender_type=card,
                amount=total,
                card_brand=rng.choice(["Visa", "Mastercard", "Discover", "Amex"]),
                card_last4=f"{rng.randint(0, 9999):04d}",
                auth_code=f"{rng.randint(0, 999999):06d}",
            )
        ]
    if roll < 0.97:  # paid from a bank account at the counter; settles by ACH
        return [
            TenderInput(
                tender_type=tenders["ACH"],
                amount=total,
                reference=f"ACH{rng.randint(100000, 999999)}",
                account_last4=f"{rng.randint(0, 9999):04d}",
            )
        ]
    cash = (total / 2).quantize(Decimal("0.01"))
    return [
        TenderInput(tender_type=tenders["CASH"], amount=cash + 20),
        TenderInput(
            tender_type=tenders["CHECK"],
            amount=total - cash,
            check_number=str(rng.randint(1001, 9999)),
            check_payer=_person(rng),
        ),
    ]


def seed(stdout) -> None:
    seed_reference(stdout)
    seed_accounts(stdout)
    seed_receipts(stdout)
    seed_balancing(stdout)
    open_sessions = CashierSession.objects.filter(status="open").count()
    stdout.write(f"  cashiering: {Receipt.objects.count()} receipts, {open_sessions} open sessions")
