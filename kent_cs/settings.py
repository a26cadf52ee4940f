"""Settings for Kent Customer Services, read from the environment.

Every variable is documented in `.env.example`. A bad value stops the process at start
with a message naming the variable; nothing else in the code reads the environment.
"""

import os
import re
from datetime import time
from pathlib import Path

import dj_database_url
import pghistory
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from kent_cs.env import Env
from kent_cs.pool import pooled_connection_check

BASE_DIR = Path(__file__).resolve().parent.parent
env = Env()

DEBUG = env.bool("DJANGO_DEBUG", default=False)
DEMO_MODE = env.bool("KENT_DEMO_MODE", default=False)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default=None)
if not SECRET_KEY:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set (see .env.example).")
if not DEBUG and (len(SECRET_KEY) < 50 or SECRET_KEY.startswith("local-development")):
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY must be a random value of at least 50 characters in production."
    )
if DEMO_MODE and not DEBUG and not env.bool("KENT_ALLOW_DEMO_IN_PRODUCTION", default=False):
    raise ImproperlyConfigured(
        "KENT_DEMO_MODE creates users with published passwords; it is refused when "
        "DJANGO_DEBUG is off unless KENT_ALLOW_DEMO_IN_PRODUCTION=true."
    )

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "django_htmx",
    "crispy_forms",
    "crispy_bootstrap5",
    "pgtrigger",
    "pghistory",
    "pghistory.admin",
    "django_tasks_db",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "kent_cs",
    "ledger",
    "cashiering",
    "licensing",
    "audit",
]

MIDDLEWARE = [
    "kent_cs.faults.DatabaseFaultMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "kent_cs.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "kent_cs.sessions.IdleTimeoutMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "kent_cs.two_factor.SecondFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "kent_cs.audit.AuditContextMiddleware",
]

ROOT_URLCONF = "kent_cs.urls"
WSGI_APPLICATION = "kent_cs.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "kent_cs.context_processors.navigation",
                "audit.context_processors.exceptions",
            ],
        },
    },
]

# Database: DATABASE_URL, with psycopg's connection pool (CONN_MAX_AGE must stay 0 with it).
DATABASE_URL = env.str("DATABASE_URL", default=None)
if not DATABASE_URL:
    raise ImproperlyConfigured(
        "DATABASE_URL must be set, e.g. postgres://user:password@host:5432/kent_cs "
        "(bin/run and bin/test set it for the project-local cluster)."
    )


def _postgres_url(name: str, url: str) -> dj_database_url.DBConfig:
    try:
        config = dj_database_url.parse(url, conn_max_age=0)
    except ValueError:  # the message may quote the URL, password included: leave it out
        raise ImproperlyConfigured(
            f"{name} is not a database URL (postgres://user:password@host:5432/name)."
        ) from None
    if config["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured(f"{name} must point at PostgreSQL.")
    return config


_db = _postgres_url("DATABASE_URL", DATABASE_URL)
_db["OPTIONS"] = {
    "pool": {
        "min_size": env.int("KENT_DB_POOL_MIN", default=2),
        "max_size": env.int("KENT_DB_POOL_MAX", default=20, minimum=1),
        "timeout": env.int("KENT_DB_POOL_TIMEOUT", default=10),
        # A connection the server closed while it sat in the pool is never handed out.
        "check": pooled_connection_check,
    },
    # The ORM's cursors bind on the client and never prepare; kent_cs.db.PreparedCursor
    # prepares the few statements every request and every receipt runs. Behind a pooler
    # that cannot track prepared statements, turn it off (they are then sent unprepared).
    "prepare_threshold": 5 if env.bool("KENT_DB_PREPARED_STATEMENTS", default=True) else None,
}
_db["TEST"] = {"NAME": env.str("KENT_TEST_DB_NAME", default=None)}
DATABASES = {"default": _db}
# Reports may read from a replica; unset means the primary serves them.
REPORTS_DATABASE_URL = env.str("KENT_REPORTS_DATABASE_URL", default=None)
if REPORTS_DATABASE_URL:
    _replica = _postgres_url("KENT_REPORTS_DATABASE_URL", REPORTS_DATABASE_URL)
    _replica["TEST"] = {"MIRROR": "default"}
    DATABASES["reports"] = _replica
DATABASE_ROUTERS = ["kent_cs.dbrouters.ReportsRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = ["kent_cs.auth.ThrottledModelBackend"]
LOGIN_URL = "login"
# Supervisors and administrators confirm each sign-in with a code from an authenticator
# app (kent_cs.two_factor). Off only for a private development setup.
KENT_SECOND_FACTOR = env.bool("KENT_SECOND_FACTOR", default=True)
OTP_TOTP_ISSUER = "Kent Customer Services"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# Failed logins: from LOGIN_FAILURE_LIMIT failures of one username from one address within
# LOGIN_LOCKOUT_MINUTES, that pair waits (30 s, doubling); an address waits from 4x the
# limit; a burst for one username alerts ADMINS by email (kent_cs.auth).
LOGIN_FAILURE_LIMIT = env.int("KENT_LOGIN_FAILURE_LIMIT", default=5, minimum=1)
LOGIN_LOCKOUT_MINUTES = env.int("KENT_LOGIN_LOCKOUT_MINUTES", default=15, minimum=1)

# The counter's business hours (local time) and weekdays: the audit reports list receipts
# and changes made outside them as after-hours activity (audit.reports_audit).
BUSINESS_HOURS = env.str("KENT_BUSINESS_HOURS", default="08:00-17:00")
BUSINESS_WEEKDAYS = env.list("KENT_BUSINESS_WEEKDAYS", default=["mon", "tue", "wed", "thu", "fri"])
try:
    _opens, _closes = (time.fromisoformat(part.strip()) for part in BUSINESS_HOURS.split("-"))
    if _opens >= _closes:
        raise ValueError
except ValueError:
    raise ImproperlyConfigured(
        "KENT_BUSINESS_HOURS must be opening-closing times like 08:00-17:00, "
        f"not {BUSINESS_HOURS!r}."
    ) from None
_WEEKDAY_NAMES = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
if not BUSINESS_WEEKDAYS or any(d.lower() not in _WEEKDAY_NAMES for d in BUSINESS_WEEKDAYS):
    raise ImproperlyConfigured(
        f"KENT_BUSINESS_WEEKDAYS must list days among {','.join(_WEEKDAY_NAMES)}, "
        f"not {','.join(BUSINESS_WEEKDAYS)!r}."
    )

# Who is told of sign-in alerts and server errors, and the mail server that tells them:
# KENT_EMAIL_HOST, else the machine's own mail server (localhost:25); in development
# without a host, mail is written to the console instead.
ADMINS = env.list("KENT_ADMIN_EMAILS", default=[])
SERVER_EMAIL = DEFAULT_FROM_EMAIL = env.str(
    "KENT_EMAIL_FROM", default="customer-services@localhost"
)
_EMAIL_HOST = env.str("KENT_EMAIL_HOST", default="")
MAILERS = {
    "default": (
        {"BACKEND": "django.core.mail.backends.console.EmailBackend"}
        if DEBUG and not _EMAIL_HOST
        else {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": _EMAIL_HOST or "localhost",
                "port": env.int("KENT_EMAIL_PORT", default=25, minimum=1),
                "username": env.str("KENT_EMAIL_USER", default=""),
                "password": env.str("KENT_EMAIL_PASSWORD", default=""),
                "use_tls": env.bool("KENT_EMAIL_USE_TLS", default=False),
                "timeout": 20,
            },
        }
    )
}

# Scheduled reports (audit.schedules) go only to addresses of these domains or their
# subdomains; an address elsewhere is refused when the schedule is saved and never sent to.
KENT_REPORT_EMAIL_DOMAINS = [
    domain.strip().lower().lstrip("@")
    for domain in env.list("KENT_REPORT_EMAIL_DOMAINS", default=["kentwa.gov"])
    if domain.strip()
]
if not KENT_REPORT_EMAIL_DOMAINS:
    raise ImproperlyConfigured("KENT_REPORT_EMAIL_DOMAINS must name at least one domain.")
for _domain in KENT_REPORT_EMAIL_DOMAINS:
    if not re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)+", _domain):
        raise ImproperlyConfigured(f"KENT_REPORT_EMAIL_DOMAINS: {_domain!r} is not a domain.")

# Sessions end after SESSION_IDLE_MINUTES without a request.
SESSION_IDLE_MINUTES = env.int("KENT_SESSION_IDLE_MINUTES", default=30, minimum=1)
SESSION_COOKIE_AGE = SESSION_IDLE_MINUTES * 60
SESSION_ENGINE = "kent_cs.sessions"  # the database store, read with a plain query
SESSION_SAVE_EVERY_REQUEST = False  # kent_cs.sessions.IdleTimeoutMiddleware renews it
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

LANGUAGE_CODE = "en-us"
TIME_ZONE = "America/Los_Angeles"
USE_I18N = False
USE_TZ = True
USE_THOUSAND_SEPARATOR = False

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("vendor/bootstrap", BASE_DIR / "node_modules" / "bootstrap" / "dist"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
MEDIA_ROOT = Path(env.str("KENT_MEDIA_ROOT", default=str(BASE_DIR / "media")))
MEDIA_URL = "/media/"

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# Content Security Policy with per-request nonces: no inline script or style anywhere.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "object-src": [CSP.NONE],
}

# Production hardening; all on whenever DEBUG is off.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Proxies (addresses or networks) whose X-Forwarded-For names the real client; see
# kent_cs.audit.client_ip. Empty: REMOTE_ADDR is the client.
TRUSTED_PROXIES = env.networks("KENT_TRUSTED_PROXIES", default=[])
SECURE_SSL_REDIRECT = env.bool("KENT_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = 0 if DEBUG else env.int("KENT_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# Uploads: the shared helper enforces these on every import.
UPLOAD_MAX_BYTES = env.int("KENT_UPLOAD_MAX_BYTES", default=10 * 1024 * 1024)
UPLOAD_XLSX_MAX_UNPACKED_BYTES = env.int("KENT_XLSX_MAX_UNPACKED_BYTES", default=100 * 1024 * 1024)
UPLOAD_XLSX_MAX_MEMBERS = env.int("KENT_XLSX_MAX_MEMBERS", default=200)
UPLOAD_MAX_ROWS = env.int("KENT_UPLOAD_MAX_ROWS", default=200_000)
DATA_UPLOAD_MAX_MEMORY_SIZE = UPLOAD_MAX_BYTES + 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = UPLOAD_MAX_BYTES

# Background tasks: django.tasks with the database backend; `manage.py run_worker` runs them.
TASKS = {
    "default": {
        "BACKEND": env.str("KENT_TASKS_BACKEND", default="django_tasks_db.DatabaseBackend"),
    }
}
# Each worker records a heartbeat (and refreshes the lease of the job it runs) this often.
WORKER_HEARTBEAT_SECONDS = env.int("KENT_WORKER_HEARTBEAT_SECONDS", default=5, minimum=1)
# /healthz reports the worker unhealthy when its heartbeat is older than this (three beats).
WORKER_HEARTBEAT_STALE_SECONDS = env.int("KENT_WORKER_STALE_SECONDS", default=15, minimum=1)
# A running job whose lease was not refreshed for this long lost its worker: the sweep
# every worker runs (each KENT_WORKER_RECOVER_SECONDS) marks it failed, with a Retry.
JOB_LEASE_SECONDS = env.int("KENT_JOB_LEASE_SECONDS", default=30, minimum=1)
WORKER_RECOVER_SECONDS = env.int("KENT_WORKER_RECOVER_SECONDS", default=15, minimum=1)
# Worker processes `manage.py run_worker` starts (each takes one task at a time; renewal
# notices are split into chunks that they render in parallel): one per core by default.
KENT_WORKERS = env.int("KENT_WORKERS", default=os.cpu_count() or 2, minimum=1)

# Audit trail: every tracked model's event table refuses UPDATE and DELETE.
PGHISTORY_APPEND_ONLY = True
# Event tables are read by object and by context (a record's timeline, the activity log),
# never by the foreign keys they copy: those copies carry no index, which every tracked
# write would otherwise update.
PGHISTORY_FOREIGN_KEY_FIELD = pghistory.ForeignKey(db_index=False)
PGHISTORY_OBJ_FIELD = pghistory.ObjForeignKey(db_index=True)
PGHISTORY_CONTEXT_FIELD = pghistory.ContextForeignKey(db_index=True)
PGHISTORY_ADMIN_MODEL = "pghistory.MiddlewareEvents"

# The exceptions dashboard (audit.exceptions): unmatched bank lines older than this many
# days, failed jobs and refused imports of the last days, jobs without progress for this
# many minutes, and how long a license application may stay in review.
EXCEPTIONS_BANK_UNMATCHED_DAYS = env.int("KENT_EXCEPTIONS_BANK_DAYS", default=3, minimum=0)
EXCEPTIONS_RECENT_DAYS = env.int("KENT_EXCEPTIONS_RECENT_DAYS", default=14, minimum=1)
EXCEPTIONS_JOB_STUCK_MINUTES = env.int("KENT_EXCEPTIONS_JOB_STUCK_MINUTES", default=15, minimum=1)
LICENSE_PROCESSING_DAYS = env.int("KENT_LICENSE_PROCESSING_DAYS", default=30, minimum=1)

CITY_NAME = env.str("KENT_CITY_NAME", default="City of Kent")
# Printed on receipts, deposit slips, certificates and notices.
KENT_CITY_ADDRESS_LINES = env.list(
    "KENT_CITY_ADDRESS_LINES", default=["220 Fourth Avenue South", "Kent, WA 98032"]
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"refusals": {"()": "kent_cs.logs.RefusalsWithoutTraceback"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("KENT_LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django.request": {"filters": ["refusals"]},
        "fontTools": {"level": "WARNING"},
        "weasyprint": {"level": "ERROR"},
    },
}
