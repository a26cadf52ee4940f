# ruff: noqa: RUF003 - en dashes and × are what users read (25–49 FTE)
"""Business reads: lookups that authorize (404 otherwise), duplicate detection, the
business search of the licensing screens, and a business page's data. Licensing records
are city-wide, so there is no per-user scope."""

import re
from dataclasses import dataclass
from typing import Any

from django.contrib.postgres.search import TrigramSimilarity, TrigramWordSimilarity
from django.db.models import (
    Case,
    FloatField,
    Prefetch,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Greatest
from django.db.models.lookups import GreaterThanOrEqual
from django.shortcuts import get_object_or_404

from licensing.models import (
    Business,
    Contact,
    License,
    LicenseInvoice,
)
from licensing.validators import address_key, normalise_ubi

SIMILAR_NAME = 0.45  # pg_trgm similarity above which two names at one address look alike


@dataclass(frozen=True)
class DuplicateMatch:
    business: Business
    reason: str
    blocking: bool  # True: refused outright (an open business with the same UBI)


def business_duplicates(
    *,
    ubi: str,
    legal_name: str,
    trade_name: str = "",
    location_line1: str = "",
    location_zip: str = "",
    exclude_pk: int | None = None,
) -> list[DuplicateMatch]:
    """Businesses a new (or edited) one may duplicate: the same UBI (open: refused; closed:
    a warning, reopen it instead), or a similar name at the same address."""
    matches: list[DuplicateMatch] = []
    others = Business.objects.all()
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    try:
        ubi = normalise_ubi(ubi)
    except Exception:
        ubi = ""
    seen: set[int] = set()
    if ubi:
        for business in others.filter(ubi=ubi).order_by("status", "-opened_on"):
            blocking = business.status == Business.Status.OPEN
            reason = (
                "an open business has the same UBI"
                if blocking
                else f"a business closed on {business.closed_on:%b %-d, %Y} had this UBI; "
                "reopen it instead?"
            )
            matches.append(DuplicateMatch(business, reason, blocking))
            seen.add(business.pk)
    key = address_key(location_line1, location_zip)
    names = [n for n in (legal_name, trade_name) if n and n.strip()]
    if key and names:
        similarity = Greatest(
            *[
                TrigramSimilarity(column, name)
                for name in names
                for column in ("legal_name", "trade_name")
            ],
            Value(0.0),
        )
        similar = (
            others.filter(location_key=key)
            .exclude(pk__in=seen)
            .annotate(similarity=similarity)
            .filter(similarity__gte=SIMILAR_NAME)
            .order_by("-similarity")[:10]
        )
        for business in similar:
            matches.append(
                DuplicateMatch(
                    business,
                    f"a similar name at the same address ({business.get_status_display().lower()})",
                    False,
                )
            )
    return matches


def business_get(*, pk: int) -> Business:
    return get_object_or_404(Business, pk=pk)


def business_detail(*, pk: int) -> dict[str, Any]:
    """A business page's data in a constant number of queries."""
    business = business_get(pk=pk)
    return {
        "business": business,
        "contacts": list(business.contacts.filter(is_active=True)),
        "licenses": list(business.licenses.select_related("license_type").order_by("-number")),
        "applications": list(
            business.applications.select_related("license_type").prefetch_related("reviews")
        ),
        "open_invoices": list(
            business.invoices.filter(status=LicenseInvoice.Status.OPEN).select_related("license")
        ),
    }


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


def contact_get(*, pk: int) -> Contact:
    return get_object_or_404(Contact.objects.select_related("business"), pk=pk)
