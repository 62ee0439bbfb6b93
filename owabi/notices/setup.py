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
from owabi.notices import reminders
from owabi.notices.models import NoticeSetup
from owabi.notices.render import PARTS, TEXT_KEYS, check_template

REQUIRED = ("sender_name", "sender_address", "sender_email", "phone", "phone_hours", "portal_url")
LANGUAGES = ("ja", "en")


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
    texts = data.get("texts") or {}
    if not isinstance(texts, dict) or "ja" not in texts:
        raise SetupError(f"{source}: [texts.ja] is required (summary, cause, risk, actions, redress)")
    for language, values in texts.items():
        if language not in LANGUAGES or not isinstance(values, dict):
            raise SetupError(f"{source}: [texts.{language}]: languages are {', '.join(LANGUAGES)}")
        absent = [key for key in TEXT_KEYS if not str(values.get(key) or "").strip()]
        if absent:
            raise SetupError(f"{source}: [texts.{language}] missing {', '.join(absent)}")
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
        "texts": {lang: {k: str(v[k]).strip() for k in TEXT_KEYS} for lang, v in texts.items()},
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
