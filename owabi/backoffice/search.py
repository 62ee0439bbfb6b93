"""Support search: what an agent typed becomes one or more lookups (owabi.records.lookup.find, or a
registration code), and the people they find, each with their notices. Only reads; the view audits."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from owabi.incidents.models import Incident
from owabi.notices import selectors as notice_selectors
from owabi.notices.models import Notice
from owabi.records import lookup
from owabi.records import selectors as record_selectors
from owabi.records.selectors import Person

SECONDS = ("phone", "card_last4", "postal_code")  # each goes with the name


class SearchError(ValueError):
    """The typed values make no search (the message names no value)."""


@dataclass
class Found:
    kinds: list[str]  # which kinds of key were used: name+phone, code, … (for the audit, never values)
    people: list[Person] = field(default_factory=list)
    notices: dict[int, list[Notice]] = field(default_factory=dict)  # recipient id -> notices


def plan(values: dict[str, str]) -> list[str]:
    """The kinds of search the filled-in values allow: the name with each second fact, the e-mail, the
    code. A name alone, or a second fact alone, is no search (too many namesakes, too much fishing)."""
    kinds = [f"name+{second}" for second in SECONDS if values.get("name") and values.get(second)]
    kinds += [kind for kind in ("email", "code") if values.get(kind)]
    return kinds


def search(*, incident: Incident, values: dict[str, str]) -> Found:
    values = {key: (value or "").strip() for key, value in values.items()}
    kinds = plan(values)
    if not kinds:
        raise SearchError(
            "氏名と電話番号・カード下4桁・郵便番号のいずれか、メールアドレス、または登録コードを入力してください"
        )
    found = Found(kinds=kinds)
    hits: list[lookup.Found] = []
    for kind in kinds:
        if kind.startswith("name+"):
            second = kind.removeprefix("name+")
            hits += lookup.find(incident=incident, name=values["name"], **{second: values[second]})
        elif kind == "email":
            hits += lookup.find(incident=incident, email=values["email"])
    people = {person.subject_id: person for person in record_selectors.people_of_records(hits)}
    if "code" in kinds:
        try:
            recipient = notice_selectors.recipient_of_code(incident.pk, values["code"])
        except notice_selectors.CodeError as error:
            raise SearchError(str(error)) from None
        if recipient is not None:
            for person in record_selectors.people_of_recipients([recipient], found_as="code"):
                known = people.get(person.subject_id)
                roles = tuple(sorted({*person.found_as, *(known.found_as if known else ())}))
                people[person.subject_id] = replace(person, found_as=roles)
    found.people = sorted(people.values(), key=lambda person: person.number)
    found.notices = notice_selectors.notices_of_recipients(
        sorted({person.recipient_id for person in found.people if person.recipient_id is not None})
    )
    return found
