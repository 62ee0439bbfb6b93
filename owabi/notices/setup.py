"""The response team's notice setup, written as TOML (docs/notice-setup.example.toml) and loaded with
`owabi notices setup`. Every field is checked; errors name the field, never echo long text back."""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from owabi.core import audit
from owabi.incidents.models import Incident
from owabi.notices import advice, reminders
from owabi.notices.models import NoticeSetup
from owabi.notices.render import OPTIONAL_TEXT_KEYS, PARTS, TEXT_KEYS, check_template

REQUIRED = ("sender_name", "sender_address", "sender_email", "phone", "phone_hours", "portal_url")
LANGUAGES = ("ja", "en")
# Keys of earlier setups, refused with what replaces them: told to everyone, they said things (a card
# warning) that were false for most readers.
RETIRED_TEXT_KEYS = {
    "risk": "risk and advice are now per data category ([advice.LANG.GROUP], built in; optional) plus an "
    "optional common_risk said to everyone",
    "actions": "risk and advice are now per data category ([advice.LANG.GROUP], built in; optional) plus "
    "an optional common_advice said to everyone",
}


class SetupError(ValueError):
    pass


def load(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise SetupError(f"{path.name}: cannot be read ({type(error).__name__})") from None
    except tomllib.TOMLDecodeError as error:
        raise SetupError(f"{path.name}: not valid TOML ({error})") from None
    return data


def apply(*, incident: Incident, data: dict[str, Any], actor: str, source: str = "setup") -> NoticeSetup:
    """Create or replace the incident's setup from `data`; each change bumps the revision."""
    missing = [name for name in REQUIRED if not str(data.get(name) or "").strip()]
    if missing:
        raise SetupError(f"{source}: missing {', '.join(missing)}")
    texts = _texts(data.get("texts"), source)
    sources = _sources(data.get("sources"), source)
    overrides = _advice(data.get("advice"), source)
    templates = data.get("templates") or {}
    allowed = {f"{language}/{part}" for language in LANGUAGES for part in PARTS}
    unknown = sorted(set(templates) - allowed)
    if unknown:
        raise SetupError(f"{source}: unknown template {unknown[0]!r}; one of {', '.join(sorted(allowed))}")
    deadline = data.get("redress_deadline")
    if deadline is not None and not isinstance(deadline, date):
        raise SetupError(f"{source}: redress_deadline must be a date (2027-03-31)")
    try:
        rules = reminders.parse_rules(data.get("reminders"), source=source, deadline=deadline)
    except reminders.RuleError as error:
        raise SetupError(str(error)) from None
    fields = {
        "policy": data.get("policy", NoticeSetup.Policy.EMAIL_ELSE_LETTER),
        "language": data.get("language", "ja"),
        **{name: str(data[name]).strip() for name in REQUIRED},
        "redress_deadline": deadline,
        "texts": texts,
        "sources": sources,
        # The built-in texts with the team's changes, stored whole: the revision pins what was said.
        "advice": {language: advice.merged(overrides.get(language, {}), language) for language in texts},
        "templates": {name: str(text) for name, text in templates.items()},
        "reminders": [rule.as_json() for rule in rules],
    }
    with transaction.atomic():
        setup = NoticeSetup.objects.select_for_update().filter(incident=incident).first()
        if setup is None:
            setup = NoticeSetup(incident=incident)
        else:
            setup.revision += 1
        for name, value in fields.items():
            setattr(setup, name, value)
        try:
            setup.full_clean()
        except ValidationError as error:
            field, messages = next(iter(error.message_dict.items()))
            raise SetupError(f"{source}: {field}: {messages[0]}") from None
        for name, text in sorted(setup.templates.items()):
            problem = check_template(name, text, setup)
            if problem:
                raise SetupError(f"{source}: [templates] {name!r}: {problem}")
        setup.save()
        audit.record(
            actor=actor,
            action="notices.setup",
            object_type="incident",
            object_id=incident.pk,
            data={
                "revision": setup.revision,
                "policy": setup.policy,
                "reminders": [rule.name for rule in rules],
            },
        )
    return setup


def _texts(given: Any, source: str) -> dict[str, dict[str, str]]:
    if not isinstance(given, dict) or "ja" not in given:
        raise SetupError(f"{source}: [texts.ja] is required ({', '.join(TEXT_KEYS)})")
    texts = {}
    for language, values in given.items():
        if language not in LANGUAGES or not isinstance(values, dict):
            raise SetupError(f"{source}: [texts.{language}]: languages are {', '.join(LANGUAGES)}")
        retired = [key for key in RETIRED_TEXT_KEYS if key in values]
        if retired:
            raise SetupError(f"{source}: [texts.{language}] {retired[0]}: {RETIRED_TEXT_KEYS[retired[0]]}")
        unknown = sorted(set(values) - set(TEXT_KEYS) - set(OPTIONAL_TEXT_KEYS))
        if unknown:
            raise SetupError(
                f"{source}: [texts.{language}] unknown key {unknown[0]!r}; "
                f"one of {', '.join(TEXT_KEYS + OPTIONAL_TEXT_KEYS)}"
            )
        absent = [key for key in TEXT_KEYS if not str(values.get(key) or "").strip()]
        if absent:
            raise SetupError(f"{source}: [texts.{language}] missing {', '.join(absent)}")
        texts[language] = {key: str(values.get(key) or "").strip() for key in TEXT_KEYS + OPTIONAL_TEXT_KEYS}
    return texts


def _sources(given: Any, source: str) -> dict[str, dict[str, str]]:
    """[sources.LANG]: internal source label -> the name a reader knows ("course_2012" ->
    「通信講座（2012年度会員）」). Which labels need a name is checked by `notices prepare`."""
    given = given or {}
    if not isinstance(given, dict):
        raise SetupError(f"{source}: [sources.ja] maps source labels to names")
    names: dict[str, dict[str, str]] = {}
    for language, labels in given.items():
        if language not in LANGUAGES or not isinstance(labels, dict):
            raise SetupError(f"{source}: [sources.{language}]: languages are {', '.join(LANGUAGES)}")
        names[language] = {}
        for label, name in labels.items():
            if not isinstance(name, str) or not name.strip():
                raise SetupError(f"{source}: [sources.{language}] {label!r}: give the name readers know")
            names[language][str(label)] = name.strip()
    return names


def _advice(given: Any, source: str) -> dict[str, dict[str, dict[str, str]]]:
    """[advice.LANG.GROUP] title/risk/advice: the team's changes to the built-in texts of a group."""
    given = given or {}
    if not isinstance(given, dict):
        raise SetupError(f"{source}: [advice.ja.GROUP] holds title, risk and advice")
    overrides: dict[str, dict[str, dict[str, str]]] = {}
    for language, groups in given.items():
        if language not in LANGUAGES or not isinstance(groups, dict):
            raise SetupError(f"{source}: [advice.{language}]: languages are {', '.join(LANGUAGES)}")
        overrides[language] = {}
        for group, fields in groups.items():
            if group not in advice.CODES:
                raise SetupError(
                    f"{source}: [advice.{language}.{group}]: unknown group; one of {', '.join(advice.CODES)}"
                )
            if not isinstance(fields, dict) or not set(fields) <= set(advice.FIELDS):
                raise SetupError(
                    f"{source}: [advice.{language}.{group}]: the keys are {', '.join(advice.FIELDS)}"
                )
            overrides[language][group] = {name: str(text).strip() for name, text in fields.items()}
    return overrides
