"""owabi settings, read from the environment (see .env.example).

OWABI_ENV=production switches on production mode, which refuses to start without its secrets or with
an unsafe setting (docs/operations.md lists them); each refusal is one line naming the variable, never
its value. Development (the default) creates local secrets in OWABI_DATA_DIR on first use.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from owabi.core.env import (
    DEV_SECRET_NAMES,
    decode_key,
    env_bool,
    env_choice,
    env_int,
    env_list,
    env_str,
    is_loopback,
    load_dev_secrets,
    parse_keyring,
    refuse_weak_key,
)
from owabi.core.files import open_private, private_dir

BASE_DIR = Path(__file__).resolve().parent.parent
OWABI_ENV = env_choice("OWABI_ENV", "development", ("development", "production"))
PRODUCTION = OWABI_ENV == "production"
DATA_DIR = Path(env_str("OWABI_DATA_DIR") or (BASE_DIR / "var")).resolve()

if PRODUCTION:
    missing = [name for name in DEV_SECRET_NAMES if not env_str(name)]
    if missing:
        raise ImproperlyConfigured(
            "production mode (OWABI_ENV=production) needs these secrets set: " + ", ".join(missing)
        )
    _secrets = {name: env_str(name) or "" for name in DEV_SECRET_NAMES}
    # Anyone who can write there can swap what owabi reads and writes (static files, outputs).
    if DATA_DIR.exists() and DATA_DIR.stat().st_mode & 0o002:
        raise ImproperlyConfigured("OWABI_DATA_DIR must not be writable by everyone in production")
else:
    private_dir(DATA_DIR)
    _dev = load_dev_secrets(DATA_DIR / "dev-secrets.json")
    _secrets = {name: env_str(name) or _dev[name] for name in DEV_SECRET_NAMES}

SECRET_KEY = _secrets["OWABI_SECRET_KEY"]
# Django's own deploy check (security.W009): 50 characters, 5 different ones, not a generated dev key.
if PRODUCTION and (
    len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5 or SECRET_KEY.startswith("django-insecure-")
):
    raise ImproperlyConfigured("OWABI_SECRET_KEY must be at least 50 random characters in production")

# Leaked-PII encryption keys: "id:key,id:key"; OWABI_DATA_KEY_ID picks the one new data is written with.
OWABI_DATA_KEYS = parse_keyring("OWABI_DATA_KEYS", _secrets["OWABI_DATA_KEYS"])
OWABI_DATA_KEY_ID = env_str("OWABI_DATA_KEY_ID") or next(iter(OWABI_DATA_KEYS))
if OWABI_DATA_KEY_ID not in OWABI_DATA_KEYS:
    raise ImproperlyConfigured("OWABI_DATA_KEY_ID names a key that OWABI_DATA_KEYS does not hold")
# Upgrade window only: open values sealed by releases that bound them to their column but not their row,
# until `owabi keys rotate` has re-sealed them bound to their rows (docs/operations.md). Off: such a value
# is refused, so an old blob swapped into a row does not open.
OWABI_ACCEPT_UNBOUND_SEALS = env_bool("OWABI_ACCEPT_UNBOUND_SEALS", False)
OWABI_INDEX_KEY = decode_key("OWABI_INDEX_KEY", _secrets["OWABI_INDEX_KEY"])
OWABI_AUDIT_KEY = decode_key("OWABI_AUDIT_KEY", _secrets["OWABI_AUDIT_KEY"])
# Derives each notice's login key from its registration code (owabi.notices.codes): never rotate it while
# notices are outstanding, or the keys already printed stop working.
OWABI_NOTICE_KEY = decode_key("OWABI_NOTICE_KEY", _secrets["OWABI_NOTICE_KEY"])
# The audit chain's witness outside the database (owabi.core.audit.anchor): an append-only file where the
# database's administrators cannot write. Development: OWABI_DATA_DIR/audit-witness. Production may
# leave it unset on hosts that only serve; `owabi audit verify` fails where it is unset.
_witness = env_str("OWABI_AUDIT_WITNESS")
OWABI_AUDIT_WITNESS = Path(_witness) if _witness else (None if PRODUCTION else DATA_DIR / "audit-witness")
_keys = {
    **{f"OWABI_DATA_KEYS (key {key_id!r})": key for key_id, key in OWABI_DATA_KEYS.items()},
    "OWABI_INDEX_KEY": OWABI_INDEX_KEY,
    "OWABI_AUDIT_KEY": OWABI_AUDIT_KEY,
    "OWABI_NOTICE_KEY": OWABI_NOTICE_KEY,
}
if len(set(_keys.values())) != len(_keys) or any(
    base64.urlsafe_b64encode(key).rstrip(b"=").decode() in SECRET_KEY for key in _keys.values()
):
    raise ImproperlyConfigured(
        "OWABI_SECRET_KEY, OWABI_DATA_KEYS, OWABI_INDEX_KEY, OWABI_AUDIT_KEY and OWABI_NOTICE_KEY "
        "must all differ"
    )
if PRODUCTION:
    for _name, _key in _keys.items():
        refuse_weak_key(_name, _key)

DEBUG = env_bool("OWABI_DEBUG", False)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("OWABI_DEBUG must be off in production")
ALLOWED_HOSTS = env_list(
    "OWABI_ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "testserver"]
)
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("OWABI_ALLOWED_HOSTS must list the site's host names in production")
# "*" lets any Host header through, and links built from it (password resets) could name any site.
if PRODUCTION and any("*" in host for host in ALLOWED_HOSTS):
    raise ImproperlyConfigured("OWABI_ALLOWED_HOSTS must name the site's hosts in production, not *")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "owabi.core",
    "owabi.incidents",
    "owabi.records",
    "owabi.notices",
    "owabi.redress",
    "owabi.reports",
    "owabi.portal",
    "owabi.backoffice",
    "owabi.demo",
    "owabi.api",
    "django_otp",
    "django_otp.plugins.otp_totp",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",  # every asset served by us, no CDN
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "owabi.core.middleware.LanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",  # request.user.is_verified(): signed in with the second factor
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "django.template.context_processors.i18n",
                "owabi.portal.incident.context",
            ],
        },
    },
]


def _database(url: str) -> dict[str, object]:
    try:
        config: dict[str, object] = dict(dj_database_url.parse(url, conn_max_age=600))
    except Exception:
        raise ImproperlyConfigured(
            "DATABASE_URL must look like sqlite:///path/to/file or postgres://user@host:port/name"
        ) from None
    engine = config.get("ENGINE")
    if engine == "django.db.backends.sqlite3":
        # IMMEDIATE: a write transaction takes the lock at BEGIN, so it waits instead of failing
        # half-way with "database is locked" when another process writes.
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
        config["CONN_MAX_AGE"] = 0
        # Tests use a file, not memory, so worker subprocesses started by a test see the same data.
        config["TEST"] = {"NAME": str(DATA_DIR / "test-owabi.sqlite3")}
        # Made private before SQLite makes it (with the umask); its -wal and -shm files copy its mode.
        name = str(config.get("NAME") or "")
        if not PRODUCTION and name not in ("", ":memory:") and not Path(name).exists():
            open_private(Path(name), "ab").close()
    elif engine != "django.db.backends.postgresql":
        raise ImproperlyConfigured("DATABASE_URL must be an sqlite:// or postgres:// URL")
    return config


def _database_is_private(config: dict[str, object]) -> bool:
    """True when no one can read the connection on the way: a Unix socket, loopback, or TLS asked for
    (libpq's default, sslmode=prefer, falls back to plain text without a word)."""
    host = str(config.get("HOST") or env_str("PGHOST") or "")
    options = config.get("OPTIONS")
    sslmode = (options.get("sslmode") if isinstance(options, dict) else None) or env_str("PGSSLMODE")
    tls = sslmode in ("require", "verify-ca", "verify-full")
    return tls or not host or host.startswith("/") or is_loopback(host)


DATABASE_URL = env_str("DATABASE_URL") or ""
if PRODUCTION and not DATABASE_URL:
    raise ImproperlyConfigured("DATABASE_URL must be set in production (postgres://user@host:5432/name)")
DATABASES = {"default": _database(DATABASE_URL or f"sqlite:///{DATA_DIR / 'owabi.sqlite3'}")}
if PRODUCTION and DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    # SQLite has no SKIP LOCKED, no trigger-enforced append-only audit, one writer at a time.
    raise ImproperlyConfigured("DATABASE_URL must be a postgres:// URL in production")
if PRODUCTION and not _database_is_private(DATABASES["default"]):
    raise ImproperlyConfigured(
        "DATABASE_URL must ask for TLS (?sslmode=verify-full, verify-ca or require) in production "
        "when the database is not on this machine"
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The Spark engine (`owabi resolve --engine spark`, docs/operations.md): the master (local[N],
# spark://host:port, yarn, k8s://...), the driver's memory, the shuffle partitions (Spark's 200 is twice as
# slow on two cores), and where its scratch goes (a private folder per run, deleted after it; default:
# OWABI_DATA_DIR/spark). The master URL is checked when the engine starts: a bad one fails only that engine.
OWABI_SPARK_MASTER = env_str("OWABI_SPARK_MASTER") or "local[2]"
OWABI_SPARK_DRIVER_MEMORY = env_str("OWABI_SPARK_DRIVER_MEMORY") or "4g"
OWABI_SPARK_PARTITIONS = env_int("OWABI_SPARK_PARTITIONS", 8, minimum=1, maximum=100_000)
OWABI_SPARK_CHECKPOINT_DIR = env_str("OWABI_SPARK_CHECKPOINT_DIR") or str(DATA_DIR / "spark")
if not re.fullmatch(r"[0-9]+[kmgtKMGT]?", OWABI_SPARK_DRIVER_MEMORY):
    raise ImproperlyConfigured("OWABI_SPARK_DRIVER_MEMORY must be a size like 4g or 512m")

# `owabi resolve` on DuckDB (the default engine): the most memory DuckDB may hold while it scores pairs, a
# size like 1g or 512m (DuckDB's own default is 80 % of the machine; scoring was resolve's peak). Beyond it
# DuckDB spills to a private folder per run under OWABI_DATA_DIR/resolve (plain-text features: deleted).
OWABI_RESOLVE_MEMORY = env_str("OWABI_RESOLVE_MEMORY") or "1g"
if not re.fullmatch(r"[0-9]+[kmgtKMGT]?", OWABI_RESOLVE_MEMORY):
    raise ImproperlyConfigured("OWABI_RESOLVE_MEMORY must be a size like 4g or 512m")
# How many records resolve's clustering and recipient steps hold as Python lists at once: it runs them on
# batches of independent parts of the incident (owabi/records/resolve/parts.py), each batch at most this
# many records (a part larger than it is a batch of its own). The clusters are the same at any value.
OWABI_RESOLVE_PART_RECORDS = env_int("OWABI_RESOLVE_PART_RECORDS", 200_000, minimum=1, maximum=10**10)

# Extra modules to import for job handlers, beyond each app's `jobs` module (comma-separated).
OWABI_JOB_MODULES = env_list("OWABI_JOB_MODULES", [])

# `owabi import` commits every this many rows and records a checkpoint with them: a crash loses at most
# this many rows' work, and running the same import again resumes after the last checkpoint.
OWABI_IMPORT_CHECKPOINT_ROWS = env_int("OWABI_IMPORT_CHECKPOINT_ROWS", 50_000, minimum=1)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "ja"
LANGUAGES = [("ja", "日本語"), ("en", "English")]
TIME_ZONE = "Asia/Tokyo"
USE_I18N = True
USE_TZ = True

LOCALE_PATHS = [BASE_DIR / "owabi" / "locale"]
LANGUAGE_COOKIE_SECURE = PRODUCTION
LANGUAGE_COOKIE_SAMESITE = "Lax"

STATIC_URL = "static/"
# Production serves what `owabi collectstatic` gathered here; development serves from the app folders.
STATIC_ROOT = Path(env_str("OWABI_STATIC_ROOT") or (DATA_DIR / "static")) if PRODUCTION else None
# WhiteNoise serves static files from the app folders in development and tests (no collectstatic step)
# and from STATIC_ROOT, compressed, in production (`owabi collectstatic` at deploy).
WHITENOISE_USE_FINDERS = not PRODUCTION
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        # Compressed, not renamed by content hash: a page whose stylesheet was not collected still
        # renders instead of failing (a manifest makes a missing file a 500); the few assets are small.
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

LOGIN_URL = "staff:login"
# The authenticator app shows this as the account's issuer.
OTP_TOTP_ISSUER = "owabi"

# The portal's incident when one deployment serves several (default: the one whose notice setup names
# this host, or the only one).
OWABI_PORTAL_INCIDENT = env_str("OWABI_PORTAL_INCIDENT") or ""

# Sessions: the portal ends an idle session after 30 minutes (owabi.portal.access); the cookie lives at
# most 8 hours and dies with the browser.
SESSION_COOKIE_AGE = 8 * 3600
SESSION_ENGINE = "owabi.core.sessions"  # Django's database sessions, one read fewer per new session
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
CSRF_COOKIE_HTTPONLY = True
# Uploads are read into memory up to this size and written to a temporary file beyond it; the portal
# refuses any evidence file over 10 MB (owabi.redress.uploads).
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FILES = 6

# Content Security Policy (django-csp): our own scripts, styles and images only; nothing may frame us.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "style-src": ["'self'"],
        "script-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
SECURE_REFERRER_POLICY = "same-origin"

# E-mail: SMTP when OWABI_EMAIL_HOST is set, otherwise files in OWABI_DATA_DIR/outbox (development).
EMAIL_HOST = env_str("OWABI_EMAIL_HOST") or ""
if EMAIL_HOST:
    EMAIL_BACKEND = "owabi.notices.mime.SMTPBackend"  # Django's SMTP backend, with a fast path for notices
    EMAIL_PORT = env_int("OWABI_EMAIL_PORT", 587, minimum=1, maximum=65535)
    EMAIL_HOST_USER = env_str("OWABI_EMAIL_USER") or ""
    EMAIL_HOST_PASSWORD = env_str("OWABI_EMAIL_PASSWORD") or ""
    EMAIL_USE_TLS = env_bool("OWABI_EMAIL_USE_TLS", True)
    EMAIL_TIMEOUT = env_int("OWABI_EMAIL_TIMEOUT", 30, minimum=1)
    # Notices name people and what of theirs leaked: plain SMTP only to a relay on this machine.
    if PRODUCTION and not EMAIL_USE_TLS and not is_loopback(EMAIL_HOST):
        raise ImproperlyConfigured(
            "OWABI_EMAIL_USE_TLS must be on in production unless OWABI_EMAIL_HOST is on loopback"
        )
elif PRODUCTION:
    raise ImproperlyConfigured("OWABI_EMAIL_HOST must be set in production")
else:
    EMAIL_BACKEND = "owabi.core.outbox.EmailBackend"  # Django's file backend, files 0600
    EMAIL_FILE_PATH = DATA_DIR / "outbox"
DEFAULT_FROM_EMAIL = env_str("OWABI_FROM_EMAIL") or "owabi@localhost"
# The Japanese TrueType font letters embed (default: Debian's fonts-ipaexfont-gothic, which ./dev installs).
OWABI_LETTER_FONT = env_str("OWABI_LETTER_FONT") or ""

# A TLS-terminating proxy in front (OWABI_TLS_PROXY=1) must set X-Forwarded-Proto and drop any copy a
# client sent: only then is that header believed, and only then may the proxy do the redirect and HSTS.
OWABI_TLS_PROXY = env_bool("OWABI_TLS_PROXY", False)
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # __Host-: the browser keeps the cookie to this host over HTTPS, out of reach of any subdomain.
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"
    SECURE_HSTS_SECONDS = env_int("OWABI_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True  # the subdomains of owabi's own host name
    # Preloading is a submission to the browsers' list, slow to undo: the operator's decision.
    SILENCED_SYSTEM_CHECKS = ["security.W021"]
    SECURE_SSL_REDIRECT = env_bool("OWABI_SSL_REDIRECT", True)
    if OWABI_TLS_PROXY:
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    elif not SECURE_SSL_REDIRECT:
        raise ImproperlyConfigured(
            "OWABI_SSL_REDIRECT may be off in production only behind a TLS-terminating proxy "
            "that redirects itself (OWABI_TLS_PROXY=1)"
        )
    elif not SECURE_HSTS_SECONDS:
        raise ImproperlyConfigured(
            "OWABI_HSTS_SECONDS may be 0 in production only behind a TLS-terminating proxy "
            "that sends HSTS itself (OWABI_TLS_PROXY=1)"
        )
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# Logs never carry PII: owabi code logs ids and counts only; Django's request logging stays at WARNING
# and never logs bodies.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {
        "handlers": ["console"],
        "level": env_choice("OWABI_LOG_LEVEL", "info", ("debug", "info", "warning", "error")).upper(),
    },
}
