"""Payment posting at the counter over HTTP: eight cashiers posting receipts at once.

The application runs for real: granian (4 workers x 2 threads) with production settings
against the benchmark database. Eight client threads, each signed in as its own cashier
with an open drawer, post receipts to `cashiering:receipt-post` as the receipt page's form
does (CSRF token from the page, an idempotency key per receipt, lines and tenders as
parallel lists) and time each post until its 302 to the print view. A mix of payments: a
utility account payment, every fourth with copies added, paid in cash with change, by
check or by card.

Latency is measured twice. Back to back, eight clients keep the server saturated, so a
post's latency there is simply 8 / throughput (Little's law) and is reported as a detail.
The 50 ms budget is checked in a phase where the eight cashiers post together at a steady
rate of half what the server sustained back to back (each on its own schedule): a busy
server, far busier than any counter, but not an overrun one.

Limit: pgbench's TPC-B-like rate with the same eight clients on the same server, in its
own database. A receipt is one short read-write transaction with a gapless number (one
hot counter row, like TPC-B's single branch at scale 1), so pgbench is what the server
allows for such transactions; the target is 10% of it. Latency has the issue's budget,
p95 <= 50 ms per post: a fixed number, so it is reported on a row of its own.

Also measured in the same run, as details: `receipt_post` called in-process on eight
threads (no HTTP, no forms, no sessions), to show what the web layer costs; and one
cashier posting alone for a chunk, the latency of a post that waits for nobody.

HTTP, in-process and pgbench take turns in chunks of a few seconds, in alternating order,
so a change of load on the shared machine hits all three alike. Afterwards the database
must hold every posted receipt, numbered without gaps.
"""

import os
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connection
from django.urls import reverse

from bench.appserver import Browser, app_server, csrf_token
from bench.benchmarks import cashiering_fixtures as fixtures
from bench.pgbench import pgbench_tps
from bench.registry import Context, Result, benchmark
from bench.timing import median, percentile, run_on_threads
from cashiering.models import Receipt, TenderType
from cashiering.selectors.counter import tender_types_active
from cashiering.services.receipt_inputs import TENDER_DETAIL_FIELDS, LineInput, TenderInput
from cashiering.services.receipts import receipt_post

CLIENTS = 8
WORKERS = 4
THREADS = 2
CHUNK_SECONDS = 5
CHUNKS = 2  # per repetition, each side
ACCOUNTS_PER_CASHIER = 400
WARMUP_SECONDS = 1.5  # each side, before the clock starts
RATE_TARGET = 0.10
P95_BUDGET_MS = 50.0
PACED_SHARE = 0.5  # the steady load of the latency phase, as a share of the sustained rate


@dataclass(frozen=True)
class Payment:
    payer_name: str
    memo: str
    lines: list[tuple[str, str, Decimal | None, Decimal | None, Decimal | None]]
    tender: dict[str, str]
    tender_amount: Decimal

    def form(self, key: uuid.UUID, token: str) -> list[tuple[str, str]]:
        """The receipt page's form as a browser submits it: every field of every row."""
        fields = [
            ("csrfmiddlewaretoken", token),
            ("idempotency_key", str(key)),
            ("payer_name", self.payer_name),
            ("memo", self.memo),
        ]
        for kind, ref, amount, quantity, price in self.lines:
            fields += [
                ("line_kind", kind),
                ("line_ref", ref),
                ("line_amount", "" if amount is None else str(amount)),
                ("line_quantity", "" if quantity is None else str(quantity)),
                ("line_unit_price", "" if price is None else str(price)),
            ]
        fields.append(("tender_amount", str(self.tender_amount)))
        for name in ("type", *TENDER_DETAIL_FIELDS):
            fields.append((f"tender_{name}", self.tender.get(name, "")))
        return fields

    def service_inputs(self, tender_types: dict[str, TenderType]):
        lines = [
            LineInput(
                kind=kind,
                ref=ref,
                amount=amount,
                quantity=quantity if quantity is not None else Decimal(1),
                unit_price=price,
            )
            for kind, ref, amount, quantity, price in self.lines
        ]
        extra = {k: v for k, v in self.tender.items() if k != "type"}
        tenders = [
            TenderInput(
                tender_type=tender_types[self.tender["type"]], amount=self.tender_amount, **extra
            )
        ]
        return lines, tenders


def payment(serial: int, account: str, memo: str) -> Payment:
    """The serial-th payment of a cashier: deterministic, varied."""
    amount = Decimal(25 + serial % 150) + Decimal(serial % 100) / 100
    lines: list = [("utility", account, amount, None, None)]
    total = amount
    if serial % 4 == 3:
        copies = Decimal(serial % 20 + 1)
        lines.append(("fee", "COPY", None, copies, Decimal("0.15")))
        total += (copies * Decimal("0.15")).quantize(Decimal("0.01"))
    kind = serial % 3
    if kind == 0:  # cash, rounded up to the next ten: change is given
        paid = (total / 10).quantize(Decimal(1), rounding=ROUND_CEILING) * 10
        return Payment(f"Bench Payer {serial}", memo, lines, {"type": "CASH"}, paid)
    if kind == 1:
        tender = {
            "type": "CHECK",
            "check_number": str(1001 + serial % 8000),
            "check_payer": f"Bench Payer {serial}",
            "account_last4": f"{serial % 10000:04d}",
        }
    else:
        tender = {
            "type": "CREDIT",
            "card_brand": "Visa",
            "card_last4": f"{(serial * 7) % 10000:04d}",
            "auth_code": f"{(serial * 7919) % 1000000:06d}",
        }
    return Payment(f"Bench Payer {serial}", memo, lines, tender, total)


class Counter:
    """Eight cashiers at their windows: HTTP clients and the same work in-process."""

    def __init__(self, ctx: Context) -> None:
        fixtures.counter_reference()
        self.cashiers = fixtures.cashiers(CLIENTS)
        self.accounts = [fixtures.posting_accounts(i, ACCOUNTS_PER_CASHIER) for i in range(CLIENTS)]
        # As the view reads them: with their clearing accounts (posting debits them).
        self.tender_types = {t.code: t for t in tender_types_active()}
        self.serial = [0] * CLIENTS
        self.browsers: list[Browser] = []
        self.tokens: list[str] = []
        self.failures: list[str] = []
        self.lock = threading.Lock()

    def next_payment(self, client: int, memo: str) -> Payment:
        serial = self.serial[client]
        self.serial[client] += 1
        accounts = self.accounts[client]
        return payment(serial, accounts[serial % len(accounts)], memo)

    # -- HTTP ------------------------------------------------------------------------

    def sign_in(self, server) -> None:
        """Each cashier signs in and opens the receipt page (its form carries the CSRF
        token every post sends back with the csrftoken cookie)."""
        self.browsers = [Browser(server) for _ in self.cashiers]
        self.tokens = [""] * len(self.cashiers)

        def sign_in(index: int) -> None:
            cashier, browser = self.cashiers[index], self.browsers[index]
            browser.sign_in(cashier.username, fixtures.CASHIER_PASSWORD)
            page = browser.get(reverse("cashiering:receipt-new", args=[cashier.session.pk]))
            if page.status != 200:
                raise RuntimeError(f"The receipt page answered {page.status}.")
            self.tokens[index] = csrf_token(page)

        run_on_threads(sign_in, len(self.cashiers))

    def post_http(
        self, seconds: float, tag: str, latencies: list[float], clients: int = CLIENTS
    ) -> tuple[int, float]:
        """The first `clients` cashiers post until `seconds` have passed; returns (302s,
        elapsed)."""
        counts = [0] * clients
        per_client: list[list[float]] = [[] for _ in range(clients)]

        def work(index: int) -> None:
            browser = self.browsers[index]
            path = reverse("cashiering:receipt-post", args=[self.cashiers[index].session.pk])
            deadline = time.perf_counter() + seconds
            while time.perf_counter() < deadline:
                form = self.next_payment(index, tag).form(uuid.uuid4(), self.tokens[index])
                start = time.perf_counter()
                response = browser.post(path, form)
                spent = time.perf_counter() - start
                if response.status == 302 and "/print/" in response.location:
                    counts[index] += 1
                    per_client[index].append(spent)
                else:
                    with self.lock:
                        self.failures.append(f"{response.status} {response.text[:300]!r}")
            browser.close()  # idle keep-alive connections would time out between chunks

        elapsed = run_on_threads(work, clients)
        for values in per_client:
            latencies.extend(values)
        return sum(counts), elapsed

    def post_http_paced(
        self, seconds: float, tag: str, latencies: list[float], rate: float
    ) -> tuple[int, float]:
        """All cashiers post at a steady `rate` receipts/s between them (each its share,
        on its own schedule, starts staggered), for `seconds`: the latency of a post when
        the server is busy but not overrun. A cashier that falls behind its schedule posts
        at once, without bursting to catch up."""
        counts = [0] * CLIENTS
        per_client: list[list[float]] = [[] for _ in range(CLIENTS)]
        interval = CLIENTS / rate

        def work(index: int) -> None:
            browser = self.browsers[index]
            path = reverse("cashiering:receipt-post", args=[self.cashiers[index].session.pk])
            start = time.perf_counter()
            deadline = start + seconds
            due = start + interval * index / CLIENTS
            while True:
                now = time.perf_counter()
                if due > now:
                    time.sleep(due - now)
                if time.perf_counter() >= deadline:
                    break
                form = self.next_payment(index, tag).form(uuid.uuid4(), self.tokens[index])
                sent = time.perf_counter()
                response = browser.post(path, form)
                spent = time.perf_counter() - sent
                if response.status == 302 and "/print/" in response.location:
                    counts[index] += 1
                    per_client[index].append(spent)
                else:
                    with self.lock:
                        self.failures.append(f"{response.status} {response.text[:300]!r}")
                due = max(due + interval, time.perf_counter())
            browser.close()

        elapsed = run_on_threads(work, CLIENTS)
        for values in per_client:
            latencies.extend(values)
        return sum(counts), elapsed

    # -- in-process --------------------------------------------------------------------

    def post_service(self, seconds: float, tag: str) -> tuple[int, float]:
        counts = [0] * CLIENTS

        def work(index: int) -> None:
            cashier = self.cashiers[index]
            deadline = time.perf_counter() + seconds
            while time.perf_counter() < deadline:
                pay = self.next_payment(index, tag)
                lines, tenders = pay.service_inputs(self.tender_types)
                receipt_post(
                    session=cashier.session,
                    payer_name=pay.payer_name,
                    lines=lines,
                    tenders=tenders,
                    idempotency_key=uuid.uuid4(),
                    user=cashier.user,
                    memo=pay.memo,
                )
                counts[index] += 1

        elapsed = run_on_threads(work, CLIENTS)
        return sum(counts), elapsed


def check_receipts(expected: dict[str, int]) -> dict:
    """Every 302 left its receipt, and the live series has no gap and no duplicate."""
    for tag, count in expected.items():
        found = Receipt.objects.filter(memo=tag).count()
        if found != count:
            raise AssertionError(f"{count} receipts posted as {tag!r}, {found} in the database")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), count(DISTINCT number), min(number), max(number) "
            "FROM cashiering_receipt WHERE series = 'R'"
        )
        total, distinct, first, last = cursor.fetchone()
        cursor.execute("SELECT next_value FROM kent_cs_numberseries WHERE key = 'receipt-R'")
        (next_value,) = cursor.fetchone()
    if not (total == distinct == last - first + 1 and first == 1 and next_value == last + 1):
        raise AssertionError(
            f"Receipt numbers are not contiguous: {total} receipts, {distinct} numbers, "
            f"{first}..{last}, next {next_value}"
        )
    return {"receipts_in_series": total, "numbers": f"R-{first}..R-{last}, no gaps"}


_measured: dict[int, tuple[Context, dict | Exception]] = {}


def measure(ctx: Context) -> dict:
    """One measurement for both rows (rate and latency) of a run (a failure too)."""
    cached = _measured.get(id(ctx))
    if cached is None or cached[0] is not ctx:
        try:
            outcome: dict | Exception = _measure(ctx)
        except Exception as exc:
            outcome = exc
        cached = _measured[id(ctx)] = (ctx, outcome)
    if isinstance(cached[1], Exception):
        raise cached[1]
    return cached[1]


def _measure(ctx: Context) -> dict:
    # Receipts are told apart by their memo: this run's, per side.
    run = uuid.uuid4().hex[:8]
    http_tag, service_tag = f"bench-http {run}", f"bench-service {run}"
    load_start = [round(v, 1) for v in os.getloadavg()]
    counter = Counter(ctx)
    seconds = max(1, round(CHUNK_SECONDS * ctx.scale))
    pgbench_db = urlsplit(ctx.database_url).path.lstrip("/") + "_pgbench"
    rates: dict[str, list[float]] = {"http": [], "service": [], "pgbench": []}
    p50s: list[float] = []
    p95s: list[float] = []
    all_latencies: list[float] = []
    posted = {http_tag: 0, service_tag: 0, f"{http_tag}-warmup": 0, f"{service_tag}-warmup": 0}
    with app_server(ctx.database_url, workers=WORKERS, threads=THREADS) as server:
        counter.sign_in(server)
        # Warm up each side: worker imports and pools, caches, pgbench's tables.
        warmup = (f"{http_tag}-warmup", f"{service_tag}-warmup")
        posted[warmup[0]] += counter.post_http(WARMUP_SECONDS, warmup[0], [])[0]
        posted[warmup[1]] += counter.post_service(WARMUP_SECONDS, warmup[1])[0]
        pgbench_tps(ctx.database_url, CLIENTS, 2, database=pgbench_db, initialize=True)
        # One cashier alone, once: the latency of a post that waits for nobody.
        alone: list[float] = []
        posted[http_tag] += counter.post_http(seconds, http_tag, alone, clients=1)[0]
        turn = 0
        for _rep in range(ctx.repeat):
            done = {"http": 0, "service": 0}
            spent = {"http": 0.0, "service": 0.0}
            pgbench_rates = []
            latencies: list[float] = []
            for _chunk in range(CHUNKS):
                order = ["pgbench", "http", "service"]
                if turn % 2:
                    order.reverse()
                turn += 1
                for side in order:
                    if side == "pgbench":
                        pgbench_rates.append(
                            pgbench_tps(
                                ctx.database_url,
                                CLIENTS,
                                seconds,
                                database=pgbench_db,
                                initialize=False,
                            )
                        )
                        continue
                    if side == "http":
                        count, elapsed = counter.post_http(seconds, http_tag, latencies)
                    else:
                        count, elapsed = counter.post_service(seconds, service_tag)
                    done[side] += count
                    spent[side] += elapsed
            for side in ("http", "service"):
                rates[side].append(done[side] / spent[side])
                posted[http_tag if side == "http" else service_tag] += done[side]
            rates["pgbench"].append(median(pgbench_rates))
            p50s.append(percentile(latencies, 0.50) * 1000)
            p95s.append(percentile(latencies, 0.95) * 1000)
            all_latencies += latencies
        # Latency at a steady load of half what the server sustained above: eight
        # cashiers posting far faster than any counter does, with the server not overrun.
        paced_rate = PACED_SHARE * median(rates["http"])
        paced: list[float] = []
        paced_count, paced_elapsed = counter.post_http_paced(
            seconds * CHUNKS, http_tag, paced, paced_rate
        )
        posted[http_tag] += paced_count
    if counter.failures:
        raise AssertionError(
            f"{len(counter.failures)} posts were not accepted, e.g. {counter.failures[0]}"
        )
    checked = check_receipts(posted)
    http_rate, pgbench_rate = median(rates["http"]), median(rates["pgbench"])
    result = {
        "http_rate": http_rate,
        "pgbench_tps": pgbench_rate,
        "p50_ms": median(p50s),
        "p95_ms": median(p95s),
        "paced_p50_ms": percentile(paced, 0.50) * 1000,
        "paced_p95_ms": percentile(paced, 0.95) * 1000,
        "paced_rate": paced_count / paced_elapsed,
        "details": {
            "clients": CLIENTS,
            "server": f"granian, {WORKERS} workers x {THREADS} threads, DEBUG off",
            "chunk_seconds": seconds,
            "chunks_per_repetition": CHUNKS,
            "receipts_per_s": [round(r, 1) for r in rates["http"]],
            "pgbench_tps": [round(r, 1) for r in rates["pgbench"]],
            "ratios": [
                round(a / b, 3) for a, b in zip(rates["http"], rates["pgbench"], strict=True)
            ],
            "p50_ms": [round(v, 1) for v in p50s],
            "p95_ms": [round(v, 1) for v in p95s],
            "p99_ms_all": round(percentile(all_latencies, 0.99) * 1000, 1),
            "max_ms_all": round(max(all_latencies) * 1000, 1),
            "posts_timed": len(all_latencies),
            "one_client_p50_ms": round(percentile(alone, 0.5) * 1000, 1),
            "one_client_p95_ms": round(percentile(alone, 0.95) * 1000, 1),
            "service_receipts_per_s": [round(r, 1) for r in rates["service"]],
            "service_receipts_per_s_median": round(median(rates["service"]), 1),
            "service_ratio_to_pgbench": round(median(rates["service"]) / pgbench_rate, 3),
            "http_share_of_service_rate": round(http_rate / median(rates["service"]), 3),
            "service_debug": settings.DEBUG,
            "load_average": {"start": load_start, "end": [round(v, 1) for v in os.getloadavg()]},
            **checked,
        },
    }
    print(
        f"  at a steady {result['paced_rate']:.1f} receipts/s (half of capacity): p50 "
        f"{result['paced_p50_ms']:.1f} ms, p95 {result['paced_p95_ms']:.1f} ms",
        file=sys.stderr,
    )
    print(
        f"  receipts over HTTP: {http_rate:.1f}/s, p50 {result['p50_ms']:.1f} ms, "
        f"p95 {result['p95_ms']:.1f} ms (one cashier alone: p50 "
        f"{result['details']['one_client_p50_ms']:.1f} ms); in-process receipt_post "
        f"{median(rates['service']):.1f}/s; pgbench {pgbench_rate:.0f} tps",
        file=sys.stderr,
    )
    return result


# Decorators apply bottom-up: the rate row registers (and prints) first.
@benchmark(
    "cashiering.receipt_post_http_p95",
    "p95 of a receipt post over HTTP, 8 cashiers at half the sustained rate, vs 50 ms",
    row="p95",
)
@benchmark(
    "cashiering.receipt_post_http",
    "receipts/s posted over HTTP by 8 cashiers vs pgbench TPC-B, 8 clients",
    row="rate",
)
def receipt_post_http(ctx: Context, *, row: str) -> Result:
    found = measure(ctx)
    if row == "rate":
        return Result(
            measured=found["http_rate"],
            limit=found["pgbench_tps"],
            units="tx/s",
            target=RATE_TARGET,
            details={**found["details"], "p50_ms_median": round(found["p50_ms"], 1)},
        )
    return Result(
        measured=found["paced_p95_ms"],
        limit=P95_BUDGET_MS,
        units="ms",
        target=1.0,
        higher_is_better=False,
        details={
            "limit_is": "the issue's fixed budget, not measured",
            "measured_is": (
                "p95 of a post with 8 cashiers posting together at a steady "
                f"{found['paced_rate']:.1f} receipts/s, half the rate the server sustained "
                "with 8 cashiers posting back to back"
            ),
            "paced_p50_ms": round(found["paced_p50_ms"], 1),
            "paced_rate_per_s": round(found["paced_rate"], 1),
            "saturated_p50_ms_median": round(found["p50_ms"], 1),
            "saturated_p95_ms_median": round(found["p95_ms"], 1),
            "saturated_p95_ms": found["details"]["p95_ms"],
            "p99_ms_all": found["details"]["p99_ms_all"],
            "max_ms_all": found["details"]["max_ms_all"],
            "one_client_p50_ms": found["details"]["one_client_p50_ms"],
            "one_client_p95_ms": found["details"]["one_client_p95_ms"],
            "pgbench_mean_latency_ms": round(1000 * CLIENTS / found["pgbench_tps"], 2),
        },
    )
