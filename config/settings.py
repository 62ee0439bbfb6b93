"""owabi settings, read from the environment (see .env.example).

OWABI_ENV=production switches on production mode, which refuses to start without its secrets.
Development (the default) creates local secrets in OWABI_DATA_DIR on first use.
"""

from __future__ import annotations

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
    load_dev_secrets,
    parse_keyring,
)

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
else:
    _dev = load_dev_secrets(DATA_DIR / "dev-secrets.json")
    _secrets = {name: env_str(name) or _dev[name] for name in DEV_SECRET_NAMES}

SECRET_KEY = _secrets["OWABI_SECRET_KEY"]
if PRODUCTION and len(SECRET_KEY) < 40:
    raise ImproperlyConfigured("OWABI_SECRET_KEY must be at least 40 characters in production")

# Leaked-PII encryption keys: "id:key,id:key"; OWABI_DATA_KEY_ID picks the one new data is written with.
OWABI_DATA_KEYS = parse_keyring("OWABI_DATA_KEYS", _secrets["OWABI_DATA_KEYS"])
OWABI_DATA_KEY_ID = env_str("OWABI_DATA_KEY_ID") or next(iter(OWABI_DATA_KEYS))
if OWABI_DATA_KEY_ID not in OWABI_DATA_KEYS:
    raise ImproperlyConfigured("OWABI_DATA_KEY_ID names a key that OWABI_DATA_KEYS does not hold")
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
_single_keys = {OWABI_INDEX_KEY, OWABI_AUDIT_KEY, OWABI_NOTICE_KEY}
if len({*_single_keys, *OWABI_DATA_KEYS.values()}) != 3 + len(OWABI_DATA_KEYS):
    raise ImproperlyConfigured(
        "OWABI_DATA_KEYS, OWABI_INDEX_KEY, OWABI_AUDIT_KEY and OWABI_NOTICE_KEY must all differ"
    )

DEBUG = env_bool("OWABI_DEBUG", False)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("OWABI_DEBUG must be off in production")
ALLOWED_HOSTS = env_list(
    "OWABI_ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "testserver"]
)
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("OWABI_ALLOWED_HOSTS must list the site's host names in production")

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
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
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
    elif engine != "django.db.backends.postgresql":
        raise ImproperlyConfigured("DATABASE_URL must be an sqlite:// or postgres:// URL")
    return config


DATABASE_URL = env_str("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'owabi.sqlite3'}"
DATABASES = {"default": _database(DATABASE_URL)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Extra modules to import for job handlers, beyond each app's `jobs` module (comma-separated).
OWABI_JOB_MODULES = env_list("OWABI_JOB_MODULES", [])

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

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"

# E-mail: SMTP when OWABI_EMAIL_HOST is set, otherwise files in OWABI_DATA_DIR/outbox (development).
EMAIL_HOST = env_str("OWABI_EMAIL_HOST") or ""
if EMAIL_HOST:
    EMAIL_BACKEND = "owabi.notices.mime.SMTPBackend"  # Django's SMTP backend, with a fast path for notices
    EMAIL_PORT = env_int("OWABI_EMAIL_PORT", 587, minimum=1, maximum=65535)
    EMAIL_HOST_USER = env_str("OWABI_EMAIL_USER") or ""
    EMAIL_HOST_PASSWORD = env_str("OWABI_EMAIL_PASSWORD") or ""
    EMAIL_USE_TLS = env_bool("OWABI_EMAIL_USE_TLS", True)
    EMAIL_TIMEOUT = env_int("OWABI_EMAIL_TIMEOUT", 30, minimum=1)
elif PRODUCTION:
    raise ImproperlyConfigured("OWABI_EMAIL_HOST must be set in production")
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = DATA_DIR / "outbox"
DEFAULT_FROM_EMAIL = env_str("OWABI_FROM_EMAIL") or "owabi@localhost"
# The Japanese TrueType font letters embed (default: Debian's fonts-ipaexfont-gothic, which ./dev installs).
OWABI_LETTER_FONT = env_str("OWABI_LETTER_FONT") or ""

if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("OWABI_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_SSL_REDIRECT = env_bool("OWABI_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
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
