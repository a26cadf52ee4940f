"""Demo licensing data: several hundred Kent businesses with three years of license history.

Each business opened in one of the last three years and has paid (or not) every year
since: most renewed on time, some lapsed, some closed. This year's renewal invoices were
sent last November; about two thirds are paid, a few in part, and the daily run then
expires, penalizes and lapses the rest exactly as it would on a live system. A dozen
applications are waiting on reviews and a few approved licenses wait for payment.

Written with bulk inserts (a second or two), and only once: if businesses exist, nothing
is added.
"""

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from cashiering.targets import index_bulk_upsert
from kent_cs.audit import audit_actor
from kent_cs.numbering import next_numbers
from licensing.fees import BusinessFacts, FeeQuote, compute_quote, load_schedules, renewal_fee_date
from licensing.models import (
    Business,
    Contact,
    InvoiceKind,
    License,
    LicenseInvoice,
    LicenseInvoiceLine,
    LicensePayment,
    LicenseStatus,
    LicenseStatusChange,
    LicenseType,
    invoice_number,
    invoice_series,
)
from licensing.penalties import penalty_schedule_for_year
from licensing.services.applications import application_approve, application_submit, review_decide
from licensing.services.invoice_index import invoice_index_row
from licensing.services.invoices import quote_lines
from licensing.services.licenses import LICENSE_SERIES
from licensing.services.penalties import penalties_assess
from licensing.validators import address_key

BUSINESSES = 420
S = LicenseStatus
D = Decimal

PLACES = [
    "Kent Station",
    "Meeker",
    "Green River",
    "Mill Creek",
    "East Hill",
    "Panther Lake",
    "Lake Meridian",
    "Scenic Hill",
    "Valley",
    "Rainier",
    "Cascade",
    "Puget Sound",
    "Titus",
    "Clark Springs",
    "Riverview",
    "Morrill",
    "Lake Fenwick",
    "West Hill",
    "Kent Valley",
    "Soos Creek",
    "Canterbury",
    "Willis Street",
    "Naden",
    "Pacific",
    "Emerald",
]
# kind, NAICS, FTE range, license type
KINDS = [
    ("Auto Repair", "811111", (2, 15), "GEN"),
    ("Dental", "621210", (4, 22), "GEN"),
    ("Bakery", "311811", (3, 14), "GEN"),
    ("Coffee", "722515", (2, 12), "GEN"),
    ("Logistics", "493110", (20, 180), "GEN"),
    ("Machine Works", "332710", (10, 95), "GEN"),
    ("Taqueria", "722513", (3, 20), "GEN"),
    ("Pho House", "722511", (3, 16), "GEN"),
    ("Hair Studio", "812112", (1, 6), "GEN"),
    ("Insurance Agency", "524210", (2, 8), "GEN"),
    ("Distribution Center", "493110", (40, 260), "GEN"),
    ("Aerospace Components", "336413", (45, 420), "GEN"),
    ("Landscaping", "561730", (3, 26), "GEN"),
    ("Plumbing", "238220", (2, 30), "GEN"),
    ("Electric", "238210", (2, 30), "GEN"),
    ("Tax Service", "541213", (1, 5), "GEN"),
    ("Pet Grooming", "812910", (1, 5), "GEN"),
    ("Fitness", "713940", (3, 24), "GEN"),
    ("Florist", "459310", (1, 6), "GEN"),
    ("Janitorial", "561720", (4, 48), "GEN"),
    ("Family Medicine", "621111", (6, 55), "GEN"),
    ("Brewing", "312120", (4, 30), "GEN"),
    ("Food Bank", "624210", (2, 14), "GEN"),
    ("Youth Soccer Club", "711211", (1, 4), "GEN"),
    ("Bookkeeping", "541219", (0, 2), "HOME"),
    ("Tutoring", "611691", (0, 1), "HOME"),
    ("Web Design", "541511", (0, 2), "HOME"),
    ("Apartments", "531110", (1, 6), "RENT"),
    ("Rentals", "531110", (0, 2), "RENT"),
    ("Roofing", "238160", (4, 35), "CONT"),
    ("Concrete", "238110", (5, 40), "CONT"),
]
NONPROFIT_KINDS = {"Food Bank", "Youth Soccer Club"}
STREETS = [
    "W Meeker St",
    "E James St",
    "Central Ave N",
    "84th Ave S",
    "S 240th St",
    "Washington Ave S",
    "SE Kent-Kangley Rd",
    "SE 256th St",
    "S 212th St",
    "W Valley Hwy",
    "Pacific Hwy S",
    "Reith Rd",
    "S 277th St",
    "4th Ave S",
    "1st Ave N",
    "Smith St",
    "Canyon Dr",
    "SE 240th St",
    "116th Ave SE",
    "S 228th St",
    "Russell Rd",
]
KENT_ZIPS = ["98030", "98031", "98032", "98042", "98064"]
OUTSIDE = [("Auburn", "98001"), ("Renton", "98055"), ("Federal Way", "98003"), ("Tukwila", "98188")]
FIRST = ["Maria", "James", "Linh", "Ahmed", "Grace", "Carlos", "Priya", "Dmitri", "Aisha", "Tom"]
LAST = ["Nguyen", "Garcia", "Smith", "Patel", "Kim", "Johnson", "Ivanova", "Okafor", "Tran"]
SUFFIX = {"llc": "LLC", "corporation": "Inc", "partnership": "& Partners", "nonprofit": ""}


@dataclass
class _Plan:
    """One business's story, decided before anything is written."""

    business: Business
    owner: str
    license_type: LicenseType
    start: date
    units: int | None
    # (year, kind, issue date, paid on or None, part paid?)
    invoices: list[tuple] = field(default_factory=list)
    lapsed_year: int | None = None
    closed_on: date | None = None


def _ubi(rng: random.Random, used: set[str]) -> str:
    while True:
        ubi = str(rng.choice([601, 602, 603, 604])) + f"{rng.randrange(10**6):06d}"
        if ubi not in used and len(set(ubi)) > 1:
            used.add(ubi)
            return ubi


def _business(rng: random.Random, used: set[str], index: int, this_year: int) -> tuple:
    place = rng.choice(PLACES)
    kind, naics, (low, high), code = rng.choice(KINDS)
    if kind in NONPROFIT_KINDS:
        ownership = "nonprofit"
    elif code == "HOME":
        ownership = "sole_proprietor"
    else:
        ownership = rng.choice(["llc", "llc", "llc", "corporation", "partnership"])
    owner = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    trade = f"{place} {kind}"
    if ownership == "sole_proprietor":
        legal = owner
    elif rng.random() < 0.2:
        legal = f"{owner.split()[1]} Enterprises {SUFFIX.get(ownership, 'LLC')}".strip()
    else:
        legal = f"{trade} {SUFFIX.get(ownership, 'LLC')}".strip()
    outside = code == "CONT"
    city, zip_code = rng.choice(OUTSIDE) if outside else ("Kent", rng.choice(KENT_ZIPS))
    line1 = f"{rng.randrange(100, 27999)} {rng.choice(STREETS)}"
    today = timezone.localdate()
    opened = date(this_year - rng.choice([2, 2, 2, 1, 1, 0]), rng.randrange(1, 13), 1)
    opened = min(opened, today - timedelta(days=30))
    business = Business(
        legal_name=legal,
        trade_name="" if legal == trade else trade,
        ubi=_ubi(rng, used),
        ownership_type=ownership,
        naics_code=naics,
        location_line1=line1,
        location_line2=f"Suite {rng.randrange(100, 400)}" if rng.random() < 0.25 else "",
        location_city=city,
        location_zip=zip_code,
        location_key=address_key(line1, zip_code),
        inside_city_limits=not outside,
        fte_employees=D(rng.randint(low, high)),
        opened_on=opened,
    )
    return business, owner, code


def _simulate(plan: _Plan, rng: random.Random, this_year: int) -> None:
    """Decide each year's invoice and whether and when it was paid."""
    start = plan.start
    issue = start + timedelta(days=rng.randrange(0, 20))
    plan.invoices.append((start.year, InvoiceKind.NEW, issue, issue + timedelta(days=3), False))
    for year in range(start.year + 1, this_year + 1):
        sent = max(date(year - 1, 11, 2), issue + timedelta(days=1))
        if year < this_year:
            roll = rng.random()
            if roll < 0.05:  # never paid: lapsed
                plan.invoices.append((year, InvoiceKind.RENEWAL, sent, None, False))
                plan.lapsed_year = year - 1
                return
            if roll < 0.09:  # closed during the year before
                closed = date(year - 1, rng.randrange(2, 12), 15)
                plan.closed_on = max(closed, plan.business.opened_on + timedelta(days=30))
                plan.invoices = [i for i in plan.invoices if i[0] < year]
                return
            paid = date(year - 1, 12, 1) + timedelta(days=rng.randrange(0, 28))
            plan.invoices.append((year, InvoiceKind.RENEWAL, sent, paid, False))
        else:
            roll = rng.random()
            if roll < 0.62:
                paid = date(year - 1, 11, 20) + timedelta(days=rng.randrange(0, 40))
                plan.invoices.append((year, InvoiceKind.RENEWAL, sent, paid, False))
            elif roll < 0.68:
                plan.invoices.append(
                    (year, InvoiceKind.RENEWAL, sent, date(year - 1, 12, 10), True)
                )
            else:
                plan.invoices.append((year, InvoiceKind.RENEWAL, sent, None, False))


def _schedule_for(schedules: dict, type_id: int, on: date):
    """The schedule in effect on `on`: the year's (loaded once) when it covers the day."""
    found = schedules[on.year].get(type_id)
    if (
        found
        and found.effective_from <= on
        and (found.effective_to is None or on <= found.effective_to)
    ):
        return found
    return load_schedules(on, [type_id])[type_id]


@transaction.atomic
def _write(plans: list[_Plan], user, this_year: int) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    Business.objects.bulk_create([p.business for p in plans])
    Contact.objects.bulk_create(
        Contact(
            business=p.business,
            name=p.owner,
            role="owner",
            is_primary=True,
            phone=f"253-555-{i % 10000:04d}",
        )
        for i, p in enumerate(plans)
    )
    numbers = next_numbers(LICENSE_SERIES, len(plans))
    licenses = []
    changes: list[LicenseStatusChange] = []
    for number, plan in zip(numbers, plans, strict=True):
        paid_years = [year for year, _, _, paid, part in plan.invoices if paid and not part]
        if plan.closed_on:
            status, year = S.CLOSED, max(paid_years)
        elif plan.lapsed_year:
            status, year = S.LAPSED, plan.lapsed_year
        else:
            # This year's unpaid licenses are still active for last year: the daily run
            # below expires (and lapses) them by the rules.
            status, year = S.ACTIVE, max(paid_years) if paid_years else plan.start.year
        licenses.append(
            License(
                number=number,
                business=plan.business,
                license_type=plan.license_type,
                status=status,
                license_year=year,
                issued_on=plan.invoices[0][3],
                units=plan.units,
            )
        )
    License.objects.bulk_create(licenses)
    counts["licenses"] = len(licenses)

    schedules = {
        y: load_schedules(renewal_fee_date(y)) for y in range(this_year - 3, this_year + 1)
    }
    by_year: dict[int, list] = defaultdict(list)
    for plan, license in zip(plans, licenses, strict=True):
        for entry in plan.invoices:
            by_year[entry[0]].append((plan, license, entry))
    invoices, lines_by_invoice, payments_by_invoice = [], {}, {}
    for year, entries in sorted(by_year.items()):
        seqs = next_numbers(invoice_series(year), len(entries))
        due = penalty_schedule_for_year(year).due_date(year)
        for seq, (plan, license, (_, kind, issued, paid, part)) in zip(seqs, entries, strict=True):
            is_new = kind == InvoiceKind.NEW
            on = issued if is_new else renewal_fee_date(year)
            schedule = _schedule_for(schedules, plan.license_type.pk, on)
            quote: FeeQuote = compute_quote(
                schedule,
                BusinessFacts.of(plan.business),
                issue_date=on,
                is_new=is_new,
                units=plan.units,
            )
            lines = quote_lines(quote)
            paid_lines = []
            if paid:
                for line in lines:
                    share = line.amount_due if not part or line.kind == "license" else D(0)
                    if share:
                        line.amount_due -= share
                        paid_lines.append((line, share, paid))
            amount_due = sum((line.amount_due for line in lines), D(0))
            fully_paid = amount_due == 0
            invoice = LicenseInvoice(
                number=invoice_number(year, seq),
                year=year,
                seq=seq,
                kind=kind,
                license=license,
                business=plan.business,
                schedule_id=quote.schedule_id,
                issue_date=issued,
                due_date=issued if is_new else due,
                status="paid" if fully_paid else "open",
                total=quote.total,
                amount_due=amount_due,
                paid_on=paid if fully_paid else None,
                paid_receipt="Demo history" if fully_paid else "",
                created_by=user,
            )
            invoices.append(invoice)
            lines_by_invoice[id(invoice)] = lines
            payments_by_invoice[id(invoice)] = paid_lines
            if fully_paid:
                action = "issued" if is_new else "renewed"
                changes.append(
                    LicenseStatusChange(
                        license=license,
                        action=action,
                        from_status=S.PENDING if is_new else S.ACTIVE,
                        to_status=S.ACTIVE,
                        from_year=None if is_new else year - 1,
                        to_year=year,
                        reason=f"Invoice {invoice.number} paid in full (demo history)",
                        effective_on=paid,
                        changed_at=_at(paid),
                        changed_by=user,
                    )
                )
    LicenseInvoice.objects.bulk_create(invoices)
    counts["invoices"] = len(invoices)
    all_lines, all_payments = [], []
    for invoice in invoices:
        for line in lines_by_invoice[id(invoice)]:
            line.invoice = invoice
            all_lines.append(line)
    LicenseInvoiceLine.objects.bulk_create(all_lines)
    for invoice in invoices:
        for line, amount, on in payments_by_invoice[id(invoice)]:
            all_payments.append(
                LicensePayment(
                    invoice=invoice,
                    line=line,
                    fee_code=line.fee_code,
                    amount=amount,
                    source=LicensePayment.Source.DEMO,
                    receipt_number="Demo history",
                    business_date=on,
                    recorded_at=_at(on),
                )
            )
    LicensePayment.objects.bulk_create(all_payments)
    for plan, license in zip(plans, licenses, strict=True):
        if plan.lapsed_year:
            year = plan.lapsed_year
            changes.append(
                LicenseStatusChange(
                    license=license,
                    action="lapsed",
                    from_status=S.EXPIRED,
                    to_status=S.LAPSED,
                    from_year=year,
                    to_year=year,
                    reason=f"Not renewed for {year + 1} (demo history)",
                    effective_on=date(year + 1, 4, 1),
                    changed_at=_at(date(year + 1, 4, 1)),
                )
            )
        if plan.closed_on:
            changes.append(
                LicenseStatusChange(
                    license=license,
                    action="closed",
                    from_status=S.ACTIVE,
                    to_status=S.CLOSED,
                    from_year=license.license_year,
                    to_year=license.license_year,
                    reason="Business closed (demo history)",
                    effective_on=plan.closed_on,
                    changed_at=_at(plan.closed_on),
                    changed_by=user,
                )
            )
    LicenseStatusChange.objects.bulk_create(changes)
    closed = [p.business for p in plans if p.closed_on]
    for plan in plans:
        if plan.closed_on:
            plan.business.status = Business.Status.CLOSED
            plan.business.closed_on = plan.closed_on
            plan.business.closed_reason = "Closed (demo history)"
    Business.objects.bulk_update(closed, ["status", "closed_on", "closed_reason"])
    counts["closed"] = len(closed)
    index_bulk_upsert(invoice_index_row(i, i.business, i.license) for i in invoices)
    return counts


def _at(day: date) -> datetime:
    """Mid-morning of `day`: when the demo history says something happened."""
    return timezone.make_aware(datetime.combine(day, time(10, 0)))


def _applications(rng: random.Random, used: set[str], user, this_year: int, today: date) -> int:
    """A dozen applications in review (some reviews done) and a few approved, unpaid.

    Each step in its own audit context, as separate requests would be: a context's reason
    is shared by everything recorded under it."""

    def as_user(reason: str | None = None):
        return audit_actor(user, source="demo data", reason=reason)

    made = 0
    for index in range(16):
        business, owner, code = _business(rng, used, index, this_year)
        business.opened_on = today - timedelta(days=rng.randrange(3, 40))
        with as_user("Business registered"), transaction.atomic():
            business.save()
            Contact.objects.create(business=business, name=owner, role="owner", is_primary=True)
        license_type = LicenseType.objects.get(code=code)
        with as_user():
            application = application_submit(
                business=business,
                license_type=license_type,
                requested_start=today,
                user=user,
                units=rng.randint(4, 30) if license_type.unit_label else None,
                received_on=business.opened_on,
            )
        made += 1
        reviews = list(application.reviews.all())
        if index < 4:  # approved, waiting for payment at the counter
            for review in reviews:
                with as_user():
                    review_decide(review=review, user=user, approved=True, notes="Meets code")
            with as_user():
                application_approve(application=application, user=user, issue_date=today)
        elif reviews and index % 2:
            with as_user():
                review_decide(
                    review=reviews[0], user=user, approved=True, notes="Inspection passed"
                )
    return made


def seed(stdout) -> None:
    if Business.objects.exists():
        stdout.write("  licensing: businesses already present, nothing added")
        return
    rng = random.Random(2026)
    today = timezone.localdate()
    this_year = today.year
    user = get_user_model().objects.filter(username="technician").first()
    types = {t.code: t for t in LicenseType.objects.all()}
    used: set[str] = set()
    plans = []
    for index in range(BUSINESSES):
        business, owner, code = _business(rng, used, index, this_year)
        start = max(business.opened_on, date(business.opened_on.year, 1, 2))
        plan = _Plan(
            business=business,
            owner=owner,
            license_type=types[code],
            start=start,
            units=rng.randint(2, 60) if code == "RENT" else None,
        )
        _simulate(plan, rng, this_year)
        plans.append(plan)
    with audit_actor(user, source="demo data", reason="Demonstration license history"):
        counts = _write(plans, user, this_year)
    applications = _applications(rng, used, user, this_year, today)
    daily = penalties_assess(as_of=today, user=user)  # the daily run, as on any morning
    stdout.write(
        f"  licensing: {len(plans) + applications} businesses, {counts['licenses']} licenses, "
        f"{counts['invoices']} invoices, {counts['closed']} closed, {applications} applications; "
        + daily.summary
    )
