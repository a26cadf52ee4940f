"""Settings come from the environment and a bad value stops the process at start, naming
the variable; production settings pass Django's deployment checks without a warning."""

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from kent_cs.env import Env

BASE_DIR = Path(__file__).resolve().parents[2]
DEV_SECRET = "local-development-only-not-secret-0123456789abcdefghijklmnopqrstuvwxyz"
PROD_SECRET = secrets.token_urlsafe(64)
DATABASE = "postgres://kent@127.0.0.1:54329/kent_cs"


def run(code_or_args, **overrides: str | None) -> subprocess.CompletedProcess:
    """Run Python in a fresh process with a development environment plus `overrides`
    (None removes a variable)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "KENT_")) and k != "DATABASE_URL"
    }
    env.update(
        DJANGO_SETTINGS_MODULE="kent_cs.settings",
        DJANGO_DEBUG="true",
        DJANGO_SECRET_KEY=DEV_SECRET,
        DATABASE_URL=DATABASE,
    )
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    args = code_or_args if isinstance(code_or_args, list) else ["-c", code_or_args]
    return subprocess.run(
        [sys.executable, *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


SETUP = "import django; django.setup(); from django.conf import settings; print('ready')"


def refused(message: str, **overrides: str | None) -> None:
    result = run(SETUP, **overrides)
    assert result.returncode != 0, result.stdout
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr, result.stderr[-2000:]
    assert "ready" not in result.stdout


def test_the_development_environment_starts():
    result = run(SETUP)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ready"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"DJANGO_DEBUG": "maybe"}, "DJANGO_DEBUG='maybe' is not a boolean"),
        ({"KENT_DEMO_MODE": "sometimes"}, "KENT_DEMO_MODE='sometimes' is not a boolean"),
        ({"KENT_SESSION_IDLE_MINUTES": "abc"}, "KENT_SESSION_IDLE_MINUTES='abc' is not a whole"),
        ({"KENT_SESSION_IDLE_MINUTES": "0"}, "KENT_SESSION_IDLE_MINUTES='0' must be at least 1"),
        ({"KENT_LOGIN_FAILURE_LIMIT": "-2"}, "KENT_LOGIN_FAILURE_LIMIT='-2' must be at least 1"),
        ({"KENT_UPLOAD_MAX_BYTES": "ten"}, "KENT_UPLOAD_MAX_BYTES='ten' is not a whole number"),
        ({"KENT_DB_POOL_MIN": "-1"}, "KENT_DB_POOL_MIN='-1' must not be negative"),
        ({"DJANGO_SECRET_KEY": None}, "DJANGO_SECRET_KEY must be set"),
        ({"DJANGO_SECRET_KEY": ""}, "DJANGO_SECRET_KEY must be set"),
        ({"DATABASE_URL": None}, "DATABASE_URL must be set"),
        ({"DATABASE_URL": "sqlite:///kent.db"}, "DATABASE_URL must point at PostgreSQL"),
        ({"DATABASE_URL": "mysql://kent@db/kent"}, "DATABASE_URL must point at PostgreSQL"),
        ({"DATABASE_URL": "not a url"}, "DATABASE_URL is not a database URL"),
        (
            {"KENT_REPORTS_DATABASE_URL": "sqlite:///replica.db"},
            "KENT_REPORTS_DATABASE_URL must point at PostgreSQL",
        ),
        ({"KENT_TRUSTED_PROXIES": "127.0.0.1, nginx"}, "KENT_TRUSTED_PROXIES: 'nginx' is not"),
        ({"KENT_REPORT_EMAIL_DOMAINS": ","}, "KENT_REPORT_EMAIL_DOMAINS must name at least"),
        ({"KENT_REPORT_EMAIL_DOMAINS": "kentwa"}, "KENT_REPORT_EMAIL_DOMAINS: 'kentwa' is not"),
    ],
)
def test_a_bad_value_stops_the_start_and_names_the_variable(overrides, message):
    refused(message, **overrides)


def test_a_bad_database_url_does_not_echo_its_password():
    result = run(SETUP, DATABASE_URL="oracle+weird://kent:s3cret-pw@db/kent")
    assert result.returncode != 0
    assert "DATABASE_URL" in result.stderr
    assert "s3cret-pw" not in result.stderr


PRODUCTION = {
    "DJANGO_DEBUG": "false",
    "DJANGO_SECRET_KEY": PROD_SECRET,
    "DJANGO_ALLOWED_HOSTS": "cs.kentwa.example",
    "DJANGO_CSRF_TRUSTED_ORIGINS": "https://cs.kentwa.example",
    "KENT_DEMO_MODE": "false",
}


@pytest.mark.parametrize(
    "secret",
    ["short-but-random-8c1f", DEV_SECRET, "x" * 49],
)
def test_production_refuses_a_weak_secret(secret):
    refused(
        "DJANGO_SECRET_KEY must be a random value of at least 50 characters",
        **{**PRODUCTION, "DJANGO_SECRET_KEY": secret},
    )


def test_production_refuses_demo_mode():
    refused(
        "KENT_DEMO_MODE creates users with published passwords",
        **{**PRODUCTION, "KENT_DEMO_MODE": "true"},
    )


def test_a_public_demo_site_may_opt_in_to_demo_mode():
    result = run(
        SETUP, **{**PRODUCTION, "KENT_DEMO_MODE": "true", "KENT_ALLOW_DEMO_IN_PRODUCTION": "true"}
    )
    assert result.returncode == 0, result.stderr


def test_production_passes_the_deployment_checks_without_warnings():
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_production_settings_are_hardened():
    code = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        "print(json.dumps({k: getattr(s, k) for k in ["
        "'DEBUG', 'SECURE_SSL_REDIRECT', 'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', "
        "'SECURE_HSTS_SECONDS', 'SECURE_HSTS_INCLUDE_SUBDOMAINS', 'SESSION_COOKIE_HTTPONLY', "
        "'X_FRAME_OPTIONS', 'SESSION_COOKIE_AGE', 'SESSION_EXPIRE_AT_BROWSER_CLOSE', "
        "'ALLOWED_HOSTS']}))"
    )
    result = run(code, **PRODUCTION)
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values == {
        "DEBUG": False,
        "SECURE_SSL_REDIRECT": True,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "X_FRAME_OPTIONS": "DENY",
        "SESSION_COOKIE_AGE": 1800,
        "SESSION_EXPIRE_AT_BROWSER_CLOSE": True,
        "ALLOWED_HOSTS": ["cs.kentwa.example"],
    }


def test_every_variable_the_settings_read_is_documented_in_env_example():
    source = (BASE_DIR / "kent_cs" / "settings.py").read_text()
    read = set(re.findall(r'env\.\w+\(\s*"([A-Z0-9_]+)"', source))
    documented = set(
        re.findall(r"^([A-Z0-9_]+)=", (BASE_DIR / ".env.example").read_text(), re.MULTILINE)
    )
    assert read, "the settings read no variables?"
    assert read - documented == set()


# ------------------------------------------------------------------ the Env helper


def test_env_helper_reads_types_and_defaults():
    env = Env(
        {
            "FLAG": " Yes ",
            "OFF": "0",
            "COUNT": " 42 ",
            "HOSTS": "a.example, b.example,,",
            "PROXIES": "127.0.0.1, 10.0.0.0/8",
        }
    )
    assert env.bool("FLAG") is True
    assert env.bool("OFF") is False
    assert env.bool("MISSING", default=True) is True
    assert env.int("COUNT") == 42
    assert env.int("MISSING", default=7) == 7
    assert env.list("HOSTS") == ["a.example", "b.example"]
    assert [str(n) for n in env.networks("PROXIES")] == ["127.0.0.1/32", "10.0.0.0/8"]
    assert env.str("MISSING", default=None) is None
    with pytest.raises(ImproperlyConfigured, match="Environment variable NOPE is required"):
        env.str("NOPE")


def test_the_running_settings_use_postgresql_with_a_pool():
    database = settings.DATABASES["default"]
    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert database["CONN_MAX_AGE"] == 0
    assert database["OPTIONS"]["pool"]["max_size"] >= 1
    assert settings.TIME_ZONE == "America/Los_Angeles"
    assert settings.USE_TZ is True
