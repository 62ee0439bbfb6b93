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

from django.utils import timezone
from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape

from owabi.incidents import categories
from owabi.notices import advice, codes
from owabi.notices.models import Notice, NoticeSetup
from owabi.records import cards as card_brands

EMAIL_PARTS = ("email_subject.txt", "email.txt", "email.html")
PARTS = (*EMAIL_PARTS, "letter.txt")
# The setup's texts per language: what happened, the cause, what the company has done, the redress and
# who signs; and, optionally, a risk and an advice said to everyone (per-category ones: advice.py).
TEXT_KEYS = ("summary", "cause", "measures", "redress", "representative")
OPTIONAL_TEXT_KEYS = ("common_risk", "common_advice")
# The portal's page where anyone checks that a notice is genuine (its code, the masked name and the
# date it was sent): the one place that names it; the portal's URLconf uses it too.
CHECK_PATH = "check"
# Who a notice speaks to about whose data: the recipient's own only, theirs and their family's, or
# only their family's (a guardian whose own data did not leak).
AUDIENCES = ("self", "self_family", "family")
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


def check_url(portal_url: str) -> str:
    return f"{portal_url.rstrip('/')}/{CHECK_PATH}"


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
            "check_url": check_url(setup.portal_url),
        },
        "deadline": long_date(setup.redress_deadline, language) if setup.redress_deadline else "",
        "texts": {key: texts.get(key, "") for key in TEXT_KEYS + OPTIONAL_TEXT_KEYS},
    }


def audience(content: dict[str, Any]) -> str:
    people = content["people"]
    if any(person.get("self") for person in people) or content["to"]["kind"] == "self":
        return "self" if len(people) <= 1 else "self_family"
    return "family"


def groups(content: dict[str, Any]) -> tuple[str, ...]:
    """The advice groups of everything that leaked for the people on a notice, in the fixed order."""
    return tuple(advice.groups_of(item for person in content["people"] for item in person["items"]))


def advice_context(setup: NoticeSetup, language: str, codes_: tuple[str, ...]) -> list[dict[str, str]]:
    stored = setup.advice.get(language) or setup.advice.get("ja") or advice.merged({}, language)
    return [{"code": code, **stored[code]} for code in codes_]


def _day(text: str, language: str) -> str:
    return long_date(date.fromisoformat(text), language) if text else ""


def facts_context(facts: dict[str, Any] | None, language: str) -> dict[str, str]:
    """The incident's facts as the notice states them (empty strings for a snapshot without them)."""
    facts = facts or {}
    start, end = _day(facts.get("occurred_from", ""), language), _day(facts.get("occurred_to", ""), language)
    if start and end:
        period = f"{start}〜{end}" if language == "ja" else f"{start} to {end}"
    elif start or end:
        period = (
            (f"{start}から" if start else f"{end}まで")
            if language == "ja"
            else (f"from {start}" if start else f"until {end}")
        )
    else:
        period = ""
    people = facts.get("people")
    return {
        "people": f"{people:,}" if isinstance(people, int) else "",
        "as_of": _day(facts.get("as_of", ""), language),
        "discovered_on": _day(facts.get("discovered_on", ""), language),
        "period": period,
    }


def _cards(content: dict[str, Any], names: dict[int, str], language: str) -> list[dict[str, Any]]:
    """The notice's cards, each once, with the brand as a reader knows it and, when the notice covers
    several people, whose records held it. A snapshot from before cards were merged lists them per
    person; those are merged the same way here."""
    found = content.get("cards")
    if found is None:
        found = []
        for person in content["people"]:
            for card in person.get("cards", []):
                code = card_brands.canonical_brand(card["brand"] or "")
                found.append(
                    {"brand": code or card["brand"], "last4": card["last4"], "holders": [person["number"]]}
                )
    several = len(content["people"]) > 1
    return [
        {
            "brand": card_brands.brand_label(card["brand"], language) or card["brand"],
            "last4": card["last4"],
            "holders": [names[number] for number in card["holders"] if number in names] if several else [],
        }
        for card in found
    ]


def _sources(person: dict[str, Any], language: str, fallback: str) -> list[str]:
    sources = person.get("sources") or {}
    if isinstance(sources, list):  # a snapshot from before sources were named: labels are not shown
        return []
    return list(sources.get(language) or sources.get(fallback) or [])


def _display_name(person: dict[str, Any], language: str) -> str:
    if person["name"]:
        return f"{person['name']} 様" if language == "ja" else str(person["name"])
    due = person.get("due") or ""
    return f"出産予定日 {due} のお子さま" if language == "ja" else f"Your child due on {due}"


def notice_date(notice: Notice) -> date:
    """The date a notice carries: the day it was prepared (a reminder: its own), today for a draft."""
    return timezone.localdate(notice.prepared_at) if notice.prepared_at else timezone.localdate()


# How a person's data came to be held when it was on someone else's record: said without naming them.
VIA = {
    "shipping_recipient": {
        "ja": "ほかの方が当社でされたご注文に、お届け先としてあなたさまのお名前・ご住所・お電話番号が"
        "記載されており、その注文の情報とともに流出しました。",
        "en": "Your name, address and phone number were on an order someone else placed with us, as its"
        " delivery address, and leaked with that order.",
    }
}


def context(notice: Notice, setup: NoticeSetup) -> dict[str, Any]:
    language = notice.language
    content = notice.content
    people = [
        {
            **person,
            "display": _display_name(person, language),
            "self": bool(person.get("self")),
            "item_labels": [categories.label(code, language) for code in person["items"]],
            "sources": _sources(person, language, setup.language),
            "via_text": VIA[person["via"]][language] if person.get("via") in VIA else "",
        }
        for person in content["people"]
    ]
    names = {person["number"]: person["display"] for person in people}
    cards = _cards(content, names, language)
    return {
        **_setup_context(setup, language),
        "to": content["to"],
        "guardian": content["to"]["kind"] == "guardian",
        "audience": audience(content),
        "people": people,
        "cards": cards,
        "any_card": bool(cards),
        "advice": advice_context(setup, language, groups(content)),
        "facts": facts_context(content.get("facts"), language),
        "dated": long_date(notice_date(notice), language),
        "code": codes.group(notice.code),
        "key": codes.login_key(notice.code),
        "reminder": notice.reminder_of_id is not None,
    }


def render(notice: Notice, setup: NoticeSetup) -> Rendered:
    """The e-mail's parts (a letter's full text: owabi.notices.letters.letter_text)."""
    ctx = context(notice, setup)
    subject, text, html = (_template(part, notice.language, setup).render(ctx) for part in EMAIL_PARTS)
    return Rendered(" ".join(subject.split()), text.strip() + "\n", html)


@dataclass(frozen=True)
class LetterForm:
    """What the shared part of a letter depends on: letters alike in these share one drawn form."""

    language: str
    reminder: bool
    audience: str
    groups: tuple[str, ...]
    facts: tuple[tuple[str, Any], ...]

    @classmethod
    def of(cls, notice: Notice) -> LetterForm:
        content = notice.content
        return cls(
            notice.language,
            notice.reminder_of_id is not None,
            audience(content),
            groups(content),
            tuple(sorted((content.get("facts") or {}).items())),
        )


def letter_context(setup: NoticeSetup, shared: LetterForm) -> dict[str, Any]:
    """What the shared part of a letter may use: drawn once per batch for the letters alike in `shared`,
    it knows no recipient."""
    return {
        **_setup_context(setup, shared.language),
        "reminder": shared.reminder,
        "audience": shared.audience,
        "advice": advice_context(setup, shared.language, shared.groups),
        "facts": facts_context(dict(shared.facts), shared.language),
    }


def shared_letter(setup: NoticeSetup, shared: LetterForm) -> str:
    template = _template("letter.txt", shared.language, setup)
    return str(template.render(letter_context(setup, shared)))


SAMPLE_PERSON = {
    "number": 1,
    "name": "見本 花子",
    "due": "",
    "minor": False,
    "self": True,
    "items": ["name", "phone", "card_number"],
    "sources": {"ja": ["見本サービス"], "en": ["Sample service"]},
}
SAMPLE_FACTS = {
    "people": 1000,
    "as_of": "2026-12-01",
    "discovered_on": "2026-11-01",
    "occurred_from": "2026-10-01",
    "occurred_to": "2026-10-20",
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
                "cards": [{"brand": "VISA", "last4": "0000", "holders": [1]}],
                "facts": SAMPLE_FACTS,
            },
        )
        for reminder in (False, True):  # both branches of a template that says {% if reminder %}
            if part == "letter.txt":
                for audience_ in AUDIENCES:
                    shared = LetterForm(
                        language, reminder, audience_, advice.CODES, tuple(SAMPLE_FACTS.items())
                    )
                    template.render(letter_context(setup, shared))
            else:
                template.render({**context(sample, setup), "reminder": reminder})
    except TemplateError as error:
        line = getattr(error, "lineno", None)
        return f"{type(error).__name__}{f' at line {line}' if line else ''}: {error.message or error}"
    return ""
