"""The English translation is complete and the compiled catalogue (.mo) matches its source (.po)."""

from __future__ import annotations

import ast
from pathlib import Path

from django.utils import translation

PO = Path(__file__).resolve().parent.parent / "owabi" / "locale" / "en" / "LC_MESSAGES" / "django.po"


def _entries() -> list[tuple[str, str]]:
    """(msgid, msgstr) pairs of the .po file, multi-line strings joined; the header left out."""
    entries: list[tuple[str, str]] = []
    current: dict[str, str] = {}
    field = ""
    for line in [*PO.read_text(encoding="utf-8").splitlines(), ""]:
        if line.startswith(("msgid ", "msgstr ")):
            field, _, literal = line.partition(" ")
            current[field] = ast.literal_eval(literal)
        elif line.startswith('"') and field:
            current[field] += ast.literal_eval(line)
        elif not line.strip() and current:
            if current.get("msgid"):
                entries.append((current["msgid"], current.get("msgstr", "")))
            current, field = {}, ""
    return entries


def test_every_message_has_an_english_translation_and_the_catalogue_serves_it() -> None:
    entries = _entries()
    assert len(entries) > 200
    assert [msgid for msgid, msgstr in entries if not msgstr] == []
    with translation.override("en"):
        stale = [msgid for msgid, msgstr in entries if translation.gettext(msgid) != msgstr]
    assert stale == [], "run: cd owabi && django-admin compilemessages (the .mo is older than the .po)"
