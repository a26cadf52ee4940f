"""Renewal notices: pages per second of the notices PDF, against WeasyPrint alone.

Measured: the background task behind "Renewal notices (PDF)" for one renewal run's 50
unpaid invoices, as one chunk (`licensing.tasks.renewal_notice_chunk_task`, called
in-process; `licensing.renewal_notices_workers` measures several chunks on several
workers): it claims the chunk, builds each notice's context (`renewal_notice_context`: the
business, license, lines, projected late penalties, the primary contact), renders the
notices template and lays it out chunk by chunk (`licensing.documents.notices_pdf`),
writes one PDF of all pages, stores it and puts it on the job. Pages are counted in the PDF.

Limit, measured in the same run: WeasyPrint writing the same HTML (the notices template
rendered once with the same context, before the clock starts) to PDF in one call:
`HTML(string=html, base_url=..., url_fetcher=...).write_pdf()`. The base URL and the
app's fetcher (static files read from disk) are there so the stylesheets load: without
them it would be a different, unstyled document. So the ratio is what the app adds to
WeasyPrint's own work: the queries, the template, the chunks and their merge, the job.

The two sides alternate, each going first every other render; both must give the same
number of pages, at least one per notice.
"""

import os
import re
import sys
import time
import zlib

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone

from bench.benchmarks import licensing_fixtures as fixtures
from bench.benchmarks.licensing_renewals import run_task
from bench.registry import Context, Result, benchmark
from bench.timing import median
from kent_cs.models import Job
from kent_cs.reports import PDF_BASE_TEMPLATE, PDF_BASE_URL, pdf_url_fetcher
from licensing.documents import (
    NOTICES_TEMPLATE,
    notice_invoices,
    notices_context,
    notices_title,
)
from licensing.services.notices import notice_run_create
from licensing.tasks import renewal_notice_chunk_task

NOTICES = 50
RENDERS = 1  # per side and repetition: 50 pages take WeasyPrint some 4-10 s here
# The app's work over WeasyPrint's: five queries a notice (250 for 50), the template,
# laying out in chunks and merging their pages, storing the PDF. WeasyPrint's layout is
# most of the time: the app measured 0.70-0.96 of it on the development machine (2 CPUs,
# load 3-6). 0.6 allows for that noise and still fails if notices were laid out one
# WeasyPrint document each (the fixed cost of a render, stylesheets and fonts, per page).
TARGET_RATIO = 0.6

_PAGE = re.compile(rb"/Type\s*/Page\b")
_STREAM = re.compile(rb"stream\r?\n(.*?)\r?\nendstream", re.S)


def pdf_pages(data: bytes) -> int:
    """Pages of a PDF: page objects, in the open or in compressed object streams."""
    pages = len(_PAGE.findall(data))
    for match in _STREAM.finditer(data):
        try:
            pages += len(_PAGE.findall(zlib.decompress(match.group(1))))
        except zlib.error:
            continue  # an image or font stream
    return pages


def notices_job(run, ids: list[int], user) -> Job:
    """What starting one run's notices writes (the notice run, its job, one chunk), with
    the chunk's task called here instead of enqueued."""
    notice_run = notice_run_create(
        year=run.year,
        renewal_run=run,
        invoice_ids=ids,
        title=f"Renewal notices for {run.year}",
        user=user,
        chunk_size=len(ids),
    )
    chunk = notice_run.chunk_set.get()
    if not renewal_notice_chunk_task.call(chunk.pk, chunk.attempt):
        raise AssertionError("The notices chunk was not stored.")
    return Job.objects.get(pk=notice_run.job_id)


@benchmark(
    "licensing.renewal_notices",
    "renewal notice pages/s through the notices task vs WeasyPrint on the same HTML",
)
def renewal_notices(ctx: Context) -> Result:
    from weasyprint import HTML

    count = ctx.count(NOTICES, minimum=5)
    user = ctx.user
    year = fixtures.next_free_year()
    population = fixtures.population(count, license_year=year, seed=year, contacts=True)
    run = run_task(population.renewal_year, user).run
    ids = list(
        notice_invoices(year=run.year, run=run).values_list("pk", flat=True)
    )  # unpaid ones: fully exempt licenses get no notice
    title = notices_title(year=run.year)
    # What kent_cs.reports.pdf_html renders for the PDF.
    base = {
        "city_name": settings.CITY_NAME,
        "generated_at": timezone.localtime(),
        "base_template": PDF_BASE_TEMPLATE,
    }
    html = render_to_string(NOTICES_TEMPLATE, {**base, **notices_context(ids, title=title)})

    def app() -> bytes:
        job = notices_job(run, ids, user)
        if job.status != Job.Status.SUCCEEDED:
            raise AssertionError(f"The notices job ended {job.status}: {job.message}")
        return bytes(job.result_data)

    def weasyprint() -> bytes:
        return HTML(string=html, base_url=PDF_BASE_URL, url_fetcher=pdf_url_fetcher()).write_pdf()

    # Warm up (fonts, stylesheets, the template) on two notices; the measured renders
    # then check their pages: one a notice, the same on both sides.
    HTML(
        string=render_to_string(
            NOTICES_TEMPLATE, {**base, **notices_context(ids[:2], title=title)}
        ),
        base_url=PDF_BASE_URL,
        url_fetcher=pdf_url_fetcher(),
    ).write_pdf()
    pages: dict[str, int] = {}
    rates: dict[str, list[float]] = {"app": [], "weasyprint": []}
    seconds: dict[str, list[float]] = {"app": [], "weasyprint": []}
    sizes: dict[str, int] = {}
    turn = 0
    for _rep in range(ctx.repeat):
        spent = {"app": [], "weasyprint": []}
        for _render in range(RENDERS):
            order = [("app", app), ("weasyprint", weasyprint)]
            for side, work in order if turn % 2 == 0 else reversed(order):
                start = time.perf_counter()
                data = work()
                spent[side].append(time.perf_counter() - start)
                sizes[side] = len(data)
                pages[side] = pdf_pages(data)
                if pages[side] < len(ids) or len(set(pages.values())) > 1:
                    raise AssertionError(f"{len(ids)} notices on pages {pages}")
            turn += 1
        for side, values in spent.items():
            seconds[side].append(median(values))
            rates[side].append(pages[side] / median(values))
    measured, limit = median(rates["app"]), median(rates["weasyprint"])
    print(
        f"  notices: {len(ids)} on {pages['app']} pages, app {median(seconds['app']):.2f} s "
        f"({measured:.1f} pages/s); WeasyPrint alone {median(seconds['weasyprint']):.2f} s "
        f"({limit:.1f} pages/s)",
        file=sys.stderr,
    )
    return Result(
        measured=measured,
        limit=limit,
        units="pages/s",
        target=TARGET_RATIO,
        details={
            "notices": len(ids),
            "pages": pages["app"],
            "renders_per_side_and_repetition": RENDERS,
            "app_seconds": [round(s, 2) for s in seconds["app"]],
            "weasyprint_seconds": [round(s, 2) for s in seconds["weasyprint"]],
            "app_pages_per_s": [round(r, 1) for r in rates["app"]],
            "weasyprint_pages_per_s": [round(r, 1) for r in rates["weasyprint"]],
            "ratios": [
                round(a / b, 3) for a, b in zip(rates["app"], rates["weasyprint"], strict=True)
            ],
            "pdf_bytes": sizes,
            "html_chars": len(html),
            "load_average": [round(v, 1) for v in os.getloadavg()],
        },
    )
