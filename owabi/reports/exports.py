"""A report draft as JSON, Markdown or an A4 PDF (ReportLab with the letters' IPAexGothic font and line
breaker). The PPC takes reports through its web form: these files are what staff copy from, file and
show to management, so every figure carries the time it was counted and how."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.utils import timezone

from owabi.core import linebreak
from owabi.reports.deadlines import CONVENTIONS
from owabi.reports.drafts import Draft

FORMATS = ("pdf", "md", "json")


def _when(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def _due(day_on: object, closed: tuple[str, ...], next_open: object) -> str:
    return f"{day_on}（{'・'.join(closed)}。次の開庁日 {next_open}）" if closed else str(day_on)


def to_json(draft: Draft) -> str:
    return json.dumps(draft.as_dict(), ensure_ascii=False, indent=2) + "\n"


def _header(draft: Draft) -> list[tuple[str, str]]:
    version = draft.version
    rows = [
        ("事案", draft.incident.name),
        ("報告の種類", f"{draft.stage_label}（個人情報保護法第26条第1項）"),
        ("知った日", f"{draft.known_on:%Y-%m-%d}"),
        ("数値の基準時点", _when(draft.as_of)),
        (
            "版",
            f"第{version.number}版（{_when(version.saved_at)} {version.saved_by}）"
            if version
            else "未保存の下書き",
        ),
        ("提出日", f"{draft.submitted_on:%Y-%m-%d}" if draft.submitted_on else "未提出"),
        (
            "報告対象となる事態（施行規則第7条）",
            "、".join(f"{number} {label}" for number, label in draft.situations) or "該当なし",
        ),
        ("判定の確認", "担当者が確認済み" if draft.assessment else "未確認（データからの自動判定）"),
    ]
    for clock in draft.clocks:
        if clock.days:
            dues = " ／ ".join(
                f"{CONVENTIONS[day.convention]}: {_due(day.on, day.closed, day.next_open)}"
                for day in clock.days
            )
            if clock.target_from:
                dues = f"目安 {clock.target_from.on}〜 ／ {dues}"
            rows.append((f"期限 {clock.label}: {clock.basis}", dues))
        else:
            rows.append((f"期限 {clock.label}: {clock.basis}", f"{_when(clock.due_at)}（{clock.rule}）"))
    return rows


def to_markdown(draft: Draft) -> str:
    out = [f"# 個人データの漏えい等の報告（{draft.stage_label}）", ""]
    out += [f"- **{label}**: {value}" for label, value in _header(draft)]
    for section in draft.sections:
        out += ["", f"## {section.number}. {section.title}", ""]
        if section.items:
            out += ["| 項目 | 含まれるレコード数 | 備考 |", "|---|---:|---|"]
            out += [
                f"| {item.label} | {item.records:,} | {'全件について漏えいと判断' if item.declared else ''} |"
                for item in section.items
            ]
            out.append("")
        if section.lines:
            out += ["| 項目 | 数 | 数え方 |", "|---|---:|---|"]
            out += [f"| {line.label} | {line.value:,} | {line.how} |" for line in section.lines]
            out += ["", f"（{_when(draft.as_of)} 時点）", ""]
        if section.text:
            out.append(section.text)
    return "\n".join(out).rstrip() + "\n"


# --- PDF --------------------------------------------------------------------------------------------------
PAGE_W, PAGE_H = 210, 297  # mm, A4
MARGIN = 18
BODY = 10
SMALL = 8.5


class _Page:
    """A cursor over A4 pages: text in mm from the top-left, new pages as the text runs on."""

    def __init__(self, canvas: Any, title: str) -> None:
        self.canvas: Any = canvas
        self.title = title
        self.number = 0
        self.y = 0.0
        self._new()

    def _new(self) -> None:
        c = self.canvas
        if self.number:
            c.showPage()
        self.number += 1
        self.y = MARGIN
        c.setFont(linebreak.FONT, SMALL)
        c.drawRightString(
            (PAGE_W - MARGIN) * linebreak.MM, 10 * linebreak.MM, f"{self.title} — {self.number}"
        )

    def need(self, mm: float) -> None:
        if self.y + mm > PAGE_H - MARGIN:
            self._new()

    def text(self, text: str, size: float = BODY, *, x: float = MARGIN, width: float | None = None) -> None:
        width = width or PAGE_W - MARGIN - x
        leading = size * 1.6 / linebreak.MM
        for line in linebreak.wrap(text, width, size) or [""]:
            self.need(leading)
            self.y += leading
            self.canvas.setFont(linebreak.FONT, size)
            self.canvas.drawString(x * linebreak.MM, (PAGE_H - self.y) * linebreak.MM, line)

    def row(self, cells: list[tuple[str, float, str]], size: float = SMALL) -> None:
        """One table row: (text, width in mm, "l" or "r") per cell; cells wrap within their width."""
        leading = size * 1.5 / linebreak.MM
        wrapped = [linebreak.wrap(text, width - 2, size) or [""] for text, width, _ in cells]
        height = leading * max(len(lines) for lines in wrapped) + 1.5
        self.need(height)
        x = float(MARGIN)
        c = self.canvas
        c.setFont(linebreak.FONT, size)
        for (_, width, align), lines in zip(cells, wrapped, strict=True):
            for i, line in enumerate(lines):
                y = (PAGE_H - self.y - leading * (i + 1)) * linebreak.MM
                if align == "r":
                    c.drawRightString((x + width - 1) * linebreak.MM, y, line)
                else:
                    c.drawString((x + 1) * linebreak.MM, y, line)
            x += width
        self.y += height
        c.setLineWidth(0.3)
        c.line(
            MARGIN * linebreak.MM,
            (PAGE_H - self.y) * linebreak.MM,
            (PAGE_W - MARGIN) * linebreak.MM,
            (PAGE_H - self.y) * linebreak.MM,
        )

    def gap(self, mm: float) -> None:
        self.y += mm


def to_pdf(draft: Draft) -> bytes:
    from reportlab.pdfgen.canvas import Canvas

    linebreak.register_font()
    out = io.BytesIO()
    title = f"個人データの漏えい等の報告（{draft.stage_label}）"
    canvas = Canvas(out, pagesize=(PAGE_W * linebreak.MM, PAGE_H * linebreak.MM), invariant=True)
    canvas.setTitle(f"{title} {draft.incident.slug}")
    canvas.setAuthor("owabi")
    page = _Page(canvas, title)
    page.text(title, 15)
    page.gap(3)
    for label, value in _header(draft):
        page.row([(label, 58, "l"), (value, PAGE_W - 2 * MARGIN - 58, "l")])
    for section in draft.sections:
        page.gap(4)
        page.need(20)
        page.text(f"{section.number}. {section.title}", 12)
        page.gap(1)
        if section.items:
            page.row([("項目", 80, "l"), ("含まれるレコード数", 40, "r"), ("備考", 54, "l")])
            for item in section.items:
                page.row(
                    [
                        (item.label, 80, "l"),
                        (f"{item.records:,}", 40, "r"),
                        ("全件について漏えいと判断" if item.declared else "", 54, "l"),
                    ]
                )
        if section.lines:
            page.row([("項目", 52, "l"), ("数", 24, "r"), ("数え方", 98, "l")])
            for line in section.lines:
                page.row([(line.label, 52, "l"), (f"{line.value:,}", 24, "r"), (line.how, 98, "l")])
            page.text(f"（{_when(draft.as_of)} 時点）", SMALL)
        if section.text:
            page.gap(1)
            page.text(section.text)
    canvas.save()
    return out.getvalue()


WRITERS: dict[str, Callable[[Draft], bytes]] = {
    "pdf": to_pdf,
    "md": lambda draft: to_markdown(draft).encode("utf-8"),
    "json": lambda draft: to_json(draft).encode("utf-8"),
}


def render(draft: Draft, fmt: str) -> bytes:
    """The draft in `fmt` (one of FORMATS); KeyError for another."""
    return WRITERS[fmt](draft)
