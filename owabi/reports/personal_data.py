"""Whether a text meant for the public holds a value from an incident's leaked records: the check every
公表 version passes before it is kept or published.

The text is normalized as the records were (owabi.records.normalize and the lookup's forms), then:
- e-mail addresses in it are looked up by their blind index (owabi.records.lookup.email_key), as the
  portal's "am I affected?" does: no record is opened;
- names (subject and guardian, as written and as read in kana), phone and fax numbers, addresses down to
  the block number, and card last 4 digits written next to a word about cards are compared with the
  records' sealed values, read a batch at a time (memory bounded whatever the incident's size).

The answer names kinds of value ("氏名", "電話番号"), never a value, and which record held it is not
said either: the message goes to a screen and an audit row.

What is not checked, on purpose: postal codes, towns and birth dates alone (an announcement names the
company's own address and dates, and such a value identifies no one by itself), a surname alone, and a
name shorter than two characters, or a reading shorter than four kana (they occur in ordinary words).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import cast

from owabi.core.fields import open_values
from owabi.incidents.models import Incident
from owabi.records import lookup, normalize
from owabi.records.models import LeakRecord, LookupKey

# The kinds, in the order a message lists them, with how a person reads each.
KINDS: dict[str, str] = {
    "name": "氏名",
    "kana": "氏名の読み（フリガナ）",
    "phone": "電話番号",
    "email": "メールアドレス",
    "address": "住所",
    "card": "カード番号の下4桁",
}
BATCH = 2000
MIN_NAME = 2
MIN_KANA = 4

_EMAIL = re.compile(r"[!-~]+@[A-Za-z0-9.-]+")
_PHONE = re.compile(r"\+?\d[\d\-() ]{7,16}\d")
_CARD_WORD = r"(?:カード|下4桁|下四桁|末尾|card|ending|last\s*4|[*xX●]{2,})"
_CARD = re.compile(_CARD_WORD + r"[^0-9]{0,12}?(?<!\d)(\d{4})(?!\d)", re.IGNORECASE)
_CHUNKS = re.compile(r"[\s。、，,．!！?？「」『』()（）【】:：;；/]+")
_HIRAGANA = {code: code + 0x60 for code in range(0x3041, 0x3097)}
_DASHES = str.maketrans(dict.fromkeys("‐‑‒–—―−ーｰ－", "-"))


@dataclass(frozen=True)
class Found:
    kinds: tuple[str, ...]  # KINDS keys, in KINDS order

    def __bool__(self) -> bool:
        return bool(self.kinds)

    @property
    def labels(self) -> list[str]:
        return [KINDS[kind] for kind in self.kinds]

    def message(self) -> str:
        return (
            f"漏えいしたデータに含まれる値（{'、'.join(self.labels)}）が書かれています。"
            "その部分を削除して、保存し直してください。"
        )


@dataclass(frozen=True)
class _Forms:
    """The text in each form a kind of value is compared in."""

    names: str  # name keys: no spaces, variant characters folded loosely
    kana: str  # the same, hiragana as katakana
    phones: frozenset[str]  # E.164
    emails: frozenset[str]
    addresses: tuple[normalize.Address, ...]  # each stretch of text read as an address
    cards: frozenset[str]


def _forms(text: str) -> _Forms:
    flat = unicodedata.normalize("NFKC", text)
    names = normalize.fold_variants(normalize.name_key_of("".join(flat.split())), loose=True)
    phones = {lookup.phone_form(found) for found in _PHONE.findall(flat.translate(_DASHES))}
    emails = {lookup.email_form(found.strip(".")) for found in _EMAIL.findall(flat)}
    addresses = tuple(
        address
        for chunk in _CHUNKS.split(flat)
        if chunk and (address := normalize.address(chunk)).block and address.town_key
    )
    return _Forms(
        names=names,
        kana=names.translate(_HIRAGANA),
        phones=frozenset(phones - {""}),
        emails=frozenset(emails - {""}),
        addresses=addresses,
        cards=frozenset(_CARD.findall(flat)),
    )


def _quiet(normalizer: Callable[[str], str], raw: str) -> str:
    try:
        return normalizer(raw)
    except normalize.NormalizeError:
        return ""


def _name_of(raw: str) -> str:
    key = normalize.fold_variants(normalize.name_key_of(_quiet(normalize.name, raw)), loose=True)
    return key if len(key) >= MIN_NAME else ""


def _kana_of(raw: str) -> str:
    reading = _quiet(normalize.kana, raw).replace(" ", "")
    return reading if len(reading) >= MIN_KANA else ""


def _same_place(record: normalize.Address, forms: _Forms) -> bool:
    """An address of the text names the record's place: the same block, in a town that ends with the
    record's town (the text may put words or the prefecture before it)."""
    if not record.block or len(record.town_key) < 2:
        return False
    return any(
        found.block == record.block and found.town_key.endswith(record.town_key) for found in forms.addresses
    )


def _kinds_in(values: dict[str, str], forms: _Forms, wanted: set[str]) -> set[str]:
    hits: set[str] = set()
    if "name" in wanted:
        for field in ("subject_name", "guardian_name"):
            if (raw := values.get(field)) and (key := _name_of(raw)) and key in forms.names:
                hits.add("name")
    if "kana" in wanted:
        for field in ("subject_kana", "guardian_kana"):
            if (raw := values.get(field)) and (reading := _kana_of(raw)) and reading in forms.kana:
                hits.add("kana")
    if "phone" in wanted and forms.phones:
        for field in ("phone", "fax"):
            if (raw := values.get(field)) and lookup.phone_form(raw) in forms.phones:
                hits.add("phone")
    if "email" in wanted and (raw := values.get("email")) and lookup.email_form(raw) in forms.emails:
        hits.add("email")
    if "address" in wanted and (raw := values.get("address")) and _same_place(normalize.address(raw), forms):
        hits.add("address")
    if "card" in wanted and (raw := values.get("card_last4")) and lookup.card_form(raw) in forms.cards:
        hits.add("card")
    return hits


def _emails_indexed(incident: Incident, emails: Iterable[str]) -> bool:
    keys = [lookup.email_key(incident.pk, email) for email in emails]
    return bool(keys) and LookupKey.objects.filter(key__in=keys).exists()


def find(*, incident: Incident, texts: Iterable[str]) -> Found:
    """The kinds of the incident's leaked values that occur in any of `texts`."""
    forms = _forms("\n".join(texts))
    found: set[str] = set()
    if forms.emails and _emails_indexed(incident, forms.emails):
        found.add("email")
    present = {"phone": forms.phones, "email": forms.emails, "address": forms.addresses, "card": forms.cards}
    wanted = set(KINDS) - found - {kind for kind, values in present.items() if not values}
    sealed = open_values(LeakRecord.objects.filter(incident=incident).order_by(), "sealed", chunk_size=BATCH)
    for (values,) in sealed:
        if not wanted:
            break
        hits = _kinds_in(cast("dict[str, str]", values or {}), forms, wanted)
        found |= hits
        wanted -= hits
    return Found(tuple(kind for kind in KINDS if kind in found))
