"""A regulator report's draft: the 9 items of 施行規則第8条第1項, from the texts staff wrote (the latest
saved version, or starting texts from the incident) and the figures counted live at a stated time.

速報 states only what is known when it is made; both stages carry the same items.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.utils import timezone

from owabi.incidents.models import Incident
from owabi.reports import deadlines, figures
from owabi.reports.models import AnnouncementVersion, Assessment, Report, ReportVersion
from owabi.reports.reportability import LABELS

# The editable parts, in the order of the form, each with the item it belongs to.
TEXTS: dict[str, tuple[int, str]] = {
    "overview": (1, "概要"),
    "items_note": (2, "漏えい等した個人データの項目（補足）"),
    "people_note": (3, "本人の数（補足）"),
    "cause": (4, "原因"),
    "harm": (5, "二次被害又はそのおそれの有無及びその内容"),
    "response": (6, "本人への対応の実施状況（補足）"),
    "publication": (7, "公表の実施状況"),
    "prevention": (8, "再発防止のための措置"),
    "other": (9, "その他参考となる事項"),
}
TEXT_MAX = 10_000
ITEMS = (
    (1, "概要"),
    (2, "漏えい等した個人データの項目"),
    (3, "漏えい等した個人データに係る本人の数"),
    (4, "原因"),
    (5, "二次被害又はそのおそれの有無及びその内容"),
    (6, "本人への対応の実施状況"),
    (7, "公表の実施状況"),
    (8, "再発防止のための措置"),
    (9, "その他参考となる事項"),
)
STAGES = {"preliminary": "速報", "final": "確報"}
TO_FILL = "（記入してください）"


def starting_texts(
    incident: Incident, situations: list[str], published: AnnouncementVersion | None = None
) -> dict[str, str]:
    """What a first draft says before anyone edits it: the incident's own facts (and the public
    announcement, once one is published), and gaps marked."""
    window = ""
    if incident.occurred_from or incident.occurred_to:
        window = f"漏えい等の期間: {incident.occurred_from or '不明'}〜{incident.occurred_to or '不明'}。"
    harm = TO_FILL
    if "financial" in situations:
        harm = (
            "クレジットカード情報等が含まれるため、不正利用による財産的被害のおそれがある。"
            "確認された不正利用の件数: " + TO_FILL
        )
    return {
        "overview": f"{incident.name}。{incident.discovered_on:%Y年%-m月%-d日}に事態を知った。{window}",
        "items_note": "",
        "people_note": "",
        "cause": incident.cause or TO_FILL,
        "harm": harm,
        "response": "",
        "publication": (
            f"{timezone.localtime(published.published_at):%Y年%-m月%-d日}、当社ウェブサイトのお知らせのページに"
            f"公表文「{published.title}」を掲載した。"
            if published and published.published_at
            else TO_FILL
        ),
        "prevention": TO_FILL,
        "other": "",
    }


@dataclass(frozen=True)
class Line:
    key: str
    label: str
    value: int
    how: str


@dataclass
class Section:
    number: int
    title: str
    text: str = ""
    lines: list[Line] = field(default_factory=list)
    items: list[figures.Item] = field(default_factory=list)


@dataclass
class Draft:
    incident: Incident
    stage: str
    stage_label: str
    known_on: date
    as_of: datetime  # when the figures were counted
    texts: dict[str, str]
    values: dict[str, int]
    sections: list[Section]
    situations: list[tuple[str, str]]  # (号, label) of the situations that apply
    assessment: Assessment | None
    clocks: list[deadlines.Clock]
    version: ReportVersion | None  # the saved version whose texts these are (None: never saved)
    submitted_on: date | None = None

    def as_dict(self) -> dict[str, Any]:
        """The draft as plain data (the JSON export): no personal data, only counts and texts."""
        return {
            "regime": "appi",
            "stage": self.stage,
            "stage_label": self.stage_label,
            "incident": {"slug": self.incident.slug, "name": self.incident.name},
            "known_on": self.known_on.isoformat(),
            "figures_as_of": self.as_of.isoformat(),
            "version": self.version.number if self.version else None,
            "saved_by": self.version.saved_by if self.version else None,
            "saved_at": self.version.saved_at.isoformat() if self.version else None,
            "submitted_on": self.submitted_on.isoformat() if self.submitted_on else None,
            "situations": [f"{number} {label}" for number, label in self.situations],
            "reportability_confirmed": self.assessment is not None,
            "deadlines": [
                {
                    "regime": clock.regime,
                    "stage": clock.key,
                    "label": clock.label,
                    "basis": clock.basis,
                    "due": {day.convention: day.on.isoformat() for day in clock.days},
                    "due_at": clock.due_at.isoformat(),
                }
                for clock in self.clocks
            ],
            "items": [
                {
                    "number": section.number,
                    "title": section.title,
                    "text": section.text,
                    "figures": [
                        {"key": line.key, "label": line.label, "value": line.value, "how": line.how}
                        for line in section.lines
                    ],
                    "data_items": [
                        {
                            "code": item.code,
                            "label": item.label,
                            "records": item.records,
                            "declared": item.declared,
                        }
                        for item in section.items
                    ],
                }
                for section in self.sections
            ],
        }


def build(
    *,
    incident: Incident,
    stage: str,
    report: Report | None,
    version: ReportVersion | None,
    assessment: Assessment | None,
    clocks: list[deadlines.Clock],
    situations: list[str],
    counted: figures.Counted,
    published: AnnouncementVersion | None = None,
) -> Draft:
    texts = starting_texts(incident, situations, published)
    if version is not None:
        texts.update({key: value for key, value in version.texts.items() if key in TEXTS})
    values = counted.values

    def lines(group: tuple[figures.Figure, ...]) -> list[Line]:
        return [Line(f.key, f.label, values[f.key], f.how) for f in group if f.key in values]

    sections = [Section(number, title) for number, title in ITEMS]
    for key, (number, _) in TEXTS.items():
        sections[number - 1].text = texts[key]
    sections[1].items = counted.items
    sections[2].lines = lines(figures.PEOPLE)
    sections[5].lines = lines(figures.RESPONSE)
    return Draft(
        incident=incident,
        stage=stage,
        stage_label=STAGES[stage],
        known_on=incident.discovered_on,
        as_of=counted.as_of,
        texts=texts,
        values=values,
        sections=sections,
        situations=[LABELS[name] for name in situations],
        assessment=assessment,
        clocks=clocks,
        version=version,
        submitted_on=report.submitted_on if report else None,
    )
