"""Render a notice from its content snapshot and the incident's NoticeSetup: e-mail subject, text and
HTML; and the part of a letter that every letter shares (letter.txt: title, greeting, the incident's
texts), which owabi.notices.letters lays out on the page around each letter's own items.

Templates are Jinja2 (notices/<lang>/<part>), and the response team can override any of them per
incident (NoticeSetup.templates); overrides run in Jinja2's sandbox and are checked when the setup is
loaded. HTML parts are escaped automatically, text parts are not. The context is plain data (no model
objects), so a template can read what a notice says and nothing else. Jinja2 rather than Django's
engine: rendering the three e-mail parts took 0.55 ms per notice with Django's, the largest cost of
sending (decisions.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape

from owabi.incidents import categories
from owabi.notices import codes
from owabi.notices.models import Notice, NoticeSetup

EMAIL_PARTS = ("email_subject.txt", "email.txt", "email.html")
PARTS = (*EMAIL_PARTS, "letter.txt")
TEXT_KEYS = ("summary", "cause", "risk", "actions", "redress")
TEMPLATES = Path(__file__).resolve().parent / "templates"
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def _linebreaksbr(value: object) -> Markup:
    """Escaped text with its line breaks as <br> (for HTML parts)."""
    return _linebreaksbr_text(str(value))


@lru_cache(maxsize=256)
def _linebreaksbr_text(value: str) -> Markup:
    """Cached: templates apply it to the incident's texts, the same strings in every e-mail."""
    lines = value.replace("\r\n", "\n").split("\n")
    return Markup("<br>").join(escape(line) for line in lines)


def _environment(autoescape: bool, *, sandboxed: bool) -> Environment:
    kind = SandboxedEnvironment if sandboxed else Environment
    environment = kind(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=autoescape,
        undefined=StrictUndefined,  # a misspelt name in a template is an error, not an empty string
        keep_trailing_newline=True,
        auto_reload=False,
    )
    environment.filters["linebreaksbr"] = _linebreaksbr
    return environment


# HTML parts (and what they include) are escaped; text parts are not. The built-in templates are ours
# and run as they are; the team's overrides run in the sandbox (its checks cost a fifth of rendering).
_BUILT_IN = {False: _environment(False, sandboxed=False), True: _environment(True, sandboxed=False)}
_SANDBOX = {False: _environment(False, sandboxed=True), True: _environment(True, sandboxed=True)}


def _environment_for(part: str, *, sandboxed: bool) -> Environment:
    return (_SANDBOX if sandboxed else _BUILT_IN)[part.endswith(".html")]


@lru_cache(maxsize=64)
def _override(part: str, source: str) -> Template:
    return _environment_for(part, sandboxed=True).from_string(source)


def _template(part: str, language: str, setup: NoticeSetup) -> Template:
    name = f"{language}/{part}"
    source = setup.templates.get(name)
    if source:
        return _override(part, source)
    return _environment_for(part, sandboxed=False).get_template(f"notices/{name}")


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def long_date(day: date, language: str) -> str:
    if language == "en":
        return f"{day.day} {MONTHS[day.month - 1]} {day.year}"
    return f"{day.year}年{day.month}月{day.day}日"


def _setup_context(setup: NoticeSetup, language: str) -> dict[str, Any]:
    texts = setup.texts.get(language) or setup.texts.get("ja") or {}
    return {
        "setup": {
            "sender_name": setup.sender_name,
            "sender_address": setup.sender_address,
            "sender_email": setup.sender_email,
            "phone": setup.phone,
            "phone_hours": setup.phone_hours,
            "portal_url": setup.portal_url,
        },
        "deadline": long_date(setup.redress_deadline, language) if setup.redress_deadline else "",
        "texts": {key: texts.get(key, "") for key in TEXT_KEYS},
    }


def context(notice: Notice, setup: NoticeSetup) -> dict[str, Any]:
    language = notice.language
    content = notice.content
    people = [
        {
            **person,
            "item_labels": [categories.label(code, language) for code in person["items"]],
        }
        for person in content["people"]
    ]
    return {
        **_setup_context(setup, language),
        "to": content["to"],
        "guardian": content["to"]["kind"] == "guardian",
        "people": people,
        "any_card": any(person["cards"] for person in people),
        "code": codes.group(notice.code),
        "key": codes.login_key(notice.code),
        "reminder": notice.reminder_of_id is not None,
    }


def render(notice: Notice, setup: NoticeSetup) -> Rendered:
    """The e-mail's parts (a letter's full text: owabi.notices.letters.letter_text)."""
    ctx = context(notice, setup)
    subject, text, html = (_template(part, notice.language, setup).render(ctx) for part in EMAIL_PARTS)
    return Rendered(" ".join(subject.split()), text.strip() + "\n", html)


def letter_context(setup: NoticeSetup, language: str, *, reminder: bool) -> dict[str, Any]:
    """What the shared part of a letter may use: drawn once per batch, it knows no recipient."""
    return {**_setup_context(setup, language), "reminder": reminder}


def shared_letter(setup: NoticeSetup, language: str, *, reminder: bool) -> str:
    template = _template("letter.txt", language, setup)
    return str(template.render(letter_context(setup, language, reminder=reminder)))


SAMPLE_PERSON = {
    "number": 1,
    "name": "見本 花子",
    "due": "",
    "minor": False,
    "items": ["name", "card_number"],
    "cards": [{"brand": "VISA", "last4": "0000"}],
    "sources": ["sample"],
}


def check_template(name: str, source: str, setup: NoticeSetup) -> str:
    """'' when the override `name` ("ja/email.txt") compiles and renders a sample notice; else why not
    (with the line), for the setup loader to report."""
    language, _, part = name.partition("/")
    try:
        template = _override(part, source)
        sample = Notice(
            code=codes.new_code(),
            language=language,
            content={
                "to": {"kind": "self", "name": "見本 花子", "postal_code": "", "address": "", "email": ""},
                "people": [SAMPLE_PERSON],
            },
        )
        for reminder in (False, True):  # both branches of a template that says {% if reminder %}
            if part == "letter.txt":
                template.render(letter_context(setup, language, reminder=reminder))
            else:
                template.render({**context(sample, setup), "reminder": reminder})
    except TemplateError as error:
        line = getattr(error, "lineno", None)
        return f"{type(error).__name__}{f' at line {line}' if line else ''}: {error.message or error}"
    return ""
