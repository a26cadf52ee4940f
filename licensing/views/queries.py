"""Reads of the licensing screens that licensing.selectors does not have (yet): the wider
business search, and the lists and lookups behind single pages. Every lookup by id
raises 404; licensing records are city-wide, so there is no per-user scope."""

import re
from datetime import date
from typing import Any

from django.contrib.postgres.search import TrigramSimilarity, TrigramWordSimilarity
from django.db.models import (
    Case,
    DateField,
    F,
    FloatField,
    Func,
    IntegerField,
    Prefetch,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Greatest
from django.db.models.lookups import GreaterThanOrEqual
from django.shortcuts import get_object_or_404

from licensing.models import (
    Business,
    Contact,
    InvoiceKind,
    License,
    LicenseInvoice,
    LicenseInvoiceLine,
    RenewalRun,
    Review,
)
from licensing.validators import address_key

INVOICES_SHOWN = 60


def business_search(*, query: str = "", include_closed: bool = False) -> QuerySet[Business]:
    """Businesses by legal or trade name (forgiving typos word by word), UBI, license
    number (BL000123, 123, or the number in the system it was imported from), street
    address, or the name of an owner or other contact; exact identifiers first, then the
    closest names. Each row has its licenses prefetched (one more query per page).

    Each way of matching is a set of ids worked out once (the names through their
    trigram indexes: `~*` and `%>` use them, Django's icontains, an UPPER() LIKE, does
    not), so no condition is evaluated row by row across every business."""
    businesses = Business.objects.prefetch_related(
        Prefetch("licenses", queryset=License.objects.order_by("-number"))
    )
    if not include_closed:
        businesses = businesses.filter(status=Business.Status.OPEN)
    query = " ".join(query.split())[:100]
    if not query:
        return businesses.order_by("legal_name", "pk")
    pattern = re.escape(query)
    digits = "".join(ch for ch in query if ch.isdigit())
    identifiers = Q(legacy_number__in={query, query.upper()})
    number = query.upper().replace(" ", "").removeprefix("BL")
    if number.isdigit() and len(number) <= 9:
        identifiers |= Q(number=int(number))
    exact = Q(pk__in=License.objects.filter(identifiers).values("business_id"))
    if len(digits) == 9 and not any(ch.isalpha() for ch in query):
        exact |= Q(ubi=digits)
    names = Q(legal_name__iregex=pattern) | Q(trade_name__iregex=pattern)
    words = [w for w in re.split(r"\W+", query.casefold()) if len(w) >= 3 and not w.isdigit()]
    if words:
        names |= _all_words_in_name(words)
    address = Q(location_line1__iregex=pattern)
    street = address_key(query, "").partition("|")[0]
    if street:  # "1220 West Meeker Street" finds "1220 W Meeker St"
        address |= Q(location_key__contains=street)
    contacts = Contact.objects.filter(is_active=True, name__iregex=pattern)
    found = (
        exact
        | Q(pk__in=Business.objects.filter(names).values("pk"))
        | Q(pk__in=Business.objects.filter(address).values("pk"))
        | Q(pk__in=contacts.values("business_id"))
    )
    rank = Greatest(
        TrigramWordSimilarity(query, "legal_name"),
        TrigramWordSimilarity(query, "trade_name"),
        Case(When(exact, then=Value(2.0)), default=Value(0.0)),
        output_field=FloatField(),
    )
    # Among equal word matches, the name closest as a whole first ("Valley Florist"
    # before "Kent Valley Youth Soccer Club" for "valley").
    closeness = Greatest(
        TrigramSimilarity("legal_name", query), TrigramSimilarity("trade_name", query)
    )
    return (
        businesses.filter(found)
        .annotate(rank=rank, closeness=closeness)
        .order_by("-rank", "-closeness", "legal_name", "pk")
    )


# How alike a typed word and a word of the name must be (pg_trgm word_similarity):
# "bakry" is 0.5 like "Bakery", "meker" 0.57 like "Meeker".
WORD_SIMILARITY = 0.5


def _all_words_in_name(words: list[str]) -> Q:
    """Every word has a word like it in the legal or trade name. A misspelt word rarely
    gets its first three letters wrong (the counter's payer search makes the same bet):
    those, found in a name through the trigram indexes, select the few candidates whose
    similarity is then worked out."""
    condition = Q()
    for word in words:
        alike = Greatest(
            TrigramWordSimilarity(word, "legal_name"), TrigramWordSimilarity(word, "trade_name")
        )
        start = re.escape(word[:3])
        condition &= (Q(legal_name__iregex=start) | Q(trade_name__iregex=start)) & Q(
            GreaterThanOrEqual(alike, WORD_SIMILARITY)
        )
    return condition


def business_by_ubi(ubi: str) -> Business | None:
    """The open business with this UBI, else the most recently closed one."""
    return Business.objects.filter(ubi=ubi).order_by("status", "-opened_on").first()


def business_invoices(business: Business) -> list[LicenseInvoice]:
    """The business's invoices, newest first (the most recent INVOICES_SHOWN)."""
    return list(
        business.invoices.select_related("license__license_type").order_by("-year", "-seq")[
            :INVOICES_SHOWN
        ]
    )


def license_invoices(license: License) -> list[LicenseInvoice]:
    return list(license.invoices.order_by("-year", "-seq"))


def contact_get(*, pk: int) -> Contact:
    return get_object_or_404(Contact.objects.select_related("business"), pk=pk)


def review_get(*, pk: int) -> Review:
    return get_object_or_404(Review.objects.select_related("application"), pk=pk)


def renewal_runs(*, year: int | None = None) -> QuerySet[RenewalRun]:
    runs = RenewalRun.objects.select_related("started_by", "job")
    if year is not None:
        runs = runs.filter(year=year)
    return runs.order_by("-created_at", "-pk")


def renewal_run_get(*, pk: int) -> RenewalRun:
    return get_object_or_404(RenewalRun.objects.select_related("started_by", "job"), pk=pk)


def application_result(application) -> dict[str, Any]:
    """For an approved application: its license and the license's first invoice."""
    license = License.objects.filter(application=application).select_related("license_type").first()
    invoice = None
    if license is not None:
        invoice = license.invoices.order_by("year", "seq").first()
    return {"license": license, "invoice": invoice}


def delinquent_invoices(*, as_of: date) -> QuerySet[LicenseInvoice]:
    """Renewal invoices unpaid past their due date, most days late first, with `days_late`
    and `penalties`. As selectors.delinquency, but the days late are computed as PostgreSQL
    `date - date` (a whole number): Django's date subtraction there yields an interval,
    which the integer annotation cannot read."""
    days_late = Func(
        Value(as_of, output_field=DateField()),
        F("due_date"),
        template="(%(expressions)s)",
        arg_joiner=" - ",
        output_field=IntegerField(),
    )
    return (
        LicenseInvoice.objects.filter(
            kind=InvoiceKind.RENEWAL, status=LicenseInvoice.Status.OPEN, due_date__lt=as_of
        )
        .annotate(
            days_late=days_late,
            penalties=Sum("lines__amount", filter=Q(lines__kind=LicenseInvoiceLine.PENALTY)),
        )
        .select_related("business", "license__license_type")
        .order_by("due_date", "business__legal_name", "number")
    )
