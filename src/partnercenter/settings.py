"""The one settings module: every setting that varies comes from the environment, read here once."""

from __future__ import annotations

import os
from pathlib import Path
from zoneinfo import ZoneInfo

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

PACKAGE_DIR = Path(__file__).resolve().parent
BASE_DIR = Path(os.environ.get("PARTNERCENTER_HOME", Path.cwd())).resolve()
VAR_DIR = Path(os.environ.get("PARTNERCENTER_VAR_DIR", BASE_DIR / "var")).resolve()

ENVIRONMENTS = ("development", "production")
ENVIRONMENT = os.environ.get("PARTNERCENTER_ENV", "development")
if ENVIRONMENT not in ENVIRONMENTS:
    # A typo such as "prod" must not silently start with development defaults.
    raise ImproperlyConfigured(f"PARTNERCENTER_ENV is {ENVIRONMENT!r}; it must be one of: {', '.join(ENVIRONMENTS)}.")
PRODUCTION = ENVIRONMENT == "production"


def _flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name, "1" if default else "0").strip().lower()
    if value not in ("0", "1", "true", "false", "yes", "no", ""):
        raise ImproperlyConfigured(f"{name} is {value!r}; use 1 or 0.")
    return value in ("1", "true", "yes")


# Debug pages list the URLs and settings: opt-in for development only, never in production.
DEBUG = _flag("PARTNERCENTER_DEBUG")
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("PARTNERCENTER_DEBUG=1 is refused in production.")

_DEV_SECRET = "insecure-development-key-change-me"
SECRET_KEY = os.environ.get("PARTNERCENTER_SECRET_KEY", "" if PRODUCTION else _DEV_SECRET)
if PRODUCTION and (not SECRET_KEY or SECRET_KEY == _DEV_SECRET or "change-me" in SECRET_KEY or len(SECRET_KEY) < 32):
    raise ImproperlyConfigured(
        "PARTNERCENTER_SECRET_KEY must be set to a random value of at least 32 characters in production."
    )

ALLOWED_HOSTS = [
    h for h in os.environ.get("PARTNERCENTER_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h
]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("PARTNERCENTER_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "ninja",  # its templates and static files: the API docs page works offline
    "axes",
    "django_tasks",
    "django_tasks_db",
    "partnercenter.core",
    "partnercenter.accounts",
    "partnercenter.partners",
    "partnercenter.usage",
    "partnercenter.expenditure",
    "partnercenter.billing",
    "partnercenter.customer_bills",
    "partnercenter.incentives",
    "partnercenter.exports",
    "partnercenter.leads",
    "partnercenter.alerts",
    "partnercenter.marketplace",
    "partnercenter.contracts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "partnercenter.core.security.ContentSecurityPolicyMiddleware",
    "partnercenter.core.error_views.ApiMethodNotAllowedMiddleware",
    "partnercenter.core.error_views.ApiNulCharacterMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "partnercenter.urls"
WSGI_APPLICATION = "partnercenter.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "partnercenter.core.context_processors.console",
            ],
        },
    },
]

_default_db = f"sqlite:///{VAR_DIR / 'partnercenter.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(os.environ.get("DATABASE_URL", _default_db), conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets the worker write while the web process reads; IMMEDIATE takes the write lock at
        # BEGIN so two writers queue instead of failing half-way through a transaction.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
CSRF_FAILURE_VIEW = "partnercenter.core.error_views.csrf_failure"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "core:dashboard"
LOGOUT_REDIRECT_URL = "accounts:login"

# Sign-in throttling: after 5 failures for one username from one address, that pair is locked out
# for 15 minutes; after 20 failures from one address across any usernames, the address is. A
# successful sign-in clears only its own username + address counter (core/signin_throttle.py).
AXES_FAILURE_LIMIT = int(os.environ.get("PARTNERCENTER_LOGIN_FAILURE_LIMIT", "5"))
SIGNIN_ADDRESS_FAILURE_LIMIT = int(os.environ.get("PARTNERCENTER_LOGIN_ADDRESS_FAILURE_LIMIT", "20"))
AXES_COOLOFF_TIME = float(os.environ.get("PARTNERCENTER_LOGIN_COOLOFF_HOURS", "0.25"))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
AXES_HANDLER = "partnercenter.core.signin_throttle.SignInThrottle"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "partnercenter.accounts.views.locked_out"
AXES_VERBOSE = False

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("简体中文"))]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "UTC"

BILLING_TIME_ZONE_NAME = os.environ.get("PARTNERCENTER_BILLING_TIME_ZONE", "Asia/Shanghai")
BILLING_TIME_ZONE = ZoneInfo(BILLING_TIME_ZONE_NAME)
# The issuer whose gap-free sequence numbers the partner invoices (rule B6).
INVOICE_ISSUER = os.environ.get("PARTNERCENTER_INVOICE_ISSUER", "PC")

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
# Outside production whitenoise serves straight from the apps' static folders, so the console
# keeps its look with DEBUG off even before collectstatic.
WHITENOISE_USE_FINDERS = not PRODUCTION
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_ROOT = VAR_DIR / "media"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SECURE_HSTS_SECONDS = int(os.environ.get("PARTNERCENTER_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = _flag("PARTNERCENTER_HSTS_INCLUDE_SUBDOMAINS", default=True)
    # The directive only allows the domain's owner to submit it to browsers' preload lists.
    SECURE_HSTS_PRELOAD = _flag("PARTNERCENTER_HSTS_PRELOAD", default=True)
    SECURE_SSL_REDIRECT = _flag("PARTNERCENTER_SSL_REDIRECT", default=True)
    # /healthz is probed over plain HTTP by load balancers inside the network.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
# Trust X-Forwarded-Proto only when a TLS-terminating proxy in front sets it (and strips it from
# clients); otherwise anyone could claim HTTPS.
BEHIND_TLS_PROXY = _flag("PARTNERCENTER_BEHIND_TLS_PROXY")
if BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Scripts and styles come only from the product's own static files (core/security.py).
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",  # a few templates set style attributes
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

# The whole API body is read into memory for ordinary requests; usage batches are large and
# have their own limit (usage/api.py reads the body itself).
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
USAGE_BATCH_MAX_BYTES = int(float(os.environ.get("PARTNERCENTER_USAGE_BATCH_MAX_MB", "200")) * 1024 * 1024)

TASKS = {
    "default": {
        "BACKEND": os.environ.get("PARTNERCENTER_TASK_BACKEND", "django_tasks_db.DatabaseBackend"),
    }
}

API_TOKEN_TTL_HOURS = int(os.environ.get("PARTNERCENTER_API_TOKEN_TTL_HOURS", "720"))
DEMO_PASSWORD = os.environ.get("PARTNERCENTER_DEMO_PASSWORD", "demo-password")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("PARTNERCENTER_LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}
