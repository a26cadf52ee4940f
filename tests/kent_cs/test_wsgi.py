"""The WSGI application as production serves it: granian, and environs without the
process's environment."""

import io
import os

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection

from bench.appserver import Browser, app_server
from bench.database import with_database
from kent_cs.models import AuthEvent
from kent_cs.roles import Role
from kent_cs.wsgi import application, request_only
from tests.factories import PASSWORD, make_user


def served(environ: dict, process_environment: dict) -> dict:
    """The environ `request_only` passes on to the application it wraps."""
    seen = {}

    def inner(environ, start_response):
        seen.update(environ)
        start_response("204 No Content", [])
        return []

    request_only(inner, process_environment)(environ, lambda status, headers, exc_info=None: None)
    return seen


def test_keys_from_the_process_environment_are_left_out():
    process = {
        "DATABASE_URL": "postgres://kent:hunter2@db/kent_cs",
        "DJANGO_SECRET_KEY": "not-for-requests",
        "HTTP_PROXY": "http://proxy.internal:3128",
        "PATH_INFO": "/set-in-the-shell",
    }
    environ = {
        **process,
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/counter/",
        "HTTP_HOST": "cs.example.org",
        "HTTP_PROXY": "http://evil.example.com",  # a client's "Proxy:" header
        "REMOTE_ADDR": "10.0.0.7",
    }
    seen = served(environ, process)
    assert seen == {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/counter/",  # a request's own keys stay, whatever the shell set
        "HTTP_HOST": "cs.example.org",
        "REMOTE_ADDR": "10.0.0.7",
    }


def test_an_environ_without_process_keys_is_passed_as_it_is():
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "REMOTE_ADDR": "10.0.0.7"}
    seen = served(environ, {"DATABASE_URL": "x"})
    assert seen == environ


@pytest.mark.django_db
def test_the_application_answers_with_the_process_environment_in_its_environ():
    environ = {
        **os.environ,
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/login/",
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "testserver",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": io.StringIO(),
    }
    statuses = []

    def start_response(status, headers, exc_info=None):
        statuses.append(status)

    body = b"".join(application(environ, start_response))
    assert statuses == ["200 OK"]
    assert b"csrfmiddlewaretoken" in body


@pytest.mark.django_db(transaction=True)
def test_granian_serves_a_signed_in_cashier():
    user = make_user("granian_cashier", Role.CASHIER)
    # The server runs the production settings' hashers, not the tests' fast one.
    hasher = PBKDF2PasswordHasher()
    user.password = hasher.encode(PASSWORD, hasher.salt(), iterations=1000)
    user.save(update_fields=["password"])
    # The test database, on the server DATABASE_URL names.
    url = with_database(os.environ["DATABASE_URL"], connection.settings_dict["NAME"])
    with app_server(url, workers=1, threads=2) as server:
        browser = Browser(server)
        browser.sign_in("granian_cashier", PASSWORD)
        page = browser.get("/counter/")
        browser.close()
    assert page.status in (200, 302)
    signed_in = AuthEvent.objects.get(username="granian_cashier", kind=AuthEvent.Kind.LOGIN)
    assert signed_in.ip_address == "127.0.0.1"  # granian's REMOTE_ADDR reached the audit
