"""Bad settings fail at start-up with a message naming the variable, never echoing a secret."""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from owabi.core.env import new_key
from tests.conftest import REPO

GOOD = {
    "OWABI_SECRET_KEY": secrets.token_urlsafe(50),
    "OWABI_DATA_KEYS": "k1:" + new_key(),
    "OWABI_INDEX_KEY": new_key(),
    "OWABI_AUDIT_KEY": new_key(),
    "OWABI_NOTICE_KEY": new_key(),
}
SECRET_LOOKING = "TOPSECRETVALUE1234567890"
# What a production deployment sets at the least (docs/operations.md); `check` opens no connection.
PRODUCTION = {
    **GOOD,
    "OWABI_ENV": "production",
    "OWABI_ALLOWED_HOSTS": "owabi.example.jp",
    "OWABI_EMAIL_HOST": "smtp.example.jp",
    "DATABASE_URL": "postgres://owabi@127.0.0.1:5432/owabi",
}


def _start(tmp_path: Path, *command: str, umask: int = 0o022, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OWABI_", "DATABASE_URL", "PG"))}
    base.update({"OWABI_DATA_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "config.settings", **env})
    return subprocess.run(
        [sys.executable, "-m", "owabi", *(command or ["check"])],
        env=base,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        umask=umask,
    )


def test_development_starts_with_nothing_set_and_creates_local_secrets(tmp_path: Path) -> None:
    data = tmp_path / "data" / "owabi"
    result = _start(data, umask=0)  # whatever the umask, nothing of it is readable by others
    assert result.returncode == 0, result.stderr
    secrets_file = data / "dev-secrets.json"
    written = secrets_file.read_text()
    assert {path.name: _mode(path) for path in data.iterdir()} == {
        "dev-secrets.json": 0o600,
        "dev-secrets.lock": 0o600,
        "owabi.sqlite3": 0o600,  # empty until migrate; SQLite's -wal and -shm files take its mode
    }
    assert _mode(data) == _mode(data.parent) == 0o700
    assert _start(data).returncode == 0
    assert secrets_file.read_text() == written


WRITE_AND_LIST = """
import os
from pathlib import Path
from django.db import connection
connection.cursor().execute("CREATE TABLE t (x)")
connection.cursor().execute("INSERT INTO t VALUES (1)")  # the connection stays open: -wal and -shm exist
files = Path(os.environ["OWABI_DATA_DIR"]).glob("owabi.sqlite3*")
print(sorted((path.name, oct(path.stat().st_mode & 0o777)) for path in files))
"""


def test_the_development_database_and_its_journal_files_are_private(tmp_path: Path) -> None:
    result = _start(tmp_path, "shell", "-v", "0", "-c", WRITE_AND_LIST, umask=0)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(
        [("owabi.sqlite3", "0o600"), ("owabi.sqlite3-shm", "0o600"), ("owabi.sqlite3-wal", "0o600")]
    )


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_production_refuses_to_start_without_secrets(tmp_path: Path) -> None:
    result = _start(tmp_path, OWABI_ENV="production")
    assert result.returncode != 0
    assert (
        "OWABI_SECRET_KEY, OWABI_DATA_KEYS, OWABI_INDEX_KEY, OWABI_AUDIT_KEY, OWABI_NOTICE_KEY"
        in result.stderr
    )
    assert not (tmp_path / "dev-secrets.json").exists()


def test_production_starts_with_its_secrets_and_passes_djangos_deploy_checklist(tmp_path: Path) -> None:
    result = _start(tmp_path, "check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
    assert not (tmp_path / "owabi.sqlite3").exists()


@pytest.mark.parametrize(
    "env",
    [
        {"OWABI_EMAIL_USE_TLS": "0", "OWABI_EMAIL_HOST": "127.0.0.1"},  # a relay on this machine
        {"OWABI_EMAIL_USE_TLS": "0", "OWABI_EMAIL_HOST": "localhost"},
        {"OWABI_EMAIL_USE_TLS": "0", "OWABI_EMAIL_HOST": "::1"},
        {"OWABI_SSL_REDIRECT": "0", "OWABI_TLS_PROXY": "1"},
        {"OWABI_HSTS_SECONDS": "0", "OWABI_TLS_PROXY": "1"},
        {"DATABASE_URL": "postgres://owabi@db.example.jp:5432/owabi?sslmode=verify-full"},
        {"DATABASE_URL": "postgres://owabi@db.example.jp:5432/owabi", "PGSSLMODE": "require"},
        {"DATABASE_URL": "postgres://owabi@%2Frun%2Fpostgresql/owabi"},  # a Unix socket
        {"DATABASE_URL": "postgres://owabi@[::1]:5432/owabi"},
        {"OWABI_ALLOWED_HOSTS": "owabi.example.jp,.owabi.example.jp"},  # Django's subdomain form
    ],
)
def test_production_accepts_safe_variants(tmp_path: Path, env: dict[str, str]) -> None:
    result = _start(tmp_path, **{**PRODUCTION, **env})
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"OWABI_ENV": "staging"}, "OWABI_ENV must be one of: development, production"),
        ({"OWABI_DEBUG": "maybe"}, "OWABI_DEBUG must be one of"),
        ({"OWABI_DATA_KEYS": f"k1:{SECRET_LOOKING}"}, "OWABI_DATA_KEYS (key 'k1') must decode to 32 bytes"),
        (
            {"OWABI_DATA_KEYS": SECRET_LOOKING},
            "OWABI_DATA_KEYS must be a comma-separated list of id:base64key",
        ),
        ({"OWABI_INDEX_KEY": SECRET_LOOKING + "!"}, "OWABI_INDEX_KEY is not valid url-safe base64"),
        ({"OWABI_DATA_KEY_ID": "k9"}, "OWABI_DATA_KEY_ID names a key that OWABI_DATA_KEYS does not hold"),
        ({"OWABI_AUDIT_KEY": GOOD["OWABI_INDEX_KEY"]}, "must all differ"),
        ({"OWABI_NOTICE_KEY": GOOD["OWABI_DATA_KEYS"][3:]}, "must all differ"),
        ({"OWABI_EMAIL_HOST": "smtp", "OWABI_EMAIL_PORT": "lots"}, "OWABI_EMAIL_PORT must be a whole number"),
        ({"OWABI_EMAIL_HOST": "smtp", "OWABI_EMAIL_PORT": "70000"}, "OWABI_EMAIL_PORT must be at most 65535"),
        (
            {"DATABASE_URL": "mysql://root@localhost/x"},
            "DATABASE_URL must be an sqlite:// or postgres:// URL",
        ),
    ],
)
def test_bad_values_fail_clearly_without_echoing_them(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    result = _start(tmp_path, **{**GOOD, **env})
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert SECRET_LOOKING not in result.stderr


ZERO_KEY = base64.urlsafe_b64encode(bytes(32)).decode()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"OWABI_DEBUG": "1"}, "OWABI_DEBUG must be off in production"),
        ({"OWABI_SECRET_KEY": SECRET_LOOKING}, "OWABI_SECRET_KEY must be at least 50 random characters"),
        ({"OWABI_SECRET_KEY": "s" * 60}, "OWABI_SECRET_KEY must be at least 50 random characters"),
        (
            {"OWABI_SECRET_KEY": "django-insecure-" + SECRET_LOOKING * 3},
            "OWABI_SECRET_KEY must be at least 50 random characters",
        ),
        ({"OWABI_SECRET_KEY": SECRET_LOOKING + GOOD["OWABI_AUDIT_KEY"]}, "must all differ"),
        ({"OWABI_INDEX_KEY": ZERO_KEY}, "OWABI_INDEX_KEY is not a random key"),
        ({"OWABI_DATA_KEYS": f"k1:{ZERO_KEY}"}, "OWABI_DATA_KEYS (key 'k1') is not a random key"),
        ({"OWABI_ALLOWED_HOSTS": ""}, "OWABI_ALLOWED_HOSTS must list"),
        ({"OWABI_ALLOWED_HOSTS": "*"}, "OWABI_ALLOWED_HOSTS must name the site's hosts in production, not *"),
        ({"OWABI_ALLOWED_HOSTS": "owabi.example.jp, *"}, "OWABI_ALLOWED_HOSTS must name the site's hosts"),
        ({"OWABI_EMAIL_HOST": ""}, "OWABI_EMAIL_HOST must be set in production"),
        ({"OWABI_EMAIL_USE_TLS": "0"}, "OWABI_EMAIL_USE_TLS must be on in production"),
        ({"OWABI_EMAIL_USE_TLS": "0", "OWABI_EMAIL_HOST": "10.0.0.25"}, "OWABI_EMAIL_USE_TLS must be on"),
        ({"DATABASE_URL": ""}, "DATABASE_URL must be set in production"),
        ({"DATABASE_URL": "sqlite:////srv/owabi/owabi.sqlite3"}, "DATABASE_URL must be a postgres:// URL"),
        (
            {"DATABASE_URL": f"postgres://owabi:{SECRET_LOOKING}@db.example.jp:5432/owabi"},
            "DATABASE_URL must ask for TLS",
        ),
        (
            {"DATABASE_URL": "postgres://owabi@db.example.jp:5432/owabi?sslmode=prefer"},
            "DATABASE_URL must ask for TLS",
        ),
        (
            {"DATABASE_URL": "postgres://owabi@db.example.jp:5432/owabi", "PGSSLMODE": "disable"},
            "DATABASE_URL must ask for TLS",
        ),
        ({"OWABI_SSL_REDIRECT": "0"}, "OWABI_SSL_REDIRECT may be off in production only behind"),
        ({"OWABI_HSTS_SECONDS": "0"}, "OWABI_HSTS_SECONDS may be 0 in production only behind"),
    ],
)
def test_production_refuses_unsafe_settings_by_name(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    result = _start(tmp_path, **{**PRODUCTION, **env})
    assert result.returncode != 0
    assert result.stderr.count("\n") == 1, result.stderr  # one line, no traceback
    assert message in result.stderr
    assert SECRET_LOOKING not in result.stderr
    assert ZERO_KEY not in result.stderr
    assert not (tmp_path / "owabi.sqlite3").exists()


def test_production_refuses_a_data_dir_anyone_can_write(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o777)
    result = _start(data, **PRODUCTION)
    assert result.returncode != 0
    assert "OWABI_DATA_DIR must not be writable by everyone in production" in result.stderr
    data.chmod(0o755)  # static files may be readable by the web server
    assert _start(data, **PRODUCTION).returncode == 0


SHOW_REQUEST = (
    "from django.test import Client; "
    "r = Client().get('/admin/login/', headers={'host': 'owabi.example.jp', 'x-forwarded-proto': 'https'}); "
    "print(r.status_code, r.headers.get('Location'), sorted(r.cookies))"
)


def test_a_forwarded_https_header_is_believed_only_from_a_declared_proxy(tmp_path: Path) -> None:
    direct = _start(tmp_path, "shell", "-v", "0", "-c", SHOW_REQUEST, **PRODUCTION)
    assert direct.returncode == 0, direct.stderr
    # Straight from a client, the header is a claim: plain HTTP is still sent to HTTPS.
    assert direct.stdout.split()[:2] == ["301", "https://owabi.example.jp/admin/login/"]
    proxied = _start(tmp_path, "shell", "-v", "0", "-c", SHOW_REQUEST, **PRODUCTION, OWABI_TLS_PROXY="1")
    assert proxied.returncode == 0, proxied.stderr
    assert proxied.stdout.split()[0] == "200"
    assert "__Host-csrftoken" in proxied.stdout  # secure, this host only
