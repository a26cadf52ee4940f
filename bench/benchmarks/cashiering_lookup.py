"""Payer lookup at the counter: `payer_search` over a payer index of 100,000 rows.

The index is filled as the billing imports fill it: utility accounts (nine in ten) and AR
invoices, with people's and businesses' names and Kent street addresses like the demo's,
created in bulk together with their index rows so `payer_search` loads real balances.

The queries are what cashiers type, drawn from the rows themselves: a whole name, a last
name with an initial, the start of a last name, a name misspelt past its first two letters
("jonhson", "smth"), the start of an account number or a whole one, an invoice number, a
house number with its street, a business's name.

Limit, measured in the same run on the same queries: the bare index query, the one
statement without which no search can answer (every typed word as a LIKE on the trigram
indexed search text, first 20 rows, through a raw cursor). `payer_search` adds to it the
number lookups, the ranking, the fuzzy fallback for misspellings and the balances. The
two take turns query by query, each going first every other query.

Two rows: p95 against the issue's budget of 30 ms (a fixed number), and p95 against the
bare query's p95.
"""

import os
import random
import sys
import time
from datetime import timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from bench.benchmarks import cashiering_fixtures as fixtures
from bench.registry import Context, Result, benchmark
from bench.timing import median, percentile
from cashiering.demo import BUSINESSES, FIRST, LAST, STREETS
from cashiering.models import ARInvoice, PayerIndex, UtilityAccount
from cashiering.payables import invoice_index_rows, utility_index_rows
from cashiering.selectors.payers import payer_search, search_words
from cashiering.targets import index_bulk_upsert

PAYERS = 100_000
INVOICE_SHARE = 10  # one row in ten is an AR invoice
BATCH = 5000
QUERIES = 300
P95_BUDGET_MS = 30.0
# payer_search plans and runs one statement of four sources (exact number, number
# prefix, words, and the fuzzy words that forgive typos, which measure trigram similarity
# on up to 200 candidates), ranks them, then loads the balances (one query per kind
# found). It measured 4-5x the bare query on the development machine (2 CPUs, shared).
# 6 tolerates that machine's noise and still fails on a source that is not bounded by
# its index (similarity over all 100,000 rows is tens of times the bare query) or on a
# query per result.
RATIO_TARGET = 6.0
SEED = 20261126
INVOICE_DESCRIPTIONS = [
    "False alarm response",
    "Right-of-way permit inspection",
    "Facility rental - Kent Commons",
    "Damage to city property",
    "Hydrant meter rental",
]


def _address(rng: random.Random) -> str:
    zip_code = rng.choice(("98030", "98031", "98032", "98042"))
    return f"{rng.randint(100, 27999)} {rng.choice(STREETS)}, Kent WA {zip_code}"


def _name(rng: random.Random) -> str:
    if rng.random() < 0.85:
        return f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    return rng.choice(BUSINESSES)


def fill_payer_index(total: int, *, at_least: int = 10_000) -> int:
    """Add utility accounts and AR invoices (with their index rows) until the payer
    index holds `total` rows, and `at_least` accounts and invoices to search for (a
    database kept from an earlier run may hold licenses only); returns how many rows it
    holds."""
    have = PayerIndex.objects.count()
    payers = _cashier_payers().count()
    at_least = min(at_least, total)
    serial = UtilityAccount.objects.filter(number__lt="900000").count()
    serial += ARInvoice.objects.filter(number__startswith="INV-5").count()
    rng = random.Random(SEED + serial)
    as_of = timezone.localdate() - timedelta(days=20)
    while have < total or payers < at_least:
        accounts, invoices = [], []
        for index in range(serial, serial + min(BATCH, max(total - have, at_least - payers))):
            if index % INVOICE_SHARE == INVOICE_SHARE - 1:
                amount = Decimal(rng.randint(2500, 250000)) / 100
                invoices.append(
                    ARInvoice(
                        number=f"INV-{500000 + index}",
                        customer_name=_name(rng),
                        customer_address=_address(rng),
                        description=rng.choice(INVOICE_DESCRIPTIONS),
                        invoice_date=as_of,
                        due_date=as_of + timedelta(days=30),
                        amount=amount,
                        amount_due=amount,
                    )
                )
            else:
                accounts.append(
                    UtilityAccount(
                        number=f"{200000 + index * 7:06d}-{rng.randint(0, 99):02d}",
                        name=_name(rng),
                        service_address=_address(rng),
                        balance=Decimal(rng.randint(2000, 90000)) / 100,
                        balance_as_of=as_of,
                    )
                )
        with transaction.atomic():
            UtilityAccount.objects.bulk_create(accounts, batch_size=1000)
            ARInvoice.objects.bulk_create(invoices, batch_size=1000)
            index_bulk_upsert(utility_index_rows(accounts))
            index_bulk_upsert(invoice_index_rows(invoices))
        serial += len(accounts) + len(invoices)
        have += len(accounts) + len(invoices)
        payers += len(accounts) + len(invoices)
    # As autovacuum does after an import: statistics for the planner, and the trigram
    # index's pending list merged (every search would scan it until then).
    with connection.cursor() as cursor:
        for table in ("cashiering_payerindex", "cashiering_utilityaccount", "cashiering_arinvoice"):
            cursor.execute(f"VACUUM (ANALYZE) {table}")
    return PayerIndex.objects.count()


def _misspell(word: str, rng: random.Random) -> str:
    """A typo past the first two letters: a letter dropped, doubled or two swapped."""
    if len(word) < 5:
        return word
    at = rng.randint(2, len(word) - 2)
    typo = rng.choice(("drop", "double", "swap"))
    if typo == "drop":
        return word[:at] + word[at + 1 :]
    if typo == "double":
        return word[: at + 1] + word[at] + word[at + 1 :]
    return word[:at] + word[at + 1] + word[at] + word[at + 2 :]


STYLES = [
    "whole name",  # "Maria Garcia"
    "last name, initial",  # "garcia m"
    "start of a name",  # "garc"
    "name misspelt",  # "maria garsia"
    "last name misspelt",  # "jonhson"
    "start of an account number",  # "2045", "204512"
    "whole number",  # "204512-37", "INV-504179", as on the bill
    "house number and street",  # "1234 meeker", "2210 s 240th"
    "business name",  # "valley auto"
]


def _query(style: str, kind: str, number: str, name: str, address: str, rng) -> str | None:
    """What a cashier types for this row in this style; None when the style does not fit."""
    words = name.split()
    person = name not in BUSINESSES and len(words) == 2
    if style == "whole name":
        return name if rng.random() < 0.5 else name.lower()
    if style == "last name, initial" and person:
        return f"{words[1]} {words[0][0]}".lower()
    if style == "start of a name" and person:
        return words[1][: rng.randint(3, 5)].lower()
    if style == "name misspelt" and person and len(words[1]) >= 5:
        return f"{words[0]} {_misspell(words[1], rng)}".lower()
    if style == "last name misspelt" and person and len(words[1]) >= 5:
        return _misspell(words[1], rng).lower()
    if style == "start of an account number" and kind == "utility":
        return number[: rng.randint(4, 6)]
    if style == "whole number":
        return number
    if style == "house number and street" and address:
        house, street = address.split(",")[0].split(" ", 1)
        typed = []
        for word in street.split():  # up to the first real word: "s 240th", "meeker"
            typed.append(word)
            if len(word) >= 3:
                break
        return f"{house} {' '.join(typed)}".lower()
    if style == "business name" and not person:
        return " ".join(words[:2]).lower()
    return None


def _cashier_payers():
    """The index rows of the accounts and invoices this benchmark adds."""
    return PayerIndex.objects.filter(kind__in=["utility", "invoice"]).exclude(
        name__startswith="Bench "  # the posting benchmark's own accounts
    )


def cashier_queries(count: int) -> list[tuple[str, str]]:
    """(style, query): what cashiers type, drawn from index rows, the styles in turn."""
    rng = random.Random(SEED)
    rows = list(_cashier_payers().order_by("id").values_list("kind", "number", "name", "address"))
    queries = []
    while len(queries) < count:
        style = STYLES[len(queries) % len(STYLES)]
        query = None
        while query is None:
            query = _query(style, *rng.choice(rows), rng)
        queries.append((style, query))
    return queries


def bare_index_query(query: str) -> list[tuple]:
    """Every typed word in the search text (trigram GIN index), first 20 rows."""
    words = search_words(query)
    conditions = " AND ".join(["search_text LIKE %s"] * len(words))
    patterns = []
    for word in words:
        escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        # Like payer_search: a word of one or two characters must start a word.
        patterns.append(f"% {escaped}%" if len(word) < 3 else f"%{escaped}%")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT kind, ref, number, name, address, detail FROM cashiering_payerindex "
            f"WHERE is_active AND {conditions} LIMIT 20",
            patterns,
        )
        return cursor.fetchall()


def _timed(work) -> tuple[float, int]:
    start = time.perf_counter()
    found = work()
    return (time.perf_counter() - start) * 1000, len(found)


_measured: dict[int, tuple[Context, dict]] = {}


def measure(ctx: Context) -> dict:
    cached = _measured.get(id(ctx))
    if cached is not None and cached[0] is ctx:
        return cached[1]
    fixtures.counter_reference()
    started = time.perf_counter()
    rows = fill_payer_index(ctx.count(PAYERS, minimum=10_000))
    fill_seconds = time.perf_counter() - started
    queries = cashier_queries(ctx.count(QUERIES, minimum=len(STYLES)))
    for _style, query in queries:  # warm the caches
        payer_search(query)
        bare_index_query(query)
    search_p50s, search_p95s, bare_p50s, bare_p95s = [], [], [], []
    by_query: list[list[float]] = [[] for _ in queries]
    empty_searches = 0
    for _rep in range(ctx.repeat):
        search_ms, bare_ms = [], []
        for number, (_style, query) in enumerate(queries):
            sides = ["search", "bare"] if number % 2 == 0 else ["bare", "search"]
            for side in sides:
                if side == "search":
                    spent, found = _timed(lambda q=query: payer_search(q))
                    search_ms.append(spent)
                    by_query[number].append(spent)
                    empty_searches += found == 0
                else:
                    bare_ms.append(_timed(lambda q=query: bare_index_query(q))[0])
        search_p50s.append(percentile(search_ms, 0.5))
        search_p95s.append(percentile(search_ms, 0.95))
        bare_p50s.append(percentile(bare_ms, 0.5))
        bare_p95s.append(percentile(bare_ms, 0.95))
    typical = [median(ms) for ms in by_query]
    by_style = {}
    for style in STYLES:
        spent = [ms for (s, _q), ms in zip(queries, typical, strict=True) if s == style]
        by_style[style] = {
            "p50_ms": round(percentile(spent, 0.5), 1),
            "p95_ms": round(percentile(spent, 0.95), 1),
        }
    slowest = sorted(zip(typical, (q for _s, q in queries), strict=True), reverse=True)[:6]
    result = {
        "p95_ms": median(search_p95s),
        "bare_p95_ms": median(bare_p95s),
        "details": {
            "payer_index_rows": rows,
            "load_average": [round(v, 1) for v in os.getloadavg()],
            "fill_seconds": round(fill_seconds, 1),
            "queries": len(queries),
            "sample_queries": [q for _s, q in queries[: 2 * len(STYLES)]],
            "payer_search_p50_ms": round(median(search_p50s), 2),
            "payer_search_p95_ms": [round(v, 2) for v in search_p95s],
            "bare_query_p50_ms": round(median(bare_p50s), 2),
            "bare_query_p95_ms": [round(v, 2) for v in bare_p95s],
            "searches_without_result": empty_searches // ctx.repeat,
            "by_style": by_style,
            "slowest_searches_ms": [[round(ms, 1), q] for ms, q in slowest],
        },
    }
    print(
        f"  payer_search over {rows:,} rows: p50 {median(search_p50s):.1f} ms, "
        f"p95 {result['p95_ms']:.1f} ms; bare index query p50 {median(bare_p50s):.1f} ms, "
        f"p95 {result['bare_p95_ms']:.1f} ms",
        file=sys.stderr,
    )
    _measured[id(ctx)] = (ctx, result)
    return result


# Decorators apply bottom-up: the budget row registers (and prints) first.
@benchmark(
    "cashiering.payer_search_vs_index",
    "payer_search p95 vs the bare trigram index query p95, same queries",
    row="ratio",
)
@benchmark(
    "cashiering.payer_search_p95",
    "payer_search p95 over 100,000 payers vs the 30 ms budget",
    row="budget",
)
def payer_search_p95(ctx: Context, *, row: str) -> Result:
    found = measure(ctx)
    if row == "budget":
        return Result(
            measured=found["p95_ms"],
            limit=P95_BUDGET_MS,
            units="ms",
            target=1.0,
            higher_is_better=False,
            details={"limit_is": "the issue's fixed budget, not measured", **found["details"]},
        )
    return Result(
        measured=found["p95_ms"],
        limit=found["bare_p95_ms"],
        units="ms",
        target=RATIO_TARGET,
        higher_is_better=False,
        details=found["details"],
    )
