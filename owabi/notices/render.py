"""Render a notice from its content snapshot and the incident's NoticeSetup: e-mail subject, text and
HTML, and the letter's text. Templates are Django templates, per language (notices/<lang>/<part>), and
the response team can override any of them per incident (NoticeSetup.templates)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.template import engines
from django.template.loader import get_template

from owabi.incidents import categories
from owabi.notices import codes
from owabi.notices.models import Notice, NoticeSetup

PARTS = ("email_subject.txt", "email.txt", "email.html", "letter.txt")
TEXT_KEYS = ("summary", "cause", "risk", "actions", "redress")


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    letter: str


def context(notice: Notice, setup: NoticeSetup) -> dict[str, Any]:
    language = notice.language
    content = notice.content
    people = [
        {
            **person,
            "item_labels": [categories.label(code, language) for code in person["items"]],
            "is_card": bool(person["cards"]),
        }
        for person in content["people"]
    ]
    texts = setup.texts.get(language) or setup.texts.get("ja") or {}
    return {
        "to": content["to"],
        "guardian": content["to"]["kind"] == "guardian",
        "people": people,
        "any_card": any(person["cards"] for person in people),
        "code": codes.group(notice.code),
        "key": codes.login_key(notice.code),
        "setup": setup,
        "texts": {key: texts.get(key, "") for key in TEXT_KEYS},
        "incident": notice.incident,
        "reminder": notice.reminder_of_id is not None,
    }


def render_part(part: str, notice: Notice, setup: NoticeSetup, ctx: dict[str, Any] | None = None) -> str:
    name = f"{notice.language}/{part}"
    source = setup.templates.get(name)
    template = engines["django"].from_string(source) if source else get_template(f"notices/{name}")
    return template.render(ctx if ctx is not None else context(notice, setup))


def render(notice: Notice, setup: NoticeSetup, *, letter: bool = True) -> Rendered:
    """Every part; `letter=False` skips the letter text (the e-mail sender does not need it)."""
    ctx = context(notice, setup)
    parts = PARTS if letter else PARTS[:3]
    subject, text, html, *rest = (render_part(part, notice, setup, ctx) for part in parts)
    letter_text = rest[0].strip() + "\n" if rest else ""
    return Rendered(" ".join(subject.split()), text.strip() + "\n", html, letter_text)
