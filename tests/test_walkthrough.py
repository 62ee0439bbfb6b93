"""A newcomer's first hour: the README's walkthrough, run as written, on a fresh database, and every
command friendly on the way (help, one-line errors, a database that migrates itself in development)."""

from __future__ import annotations

import base64
import csv
import os
import re
import shlex
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.core.management import get_commands, load_command_class
from django.db import connection

from tests.conftest import REPO, database_url_for_subprocess

README = REPO / "README.md"
PROMPT = ".venv/bin/owabi "


def walkthrough() -> list[list[str]]:
    """The commands of the README's walkthrough block, as argument lists (without the program)."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Walkthrough", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert block, "the README's walkthrough has no ```sh block"
    commands = []
    for line in block[1].splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        assert line.startswith(PROMPT), f"not an owabi command, so the test cannot run it: {line}"
        commands.append(shlex.split(line[len(PROMPT) :]))
    return commands


def test_the_readme_walkthrough_covers_the_pipeline() -> None:
    """incident -> import -> resolve -> notices setup/prepare/send/print, in that order."""
    steps = [" ".join(command[:2]) for command in walkthrough()]
    wanted = ["incident create", "import", "resolve", "notices setup", "notices prepare", "notices send"]
    wanted.append("notices print")
    found = [next(i for i, step in enumerate(steps) if step.startswith(want)) for want in wanted]
    assert found == sorted(found)


def _admin() -> psycopg.Connection[Any]:
    params = connection.settings_dict
    return psycopg.connect(
        host=params["HOST"] or "127.0.0.1",
        port=params["PORT"] or 5432,
        user=params["USER"] or "postgres",
        password=params["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    )


def _fresh_database() -> tuple[str | None, str | None]:
    """(DATABASE_URL, database to drop afterwards) for a database no test has touched. SQLite: none
    (the default file in the fresh OWABI_DATA_DIR, as on a new checkout); PostgreSQL: a new database
    beside the test database."""
    if connection.vendor == "sqlite":
        return None, None
    name = f"{connection.settings_dict['NAME']}_walk"
    with _admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    return database_url_for_subprocess().rsplit("/", 1)[0] + f"/{name}", name


def _drop(name: str | None) -> None:
    if name is not None:
        with _admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _env(data_dir: Path, database_url: str | None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OWABI_", "DATABASE_URL"))}
    env.update(OWABI_DATA_DIR=str(data_dir), DJANGO_SETTINGS_MODULE="config.settings", **extra)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def owabi(
    args: list[str], env: dict[str, str], cwd: Path, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "owabi", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


@pytest.mark.slow
@pytest.mark.django_db
def test_the_readme_walkthrough_runs_as_written_on_a_fresh_database(tmp_path: Path) -> None:
    """A new checkout: nothing in var/, no database; the commands run in the README's order."""
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / "docs").symlink_to(REPO / "docs")
    url, drop = _fresh_database()
    env = _env(checkout / "var", url)
    try:
        outputs = []
        for number, command in enumerate(walkthrough()):
            done = owabi(command, env, checkout)
            shown = " ".join(command)
            assert done.returncode == 0, f"{shown}\n{done.stdout}\n{done.stderr}"
            assert "Traceback" not in done.stderr, shown
            if number == 0:
                assert "migrating the development database" in done.stderr
            else:
                assert "migrating" not in done.stderr
            outputs.append(done.stdout)
    finally:
        _drop(drop)
    letters = checkout / "var" / "tutorial" / "letters"
    assert list(letters.glob("letters-*.pdf")) and list(letters.glob("manifest-*.csv"))
    assert list((checkout / "var" / "outbox").iterdir())  # the e-mails, as files in development
    with (checkout / "var" / "tutorial" / "clusters.csv").open(encoding="utf-8") as handle:
        assert len(list(csv.DictReader(handle))) == 300
    assert any("audit chain OK" in out for out in outputs)


@pytest.mark.slow
def test_production_asks_for_migrate_in_one_line_instead_of_migrating(tmp_path: Path) -> None:
    """Production runs on PostgreSQL only (an SQLite URL is refused, in one line, before anything else);
    on a database that is behind the code, a command stops and asks for `owabi migrate`."""

    def b64() -> str:
        return base64.urlsafe_b64encode(os.urandom(32)).decode()

    url, drop = _fresh_database()
    env = _env(
        tmp_path / "var",
        url or f"sqlite:///{tmp_path / 'prod.sqlite3'}",
        OWABI_ENV="production",
        OWABI_SECRET_KEY=base64.urlsafe_b64encode(os.urandom(48)).decode(),
        OWABI_DATA_KEYS=f"k1:{b64()}",
        OWABI_INDEX_KEY=b64(),
        OWABI_AUDIT_KEY=b64(),
        OWABI_NOTICE_KEY=b64(),
        OWABI_ALLOWED_HOSTS="owabi.example",
        OWABI_EMAIL_HOST="127.0.0.1",
    )
    try:
        refused = owabi(["incident", "list"], env, tmp_path)
        assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
        if url is None:  # the SQLite run: production refuses SQLite itself
            assert "DATABASE_URL" in refused.stderr and not (tmp_path / "prod.sqlite3").exists()
            return
        assert "run `owabi migrate` first" in refused.stderr
        assert "[X]" not in owabi(["showmigrations", "incidents"], env, tmp_path).stdout  # nothing migrated
        assert owabi(["keys", "new"], env, tmp_path).returncode == 0  # needs no database
        assert owabi(["migrate", "-v0"], env, tmp_path).returncode == 0
        listed = owabi(["incident", "list"], env, tmp_path)
        assert listed.returncode == 0 and "no incidents yet" in listed.stdout
    finally:
        _drop(drop)


@pytest.mark.slow
def test_an_unreachable_database_is_one_line(tmp_path: Path) -> None:
    env = _env(tmp_path / "var", "postgres://nobody@127.0.0.1:1/none")
    done = owabi(["incident", "list"], env, tmp_path, timeout=120)
    assert done.returncode == 2
    assert done.stderr.startswith("owabi: cannot use the database:") and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


# --- Help ---------------------------------------------------------------------------------------------
def _owabi_commands() -> dict[str, str]:
    return {name: app for name, app in get_commands().items() if app.startswith("owabi")}


def _actions(parser: Any, path: str = "") -> list[tuple[str, Any]]:
    """Every argument of a parser and of its subcommands, with where it is."""
    found = []
    for action in parser._actions:
        if action.dest == "help" or type(action).__name__ == "_VersionAction":
            continue
        if type(action).__name__ == "_SubParsersAction":
            for name, sub in action.choices.items():
                found += _actions(sub, f"{path} {name}")
            continue
        found.append((path, action))
    return found


# Django's own options, which every command has and which Django documents.
DJANGO_OPTIONS = {
    "verbosity",
    "settings",
    "pythonpath",
    "traceback",
    "no_color",
    "force_color",
    "skip_checks",
}


@pytest.mark.parametrize("name", sorted(_owabi_commands()))
def test_every_option_of_every_owabi_command_has_help(name: str) -> None:
    command = load_command_class(_owabi_commands()[name], name)
    assert command.help and len(str(command.help)) < 120, "a one-line description"
    parser = command.create_parser("owabi", name)
    missing = [
        f"owabi {name}{where} {'/'.join(action.option_strings) or action.dest}"
        for where, action in _actions(parser)
        if action.dest not in DJANGO_OPTIONS and not action.help
    ]
    assert missing == []


def test_help_lists_owabis_commands_first_in_pipeline_order(tmp_path: Path) -> None:
    from owabi.__main__ import ORDER

    done = owabi(["--help"], _env(tmp_path / "var", f"sqlite:///{tmp_path / 'h.sqlite3'}"), tmp_path)
    assert done.returncode == 0 and "Traceback" not in done.stderr
    ours = done.stdout.split("owabi's commands:")[1].split("Django's commands")[0]
    listed = [line.split()[0] for line in ours.strip().splitlines()]
    assert listed[: len(ORDER)] == [name for name in ORDER if name in _owabi_commands()]
    assert set(listed) == set(_owabi_commands())
    assert done.stdout.index("owabi's commands:") < done.stdout.index("migrate")
    database = tmp_path / "h.sqlite3"  # settings make the file private before SQLite opens it, empty
    assert not database.exists() or database.stat().st_size == 0  # help needs no database


# --- Errors -------------------------------------------------------------------------------------------
MISTAKES = [
    ["incident"],
    ["incident", "create", "--slug", "x", "--name", "x", "--discovered-on", "1 Nov"],
    [
        "incident",
        "create",
        "--slug",
        "x",
        "--name",
        "x",
        "--discovered-on",
        "2026-11-01",
        "--occurred-from",
        "2026-11-05",
        "--occurred-to",
        "2026-11-01",
    ],
    ["import"],
    ["import", "{tmp}/missing.csv", "--incident", "walk"],
    ["import", "{tmp}", "--incident", "walk", "--rejects", "{tmp}/r.csv"],  # a folder: each file its own
    ["import", "{tmp}/ok.csv", "--incident", "nope"],
    ["import", "{tmp}/ok.csv", "--incident", "walk", "--mapping", "{tmp}/missing.toml"],
    ["import", "{tmp}/bad.csv", "--incident", "walk", "--rejects", "{tmp}/ok.csv/r.csv"],
    ["resolve", "--incident", "nope"],
    ["export", "clusters", "--incident", "walk", "--out", "{tmp}/ok.csv/x.csv"],
    ["export", "clusters", "--incident", "walk", "--out", "{tmp}"],
    ["export", "clusters", "--incident", "nope", "--out", "{tmp}/x.csv"],
    ["notices", "setup", "--incident", "walk", "--from", "{tmp}/missing.toml"],
    ["notices", "prepare", "--incident", "walk"],
    ["notices", "send", "--incident", "walk", "--channel", "email"],
    ["notices", "send", "--incident", "walk", "--channel", "email", "--workers", "0"],
    ["notices", "send", "--incident", "walk", "--channel", "email", "--rate", "-1"],
    ["notices", "print", "--incident", "walk", "--out", "{tmp}/letters"],
    ["notices", "print", "--incident", "walk", "--out", "{tmp}/ok.csv"],
    ["notices", "print", "--incident", "walk", "--out", "{tmp}/letters", "--batch", "0"],
    ["notices", "returned", "--incident", "walk", "{tmp}/missing.csv"],
    ["notices", "bounces", "--incident", "walk", "{tmp}/missing.eml"],
    ["notices", "preview", "--incident", "walk", "--code", "ABC", "--reason", "x"],
    ["notices", "status", "--incident", "nope"],
    ["jobs", "work", "--lease", "0"],
    ["keys", "rotate", "--batch", "0"],
    ["keys", "reindex", "--batch", "-5"],
    ["synth", "--records", "-1", "--out", "{tmp}/s.csv"],
    ["synth", "--records", "5", "--out", "{tmp}"],
    ["demo", "--people", "0", "--no-serve"],
    ["no-such-command"],
]


def run_owabi(
    args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    """`owabi ARGS` in this process (as its console script runs it): exit status and stderr. Anything
    but an exit (an exception: what a user would see as a traceback) fails the test."""
    from owabi.__main__ import main

    monkeypatch.setattr(sys, "argv", ["owabi", *args])
    capsys.readouterr()
    try:
        main()
        status = 0
    except SystemExit as exit_:
        status = exit_.code if isinstance(exit_.code, int) else 1
    return status, capsys.readouterr().err


@pytest.mark.django_db(transaction=True)
def test_a_user_mistake_is_one_clear_line_never_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from owabi.incidents.services import create_incident

    create_incident(actor="t", slug="walk", name="walk", discovered_on=date(2026, 11, 1))
    (tmp_path / "ok.csv").write_text("record_id,subject_name\nR1,山田 太郎\n", encoding="utf-8")
    (tmp_path / "bad.csv").write_text("record_id,subject_name\n,山田 太郎\n", encoding="utf-8")
    for mistake in MISTAKES:
        args = [part.replace("{tmp}", str(tmp_path)) for part in mistake]
        status, errors = run_owabi(args, monkeypatch, capsys)
        shown = " ".join(mistake)
        assert status != 0, f"{shown}: succeeded"
        assert errors.strip(), f"{shown}: failed without a word"
        assert len(errors.strip().splitlines()[-1]) < 300, f"{shown}: not one clear line"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_print_with_nothing_left_says_so_and_writes_no_manifest(
    subprocess_env: dict[str, str], tmp_path: Path
) -> None:
    from owabi.incidents.services import create_incident
    from owabi.notices import setup

    incident = create_incident(actor="t", slug="quiet", name="quiet", discovered_on=date(2026, 11, 1))
    setup.apply(incident=incident, data=setup.load(REPO / "docs" / "notice-setup.example.toml"), actor="t")
    done = owabi(
        ["notices", "print", "--incident", "quiet", "--out", str(tmp_path / "letters")],
        subprocess_env,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "nothing to print" in done.stdout
    assert not (tmp_path / "letters").exists()
