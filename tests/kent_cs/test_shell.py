"""The page shell: base layout, security headers and a Content Security Policy that the
rendered pages actually keep (no inline script without the nonce, no style attributes)."""

import re
from html.parser import HTMLParser

import pytest
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.contrib.staticfiles import finders
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import include, path, reverse
from django.views.decorators.csp import csp_override

from kent_cs.models import Job


def flash(request):
    messages.success(request, "Receipt 1001 posted.")
    messages.error(request, "The drawer is closed.")
    return render(request, "base.html", {"breadcrumbs": [("Drawers", "/drawers/"), ("D1", None)]})


@login_not_required
@csp_override({"default-src": ["'self'"], "img-src": ["https://maps.example.org"]})
def own_policy(request):
    return HttpResponse("")


urlpatterns = [
    path("test/flash/", flash),
    path("test/own-policy/", own_policy),
    path("", include("kent_cs.urls")),
]


class PageScan(HTMLParser):
    """Collects what the CSP cares about from a rendered page."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict] = []
        self.styles: list[dict] = []
        self.style_attributes: list[str] = []
        self.handlers: list[str] = []
        self.javascript_urls: list[str] = []
        self.stylesheets: list[str] = []
        self._in_script: dict | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name, value in attrs:
            if name == "style":
                self.style_attributes.append(f"<{tag} style={value!r}>")
            if name.startswith("on"):
                self.handlers.append(f"<{tag} {name}>")
            if name in ("href", "src", "action") and (value or "").lower().startswith(
                "javascript:"
            ):
                self.javascript_urls.append(value)
        if tag == "script":
            self._in_script = {**attributes, "body": ""}
            self.scripts.append(self._in_script)
        elif tag == "style":
            self.styles.append(attributes)
        elif tag == "link" and attributes.get("rel") == "stylesheet":
            self.stylesheets.append(attributes["href"])

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = None

    def handle_data(self, data):
        if self._in_script is not None:
            self._in_script["body"] += data


def csp_nonce(response) -> str:
    policy = response["Content-Security-Policy"]
    match = re.search(r"script-src 'self' 'nonce-([A-Za-z0-9+/=_-]+)'", policy)
    assert match, policy
    return match.group(1)


def assert_keeps_the_policy(response) -> PageScan:
    policy = response["Content-Security-Policy"]
    assert "'unsafe-inline'" not in policy
    assert "'unsafe-eval'" not in policy
    assert "frame-ancestors 'none'" in policy
    assert "object-src 'none'" in policy
    # Django puts the nonce in the header only when the page used it (a bare htmx
    # fragment does not); without one, nothing inline can run at all.
    nonce = csp_nonce(response) if "'nonce-" in policy else None
    if nonce:
        assert f"style-src 'self' 'nonce-{nonce}'" in policy
    scan = PageScan()
    scan.feed(response.content.decode())
    for script in scan.scripts:
        if script.get("src"):
            assert script["src"].startswith("/static/"), script["src"]
            assert not script["body"].strip()
        else:
            assert nonce and script.get("nonce") == nonce, f"inline script without nonce: {script}"
    for style in scan.styles:
        assert nonce and style.get("nonce") == nonce, "inline <style> without the nonce"
    assert scan.style_attributes == []
    assert scan.handlers == []
    assert scan.javascript_urls == []
    return scan


# ---------------------------------------------------------------------------- CSP


def test_the_sign_in_page_keeps_the_policy(client, db):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    scan = assert_keeps_the_policy(response)
    assert len(scan.scripts) >= 3  # htmx, bootstrap, app.js: all from /static/


@pytest.mark.parametrize("persona", ["cashier", "technician", "supervisor", "admin", "outsider"])
def test_the_home_page_keeps_the_policy_for_every_role(client, personas, persona):
    client.force_login(personas[persona])
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert_keeps_the_policy(response)


@pytest.mark.parametrize(
    "url",
    ["/activity/", "/activity/?model=ledger.GLAccount&date_from=bad", "/password/", "/nowhere/"],
)
def test_other_shared_pages_keep_the_policy(client, supervisor, url):
    client.force_login(supervisor)
    response = client.get(url)
    assert response.status_code in (200, 404)
    assert_keeps_the_policy(response)


def test_the_job_page_and_its_partial_keep_the_policy(client, technician):
    job = Job.objects.create(kind="k", title="Export", created_by=technician, progress_total=4)
    client.force_login(technician)
    assert_keeps_the_policy(client.get(reverse("job-detail", args=[job.pk])))
    partial = client.get(reverse("job-detail", args=[job.pk]), headers={"HX-Request": "true"})
    assert_keeps_the_policy(partial)


def test_the_403_page_keeps_the_policy(client, cashier):
    client.force_login(cashier)
    response = client.get(reverse("activity"))
    assert response.status_code == 403
    assert_keeps_the_policy(response)


def test_each_response_gets_a_fresh_nonce(client, db):
    first = csp_nonce(client.get(reverse("login")))
    second = csp_nonce(client.get(reverse("login")))
    assert first != second
    assert len(first) >= 16


def test_a_response_without_the_nonce_gets_the_policy_without_one(client, cashier, settings):
    client.force_login(cashier)
    response = client.get(reverse("cashiering:my-session"))  # a redirect: no page, no nonce
    assert response.status_code == 302
    policy = response["Content-Security-Policy"]
    assert "'nonce-" not in policy
    assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy
    assert client.get(reverse("cashiering:my-session"))["Content-Security-Policy"] == policy
    # A page in between gets its own nonce; the next redirect is as before.
    assert "'nonce-" in client.get(reverse("home"))["Content-Security-Policy"]
    assert client.get(reverse("cashiering:my-session"))["Content-Security-Policy"] == policy

    # Another policy, or the same one changed in place, is sent as it now is.
    settings.SECURE_CSP = {**settings.SECURE_CSP, "img-src": ["'self'"]}
    changed = client.get(reverse("cashiering:my-session"))["Content-Security-Policy"]
    assert "img-src 'self';" in changed and "data:" not in changed
    settings.SECURE_CSP["img-src"].append("blob:")
    assert (
        "img-src 'self' blob:;"
        in client.get(reverse("cashiering:my-session"))["Content-Security-Policy"]
    )


@pytest.mark.urls(__name__)
def test_a_views_own_policy_is_sent_as_it_is(client, db):
    for _ in range(2):
        response = client.get("/test/own-policy/")
        assert response.status_code == 200
        policy = response["Content-Security-Policy"]
        assert policy == "default-src 'self'; img-src https://maps.example.org"
    assert "frame-ancestors 'none'" in client.get(reverse("login"))["Content-Security-Policy"]


def test_security_headers_are_sent(client, db):
    response = client.get(reverse("login"))
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


# -------------------------------------------------------------------------- layout


def test_every_stylesheet_and_script_of_the_layout_exists(client, db):
    scan = PageScan()
    scan.feed(client.get(reverse("login")).content.decode())
    assets = scan.stylesheets + [s["src"] for s in scan.scripts]
    assert len(assets) >= 6
    for url in assets:
        assert url.startswith("/static/")
        assert finders.find(url.removeprefix("/static/")), f"missing static file {url}"


def test_the_layout_has_a_skip_link_a_title_and_the_users_menu(client, cashier):
    client.force_login(cashier)
    html = client.get(reverse("home")).content.decode()
    assert '<html lang="en">' in html
    assert '<a class="visually-hidden-focusable" href="#main">Skip to main content</a>' in html
    assert '<main id="main"' in html
    assert "<title>Home · City of Kent Customer Services</title>" in html
    assert "Welcome, Casey" in html
    assert '<form method="post" action="/logout/">' in html
    assert 'name="csrfmiddlewaretoken"' in html


def test_the_sign_in_page_shows_no_menu(client, db):
    html = client.get(reverse("login")).content.decode()
    assert 'id="main-nav"' not in html
    assert ">Sign in</button>" in html
    assert '<label class="form-label" for="id_password">Password</label>' in html


def test_signing_out_takes_a_post(client, cashier):
    client.force_login(cashier)
    assert client.get(reverse("logout")).status_code == 405
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    assert client.get(reverse("home")).status_code == 302


def test_the_demo_banner_shows_only_in_demo_mode(client, cashier, settings):
    client.force_login(cashier)
    settings.DEMO_MODE = True
    assert "Demonstration data — not a live system" in client.get("/").content.decode()
    settings.DEMO_MODE = False
    assert "Demonstration data" not in client.get("/").content.decode()


def test_the_city_name_comes_from_the_settings(client, cashier, settings):
    settings.CITY_NAME = "City of Auburn"
    client.force_login(cashier)
    html = client.get("/").content.decode()
    assert "<title>Home · City of Auburn Customer Services</title>" in html
    assert '>City of Auburn<span class="d-none d-xl-inline"> Customer Services</span></a>' in html


@pytest.mark.urls(__name__)
def test_messages_and_breadcrumbs_render_in_the_layout(client, cashier):
    client.force_login(cashier)
    response = client.get("/test/flash/")
    html = response.content.decode()
    assert '<div class="alert alert-success alert-dismissible" role="alert">' in html
    assert "Receipt 1001 posted." in html
    assert '<div class="alert alert-danger alert-dismissible" role="alert">' in html
    assert "The drawer is closed." in html
    assert '<nav aria-label="Breadcrumb"' in html
    assert '<li class="breadcrumb-item"><a href="/drawers/">Drawers</a></li>' in html
    assert '<li class="breadcrumb-item active" aria-current="page">D1</li>' in html
    assert_keeps_the_policy(response)
