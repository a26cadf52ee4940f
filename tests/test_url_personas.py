"""Every URL against every persona: who gets in, who is refused (403) and who is told the
object does not exist (404, another user's object), and that someone not signed in is
sent to sign in.

The table must name every URL the project serves (the admin aside): a new URL without a
row here fails `test_every_url_has_a_rule`, so access is decided when a page is added.
"""

from datetime import date
from decimal import Decimal

import pytest
from django.db import transaction
from django.urls import URLResolver, get_resolver, reverse

from cashiering.models import CorrectionRequest
from cashiering.services.corrections import correction_request
from kent_cs.jobs import job_succeed
from kent_cs.models import Job
from ledger.models import AccountingPeriod
from ledger.services import LineSpec, journal_entry_post
from licensing.models import LicenseImport, LicenseType, RenewalRun
from licensing.renewals import renewal_invoice_create
from licensing.services.applications import application_submit
from licensing.services.businesses import contact_add
from tests.cashiering.factories import (
    counter_setup,
    make_account,
    open_session,
    post,
    utility,
)
from tests.licensing.factories import defaults, license_type, make_business, make_license
from tests.url_rules import area_modules
from tests.url_rules._base import (
    ALL_SESSIONS,
    COUNTER,
    EVERYONE,
    LEDGER_READERS,
    PERSONAS,
    Rule,
)

# Licensing records are city-wide: technicians process them, supervisors and
# administrators read them, cashiers see license invoices only.
LICENSING_READERS = {"technician", "supervisor", "admin"}
LICENSING = {"technician"}
INVOICE_READERS = {"cashier", "cashier_b", "technician", "supervisor", "admin"}


def _scenario(personas) -> dict:
    counter = counter_setup()
    cashier = personas["cashier"]
    session = open_session(cashier, "D1")
    account = make_account()
    receipt = post(session, [utility(account.number, "20.00")], [counter.cash("20.00")])
    correction = correction_request(
        receipt=receipt, kind=CorrectionRequest.Kind.VOID, reason="Wrong account", user=cashier
    )
    cash = counter.accounts["001.101.20"]
    misc = counter.accounts["001.369.90.00"]
    entry = journal_entry_post(
        entry_date=date(2026, 3, 16),
        memo="Petty cash count adjustment",
        lines=[LineSpec(cash, debit=Decimal("5.00")), LineSpec(misc, credit=Decimal("5.00"))],
        user=personas["technician"],
    )
    job = Job.objects.create(kind="test", title="Export", created_by=personas["technician"])
    job_succeed(job, name="export.csv", content_type="text/csv", data=b"a,b\n")
    scene = {
        "session": session,
        "receipt": receipt,
        "correction": correction,
        "entry": entry,
        "account": cash,
        "period": AccountingPeriod.objects.get(year=2026, month=3),
        "job": job,
        "utility": account,
        **_licensing_scenario(personas),
    }
    for module in AREAS:
        if hasattr(module, "scenario"):
            scene.update(module.scenario(personas, scene))
    return scene


def _licensing_scenario(personas) -> dict:
    if not LicenseType.objects.exists():  # a transaction=True test truncated the defaults
        defaults()
    technician = personas["technician"]
    business = make_business(legal_name="Persona Bakery LLC", location_line1="310 W Gowe St")
    contact = contact_add(
        business=business, data={"name": "Pat Baker", "role": "owner"}, user=technician
    )
    license = make_license(business, year=2026)
    renewal = renewal_invoice_create(license=license, year=2027, user=technician)
    application = application_submit(
        business=business,
        license_type=license_type("HOME"),
        requested_start=date(2026, 3, 16),
        user=technician,
    )
    return {
        "business": business,
        "contact": contact,
        "license": license,
        "license_invoice": renewal,
        "application": application,
        "review": application.reviews.get(),
        "renewal_run": RenewalRun.objects.create(year=2027, started_by=technician),
        "license_import": LicenseImport.objects.create(
            file_name="city.csv",
            mode=LicenseImport.Mode.GOOD_ROWS,
            rows=1,
            licenses_created=0,
            businesses_created=0,
            businesses_matched=0,
            refused={"columns": ["UBI"], "rows": [["Line 2: not a UBI", "60210"]]},
            refused_count=1,
            created_by=technician,
        ),
    }


ANONYMOUS = "not signed in"


def _pk(key):
    return lambda s: {"pk": s[key].pk}


RULES: dict[str, Rule] = {
    "home": Rule(EVERYONE),
    "password_change": Rule(EVERYONE),
    "password_change_done": Rule(EVERYONE),
    "logout": Rule(EVERYONE, method="post"),
    "two-factor": Rule(EVERYONE),
    "activity": Rule({"supervisor", "admin"}),
    # The job belongs to the technician; supervisors see every job.
    "job-detail": Rule(
        {"technician", "supervisor"},
        kwargs=_pk("job"),
        not_found={"cashier", "cashier_b", "admin", "outsider"},
    ),
    "job-download": Rule(
        {"technician", "supervisor"},
        kwargs=_pk("job"),
        not_found={"cashier", "cashier_b", "admin", "outsider"},
    ),
    "ledger:chart": Rule(LEDGER_READERS),
    "ledger:account-detail": Rule(LEDGER_READERS, kwargs=_pk("account")),
    "ledger:entry-detail": Rule(LEDGER_READERS, kwargs=lambda s: {"number": s["entry"].number}),
    "ledger:entry-reverse": Rule(
        {"supervisor"}, method="post", kwargs=lambda s: {"number": s["entry"].number}
    ),
    "ledger:trial-balance": Rule(LEDGER_READERS),
    "ledger:trial-balance-xlsx": Rule(
        LEDGER_READERS, kwargs=lambda s: {"period_id": s["period"].pk}
    ),
    "ledger:trial-balance-pdf": Rule(
        LEDGER_READERS, kwargs=lambda s: {"period_id": s["period"].pk}
    ),
    "ledger:trial-balance-print": Rule(
        LEDGER_READERS, kwargs=lambda s: {"period_id": s["period"].pk}
    ),
    "ledger:trial-balance-export": Rule(
        LEDGER_READERS, method="post", kwargs=lambda s: {"period_id": s["period"].pk}
    ),
    "ledger:periods": Rule(LEDGER_READERS),
    "ledger:period-close": Rule({"supervisor"}, method="post", kwargs=_pk("period")),
    "ledger:period-reopen": Rule({"supervisor"}, method="post", kwargs=_pk("period")),
    # Supervisors, who watch rather than take payments, are sent on to the session list.
    "cashiering:my-session": Rule(COUNTER | {"supervisor"}),
    "cashiering:session-open": Rule(COUNTER),
    "cashiering:sessions": Rule(ALL_SESSIONS),
    "cashiering:session-detail": Rule(
        {"cashier", "technician", "supervisor"}, kwargs=_pk("session"), not_found={"cashier_b"}
    ),
    "cashiering:session-close": Rule(
        {"cashier", "technician"}, method="post", kwargs=_pk("session"), not_found={"cashier_b"}
    ),
    "cashiering:receipt-new": Rule(
        {"cashier"}, kwargs=_pk("session"), not_found={"cashier_b", "technician"}
    ),
    "cashiering:receipt-post": Rule(
        {"cashier"}, method="post", kwargs=_pk("session"), not_found={"cashier_b", "technician"}
    ),
    "cashiering:receipt-line": Rule(
        {"cashier"},
        kwargs=_pk("session"),
        data={"kind": "utility", "ref": "104455-01"},
        not_found={"cashier_b", "technician"},
    ),
    "cashiering:lookup": Rule(COUNTER, data={"q": "lopez"}),
    "cashiering:receipt-detail": Rule(
        {"cashier", "technician", "supervisor"}, kwargs=_pk("receipt"), not_found={"cashier_b"}
    ),
    "cashiering:receipt-print": Rule(
        {"cashier", "technician", "supervisor"}, kwargs=_pk("receipt"), not_found={"cashier_b"}
    ),
    "cashiering:receipt-pdf": Rule(
        {"cashier", "technician", "supervisor"}, kwargs=_pk("receipt"), not_found={"cashier_b"}
    ),
    "cashiering:void-request": Rule(
        {"cashier", "technician"}, method="post", kwargs=_pk("receipt"), not_found={"cashier_b"}
    ),
    "cashiering:reversal-request": Rule(
        {"cashier", "technician"}, method="post", kwargs=_pk("receipt"), not_found={"cashier_b"}
    ),
    "cashiering:corrections": Rule({"cashier", "cashier_b", "technician", "supervisor"}),
    "cashiering:correction-approve": Rule({"supervisor"}, method="post", kwargs=_pk("correction")),
    "cashiering:correction-reject": Rule({"supervisor"}, method="post", kwargs=_pk("correction")),
    "cashiering:inquiry-search": Rule({"cashier", "cashier_b", "technician", "supervisor"}),
    "cashiering:inquiry": Rule(
        {"cashier", "cashier_b", "technician", "supervisor"},
        kwargs=lambda s: {"kind": "utility", "ref": s["utility"].number},
    ),
    "cashiering:note-add": Rule(
        {"cashier", "cashier_b", "technician", "supervisor"},
        method="post",
        kwargs=lambda s: {"kind": "utility", "ref": s["utility"].number},
        data={"text": "Asked for a payment plan"},
    ),
    "cashiering:import": Rule({"technician"}),
    # Licensing: businesses and contacts
    "licensing:business-search": Rule(LICENSING_READERS, data={"q": "bakery"}),
    "licensing:business-create": Rule(LICENSING),
    "licensing:business-detail": Rule(LICENSING_READERS, kwargs=_pk("business")),
    "licensing:business-edit": Rule(LICENSING, kwargs=_pk("business")),
    "licensing:business-close": Rule(LICENSING, kwargs=_pk("business")),
    "licensing:business-reopen": Rule(LICENSING, kwargs=_pk("business")),
    "licensing:business-history-print": Rule(LICENSING_READERS, kwargs=_pk("business")),
    "licensing:business-history-pdf": Rule(LICENSING_READERS, kwargs=_pk("business")),
    "licensing:business-notices-print": Rule(LICENSING_READERS, kwargs=_pk("business")),
    "licensing:business-notices-pdf": Rule(LICENSING_READERS, kwargs=_pk("business")),
    "licensing:contact-add": Rule(LICENSING, kwargs=_pk("business")),
    "licensing:contact-edit": Rule(LICENSING, kwargs=_pk("contact")),
    "licensing:contact-remove": Rule(LICENSING, method="post", kwargs=_pk("contact")),
    "licensing:fee-preview": Rule(LICENSING_READERS),
    # Applications and reviews
    "licensing:application-list": Rule(LICENSING_READERS),
    "licensing:application-create": Rule(LICENSING, kwargs=_pk("business")),
    "licensing:application-detail": Rule(LICENSING_READERS, kwargs=_pk("application")),
    "licensing:application-approve": Rule(LICENSING, method="post", kwargs=_pk("application")),
    "licensing:application-deny": Rule(
        LICENSING, method="post", kwargs=_pk("application"), data={"deny-reason": "Zoning"}
    ),
    "licensing:application-withdraw": Rule(
        LICENSING, method="post", kwargs=_pk("application"), data={"withdraw-reason": "Asked"}
    ),
    "licensing:review-approve": Rule(LICENSING, method="post", kwargs=_pk("review")),
    "licensing:review-reject": Rule(LICENSING, method="post", kwargs=_pk("review")),
    # Licenses, certificates, invoices
    "licensing:license-detail": Rule(LICENSING_READERS, kwargs=_pk("license")),
    "licensing:license-status": Rule(LICENSING, kwargs=_pk("license")),
    "licensing:license-renewal-invoice": Rule(LICENSING, method="post", kwargs=_pk("license")),
    "licensing:license-certificate": Rule(LICENSING_READERS, kwargs=_pk("license")),
    "licensing:license-certificate-pdf": Rule(LICENSING_READERS, kwargs=_pk("license")),
    "licensing:invoice-detail": Rule(INVOICE_READERS, kwargs=_pk("license_invoice")),
    # Renewals, notices, penalties
    "licensing:renewals": Rule(LICENSING_READERS),
    "licensing:renewal-run-start": Rule(LICENSING, method="post", data={"year": "2027"}),
    "licensing:renewal-run-detail": Rule(LICENSING_READERS, kwargs=_pk("renewal_run")),
    "licensing:renewal-run-resume": Rule(LICENSING, method="post", kwargs=_pk("renewal_run")),
    "licensing:renewal-run-notices": Rule(LICENSING, method="post", kwargs=_pk("renewal_run")),
    "licensing:renewal-notices": Rule(LICENSING, method="post", kwargs=lambda s: {"year": 2027}),
    "licensing:renewals-outstanding": Rule(LICENSING_READERS, data={"year": "2027"}),
    "licensing:renewals-outstanding-export": Rule(
        LICENSING_READERS, kwargs=lambda s: {"fmt": "xlsx"}, data={"year": "2027"}
    ),
    "licensing:delinquency": Rule(LICENSING_READERS),
    "licensing:delinquency-export": Rule(LICENSING_READERS, kwargs=lambda s: {"fmt": "csv"}),
    "licensing:penalties-assess": Rule({"technician", "supervisor"}, method="post"),
    # Imports
    "licensing:license-import": Rule(LICENSING),
    "licensing:license-import-template-download": Rule(LICENSING, kwargs=lambda s: {"fmt": "csv"}),
    "licensing:license-import-refused-csv": Rule(LICENSING, kwargs=_pk("license_import")),
    # Licensing reports: kent_cs.view_reports, as the ledger's reports.
    "licensing:report-dashboard": Rule(LEDGER_READERS),
    "licensing:report-new-licenses": Rule(LEDGER_READERS),
    "licensing:report-active-licenses": Rule(LEDGER_READERS),
    "licensing:report-revenue": Rule(LEDGER_READERS),
    "licensing:report-renewals": Rule(LEDGER_READERS, data={"year": "2026"}),
    "licensing:report-delinquency": Rule(LEDGER_READERS),
    "licensing:report-growth-xlsx": Rule(LEDGER_READERS),
    "licensing:report-csv": Rule(LEDGER_READERS, kwargs=lambda s: {"table": "revenue-by-sector"}),
    "licensing:report-xlsx": Rule(LEDGER_READERS, kwargs=lambda s: {"table": "delinquency"}),
}
# Pages anyone may open, signed in or not.
AREAS = area_modules()
for _module in AREAS:
    _clash = set(RULES) & set(_module.RULES)
    assert not _clash, f"{_module.__name__} repeats rules for {_clash}"
    RULES.update(_module.RULES)

PUBLIC = {"login", "healthz"}


def _url_names() -> list[str]:
    names = []

    def walk(patterns, namespace=None):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                if pattern.namespace == "admin":
                    continue
                walk(pattern.url_patterns, pattern.namespace or namespace)
            elif pattern.name:
                names.append(f"{namespace}:{pattern.name}" if namespace else pattern.name)

    walk(get_resolver().url_patterns)
    return names


def test_every_url_has_a_rule():
    missing = [name for name in _url_names() if name not in RULES and name not in PUBLIC]
    assert missing == [], f"URLs without an access rule: {missing}"
    stale = [name for name in RULES if name not in _url_names()]
    assert stale == [], f"Rules for URLs that no longer exist: {stale}"


def _request(client, rule: Rule, url: str):
    if rule.method == "post":
        return client.post(url, rule.data)
    return client.get(url, rule.data)


@pytest.mark.parametrize("name", sorted(RULES))
def test_url_by_persona(name, personas, client, settings):
    """Each persona, and someone not signed in (sent to sign in, whatever the URL; signing
    out aside), on one scene."""
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    rule = RULES[name]
    scene = _scenario(personas)
    url = reverse(name, kwargs=rule.kwargs(scene) if rule.kwargs else None)
    outcomes = {}
    for persona in [*PERSONAS, ANONYMOUS]:
        if persona != ANONYMOUS:
            client.force_login(personas[persona])
        elif name == "logout":
            continue
        # Each request is undone, so a POST by one persona does not change what the next
        # one sees.
        with transaction.atomic():
            response = _request(client, rule, url)
            transaction.set_rollback(True)
        outcomes[persona] = response.status_code
        if response.status_code == 302 and response["Location"].startswith(reverse("login")):
            outcomes[persona] = "sign in"
        client.logout()
    expected: dict[str, int | str] = {}
    for persona in PERSONAS:
        if persona in rule.allowed:
            allowed = outcomes[persona] in (200, 302, "sign in")
            expected[persona] = outcomes[persona] if allowed else "200/302"
        elif persona in rule.not_found:
            expected[persona] = 404
        else:
            expected[persona] = 403
    if name != "logout":
        expected[ANONYMOUS] = "sign in"
    assert outcomes == expected, f"{name} {url}"
