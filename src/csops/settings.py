"""Settings for csops. Every knob an operator may turn is an environment variable CSOPS_*."""

import os
import secrets
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(os.environ.get("CSOPS_DATA_DIR", Path.cwd() / "var")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    if key := os.environ.get("CSOPS_SECRET_KEY"):
        return key
    # Generated once per data directory so sessions survive restarts without a committed secret.
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = os.environ.get("CSOPS_DEBUG", "") == "1"
ALLOWED_HOSTS = os.environ.get("CSOPS_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_filters",
    "django_htmx",
    "django_tasks",
    "django_tasks_db",
    "csops.core",
    "csops.customers",
    "csops.cockpit",
    "csops.usage",
    "csops.health",
    "csops.timeline",
    "csops.programs",
    "csops.rules",
    "csops.engagements",
    "csops.requests",
    "csops.governance",
    "csops.events",
    "csops.renewals",
    "csops.reports",
    "csops.sandbox",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csops.core.middleware.ContentSecurityPolicyMiddleware",
    "csops.core.middleware.ApiJsonErrorsMiddleware",
]

ROOT_URLCONF = "csops.urls"
WSGI_APPLICATION = "csops.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csops.core.context_processors.navigation",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{DATA_DIR / 'csops.sqlite3'}"),
        conn_max_age=60,
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # WAL lets the web server read while an import or a worker writes.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }

ANALYTICS_URL = os.environ.get("CSOPS_ANALYTICS_URL", f"duckdb://{DATA_DIR / 'analytics.duckdb'}")

# Background work: a durable queue in the application database, run by `csops worker`.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}

AUTH_USER_MODEL = "core.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "customers:account_list"
LOGOUT_REDIRECT_URL = "login"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
# Failed logins allowed per username and per client address in LOGIN_THROTTLE_WINDOW seconds.
LOGIN_THROTTLE_LIMIT = int(os.environ.get("CSOPS_LOGIN_THROTTLE_LIMIT", "5"))
LOGIN_THROTTLE_WINDOW = 15 * 60

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

# The organisation: one per installation.
CSOPS_ORGANISATION = {
    "name": os.environ.get("CSOPS_ORG_NAME", "Example Corp"),
    "business_time_zone": os.environ.get("CSOPS_BUSINESS_TIME_ZONE", "UTC"),
    "fiscal_year_start_month": int(os.environ.get("CSOPS_FISCAL_YEAR_START_MONTH", "2")),
    # The business calendar (csops.core.calendar): public holidays of a country and optionally
    # a subdivision (ISO codes, as the `holidays` library names them), and the working week.
    # Company days off are configuration (company_holidays.yaml).
    "holidays_country": os.environ.get("CSOPS_HOLIDAYS_COUNTRY", "US"),
    "holidays_subdivision": os.environ.get("CSOPS_HOLIDAYS_SUBDIVISION", ""),
    "working_days": os.environ.get("CSOPS_WORKING_DAYS", "Mon,Tue,Wed,Thu,Fri"),
    "currency": os.environ.get("CSOPS_CURRENCY", "USD"),
}

# Where links in emails point (notifications, alerts).
CSOPS_BASE_URL = os.environ.get("CSOPS_BASE_URL", "http://127.0.0.1:8000")
# Rules re-evaluate an account within seconds of its data changing (the worker runs them).
CSOPS_INCREMENTAL_RULES = os.environ.get("CSOPS_INCREMENTAL_RULES", "1") == "1"
CSOPS_SLACK_WEBHOOK_URL = os.environ.get("CSOPS_SLACK_WEBHOOK_URL", "")

# Email: every message goes through the outbox, delivered over SMTP by the worker. The default
# is a server on loopback port 1025, where `csops demo` runs its own mail catcher.
EMAIL_HOST = os.environ.get("CSOPS_SMTP_HOST", "127.0.0.1")
EMAIL_PORT = int(os.environ.get("CSOPS_SMTP_PORT", "1025"))
EMAIL_HOST_USER = os.environ.get("CSOPS_SMTP_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("CSOPS_SMTP_PASSWORD", "")
EMAIL_USE_TLS = os.environ.get("CSOPS_SMTP_STARTTLS", "") == "1"
EMAIL_USE_SSL = os.environ.get("CSOPS_SMTP_SSL", "") == "1"
EMAIL_TIMEOUT = 20
# A message whose delivery began this long ago without an outcome is marked unknown, never resent.
CSOPS_OUTBOX_STALE_SECONDS = int(os.environ.get("CSOPS_OUTBOX_STALE_SECONDS", "600"))
DEFAULT_FROM_EMAIL = os.environ.get("CSOPS_MAIL_FROM", "csops@localhost")

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
CSP_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; "
    "base-uri 'none'; object-src 'none'"
)

# Optional: mirror CS Ops requests with the issues of a GitLab project (csops.requests.gitlab).
# Empty URL: no sync. The token needs the `api` scope on the project.
CSOPS_GITLAB_URL = os.environ.get("CSOPS_GITLAB_URL", "")
CSOPS_GITLAB_TOKEN = os.environ.get("CSOPS_GITLAB_TOKEN", "")
CSOPS_GITLAB_PROJECT = os.environ.get("CSOPS_GITLAB_PROJECT", "")
# The scope of the workflow labels: workflow::In_Process (GitLab's own CS Ops project uses CSOps).
CSOPS_GITLAB_WORKFLOW_SCOPE = os.environ.get("CSOPS_GITLAB_WORKFLOW_SCOPE", "workflow")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("CSOPS_LOG_LEVEL", "WARNING")},
}
FORMS_URLFIELD_ASSUME_HTTPS = True

# Webinars and labs: what provisions an attendee's lab space when they redeem a code (a dotted
# path; the default records it only), and mail domains never matched to a customer account.
CSOPS_LAB_PROVISIONER = os.environ.get("CSOPS_LAB_PROVISIONER", "csops.events.provisioning.record_only")
# The sandbox cleanup's EC2 endpoint: empty for AWS itself (credentials from the usual AWS
# variables or profile); the tests, the benchmark and the demo point it at moto's server on loopback.
CSOPS_SANDBOX_ENDPOINT_URL = os.environ.get("CSOPS_SANDBOX_ENDPOINT_URL", "")
CSOPS_FREE_MAIL_DOMAINS = frozenset({"gmail.com", "outlook.com", "hotmail.com", "yahoo.com", "icloud.com"})
