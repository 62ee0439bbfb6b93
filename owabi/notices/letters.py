"""Print-ready letters: A4 PDFs in batches, for window envelopes, with a manifest for the print vendor.

Two pages per letter (one sheet printed on both sides). Page 1 is the letter's own: through the
envelope's window 〒, address, name and 親展; then the title, the greeting, each person and their items,
the cards, and the box with the portal address, registration code, login key and QR code. Page 2 is
what letters alike share (what happened and when, how many people, cause, what the company has done,
the risk and advice of each group of data that leaked, redress, how to check the letter is genuine,
contact, signatory), from the letter.txt template of the letter's language, which the team may override
and which `notices preview --part letter` shows through `letter_text`. The shared parts are drawn once
per batch file as forms (page 1's per language, kind and audience; page 2's per kind of letter: same
groups, same facts) and placed on each page; only the address block, the people, the code, the key and
the QR code are drawn per letter. Letters are in the notice's language (Japanese or English); 親展 and 様
stay Japanese, for the post office. ReportLab embeds the subset of IPAexGothic (TrueType; ReportLab
cannot embed the CFF outlines of the Noto fonts). All text a reader reads is 10.5 pt or larger.

A household whose people do not fit on page 1 continues at the top of page 2, above the shared text;
when that does not fit either, on a sheet of its own that holds at least MIN_SHEET_LINES lines (people
move from page 1 to it), never just a line or two.

The envelope is named in ENVELOPE; the address block and 親展 lie inside its window, PLAY millimetres in
from each edge. Check the window with the print vendor before a run: ENVELOPE is the one place to change.
The QR code opens the portal with the registration code filled in; it never carries the login key.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import IO, Any, cast

from django.db import transaction
from django.utils import timezone

from owabi.core import audit, bulk
from owabi.core.files import csv_writer, open_private, private_dir, sync_dir, write_private
from owabi.core.linebreak import FONT, MM, register_font, width, wrap
from owabi.core.models import AuditEvent
from owabi.incidents.models import Incident
from owabi.incidents.runs import printing_letters
from owabi.notices import codes
from owabi.notices.models import Notice, NoticeSetup
from owabi.notices.render import LetterForm, check_url, context, long_date, shared_letter


@dataclass(frozen=True)
class Envelope:
    name: str
    window: tuple[float, float, float, float]  # on the folded sheet: left, top, width, height (mm)


# 長形3号 (長3, 120 x 235 mm, the envelope for A4 folded in three) with the common ready-made address
# window: 90 x 45 mm, 23 mm from the left and 13 mm from the top of the envelope held landscape. The sheet
# is Z-folded in three with the top third outwards and sits in the envelope's top left corner, so the
# window falls on the sheet at the same place.
ENVELOPE = Envelope(
    "長3 (120 x 235 mm), address window 90 x 45 mm at 23 mm from the left and 13 mm from the top",
    (23, 13, 90, 45),
)
PLAY = 4  # mm kept inside each edge of the window: the sheet's play in the envelope
PAGE_W, PAGE_H = 210 * MM, 297 * MM
LEFT, RIGHT = 20, 190  # text margins (mm)
TOP, BOTTOM = 18, 282  # where page 2's text starts and page text ends (mm)
BODY = 10.5  # the size of everything a reader reads (points), and its line height
LINE = BODY * 1.5
HEADING = 11.5
CODE_SIZE = 17
MIN_SHEET_LINES = 8  # a letter's last sheet, when it has two, holds at least this many lines
MAX_PAGES = 4  # two sheets: the incident's texts must fit on them (a household's people may add more)
BATCH = 1000  # letters per PDF file
RED = (0.8, 0.0, 0.0)
_DARK_RUN = re.compile(rb"\x00+")
# The letter's own labels, per language (the incident's texts come from the letter.txt template).
LABELS: dict[str, dict[str, str]] = {
    "ja": {
        "portal": "専用ページ（24時間ご利用いただけます）",
        "portal_how": "次のアドレスを入力し、下のコードでお入りください。",
        "code": "登録コード",
        "key": "ログインキー",
        "key_warning": "ログインキーは他人に知らせないでください。QRコードには登録コードだけが入っています。",
        "check": "このお知らせが本物かどうかは、{url} またはお電話（{phone}）でご確認いただけます。",
        "people": "■ 流出した方と項目",
        "person": "・{name} 様",
        "own": "（ご本人）",
        "due": "・出産予定日 {due} のお子さま",
        "items": "項目：",
        "sources": "ご登録のサービス：",
        "cards": "■ 流出したクレジットカード",
        "card": "・{brand} 下4桁 {last4}",
        "card_holders": "（{holders}のご登録情報）",
        "holder": "{name} 様",
        "a_card": "カード",
        "list": "、",
        "continuing": "■ 流出した方と項目（続き）",
    },
    "en": {
        "portal": "Your personal page (open 24 hours)",
        "portal_how": "Type this address and sign in with the codes below.",
        "code": "Registration code",
        "key": "Login key",
        "key_warning": "Keep your login key to yourself. The QR code holds only the registration code.",
        "check": "To check that this letter is genuine: {url}, or call {phone}.",
        "people": "■ Who and what leaked",
        "person": "・{name}",
        "own": " (you)",
        "due": "・Your child due on {due}",
        "items": "Items: ",
        "sources": "Registered with: ",
        "cards": "■ Credit cards that leaked",
        "card": "・{brand} ending in {last4}",
        "card_holders": " (in the records of {holders})",
        "holder": "{name}",
        "a_card": "Card",
        "list": ", ",
        "continuing": "■ Who and what leaked (continued)",
    },
}


class LetterTooLong(ValueError):
    pass


def _y(top_mm: float) -> float:
    return PAGE_H - top_mm * MM


def address_box() -> tuple[float, float, float, float]:
    """Where the address block is printed (mm): the envelope's window less the sheet's play."""
    left, top, box_width, box_height = ENVELOPE.window
    return left + PLAY, top + PLAY, box_width - 2 * PLAY, box_height - 2 * PLAY


class _Page:
    """All of one letter's own text in one PDF text object (a text object per string was a third of a
    page's time)."""

    def __init__(self, canvas: Any) -> None:
        self.canvas = canvas
        self.text = canvas.beginText()
        self.size = 0.0

    def put(self, x: float, y: float, line: str, size: float) -> None:
        if size != self.size:
            self.text.setFont(FONT, size)
            self.size = size
        self.text.setTextOrigin(x, y)
        self.text.textOut(line)

    def lines(self, lines: list[str], *, left: float, y: float, size: float, leading: float) -> float:
        """Draw `lines` at `left` (mm) below `y` (points); an empty line is half a line of space.
        Returns the last baseline."""
        for line in lines:
            if not line:
                y -= size * leading / 2
                continue
            y -= size * leading
            self.put(left * MM, y, line, size)
        return y

    def draw(self) -> None:
        self.canvas.drawText(self.text)


@dataclass(frozen=True)
class Shared:
    """The shared text of a kind of letter, from the letter.txt template: the first line is the title,
    the lines up to the first ■ the greeting, then the sections (a line starting with ■ is a heading,
    the lines after it its text)."""

    title: str
    greeting: str
    sections: list[tuple[str, str]]


def shared(setup: NoticeSetup, form: LetterForm) -> Shared:
    title, *rest = shared_letter(setup, form).strip().splitlines() or [""]
    greeting: list[str] = []
    sections: list[tuple[str, str]] = []
    for line in rest:
        if line.startswith("■"):
            sections.append((line.strip(), ""))
        elif sections:
            heading, body = sections[-1]
            sections[-1] = (heading, f"{body}\n{line}" if body else line)
        elif line.strip():
            greeting.append(line.strip())
    joined = "".join(greeting) if form.language == "ja" else " ".join(greeting)
    return Shared(title.strip(), joined, [(h, b.strip()) for h, b in sections])


def _signatory(setup: NoticeSetup, language: str) -> list[str]:
    texts = setup.texts.get(language) or setup.texts.get("ja") or {}
    return [line for line in (setup.sender_name, texts.get("representative", "")) if line]


def _return_address(setup: NoticeSetup) -> str:
    return " ".join(setup.sender_address.split())


def _footer(setup: NoticeSetup) -> str:
    """The sender and return address, on one line at the foot of page 1."""
    return f"{setup.sender_name}　{_return_address(setup)}"


@dataclass(frozen=True)
class Line:
    """One printed line of a letter's flowing text: shared (drawn in a form) or, with `own` >= 0, the
    letter's own line of that number (drawn per letter; the form only keeps its place)."""

    text: str
    size: float
    left: float  # mm
    step: float  # mm from the previous baseline to this one
    own: int = -1
    keep: int = 1  # the first line of an own unit: the unit's lines, which go on one page together
    heading: bool = False
    right: bool = False  # aligned to the right margin (the signatory)


_STEP = LINE / MM
_GAP = Line("", BODY, LEFT, _STEP / 2)


@dataclass(frozen=True)
class Front:
    """Page 1's shared part, laid out: what it draws, and where the flowing text goes on it (mm)."""

    head: list[str]
    title: str
    title_size: float
    title_top: float
    greeting: list[str]
    box_lines: list[str]
    code_top: float
    flow_top: float
    flow_bottom: float


def _front(setup: NoticeSetup, form: LetterForm, printed_on: date) -> Front:
    labels = LABELS[form.language]
    text = shared(setup, form)
    # Date and sender at the top right, clear of the envelope's window.
    column = RIGHT - (ENVELOPE.window[0] + ENVELOPE.window[2] + PLAY)
    head = [long_date(printed_on, form.language), *wrap(setup.sender_name, column, BODY)]
    title_size = 15 if width(text.title, 15) <= (RIGHT - LEFT) * MM else 12.5
    title_top = ENVELOPE.window[1] + ENVELOPE.window[3] + 10
    greeting = wrap(text.greeting, RIGHT - LEFT, BODY)
    below = [
        labels["key_warning"],
        labels["check"].format(url=check_url(setup.portal_url), phone=setup.phone),
    ]
    box_lines = [line for part in below for line in wrap(part, RIGHT - LEFT - 8, BODY)]
    code_top = BOTTOM - (48 + len(box_lines) * _STEP)
    flow_top = title_top + 3 + len(greeting) * _STEP + 2
    if flow_top > code_top - 40:
        raise LetterTooLong("the letter's greeting is too long for its place: shorten it (letter.txt)")
    return Front(
        head, text.title, title_size, title_top, greeting, box_lines, code_top, flow_top, code_top - 4
    )


def _draw_front(canvas: Any, setup: NoticeSetup, front: Front, language: str) -> None:
    """Page 1's shared part: date, sender, 親展, title, greeting, the code box's frame and labels."""
    labels = LABELS[language]
    page = _Page(canvas)
    y = _y(12)
    for line in front.head:
        y -= LINE
        page.put(RIGHT * MM - width(line, BODY), y, line, BODY)
    # 親展 in red, boxed, at the top right of the address block (inside the window).
    left, top, box_width, _ = address_box()
    canvas.setStrokeColorRGB(*RED)
    canvas.setFillColorRGB(*RED)
    canvas.rect((left + box_width - 15) * MM, _y(top + 7), 15 * MM, 7 * MM, stroke=1, fill=0)
    canvas.setFont(FONT, 12)
    canvas.drawString((left + box_width - 13.2) * MM, _y(top + 5.2), "親展")
    canvas.setFillColorRGB(0, 0, 0)
    canvas.setStrokeColorRGB(0, 0, 0)
    canvas.setFont(FONT, front.title_size)
    canvas.drawCentredString(PAGE_W / 2, _y(front.title_top), front.title)
    page.lines(front.greeting, left=LEFT, y=_y(front.title_top + 3), size=BODY, leading=1.5)
    top = front.code_top
    canvas.setLineWidth(0.8)
    canvas.rect(LEFT * MM, _y(BOTTOM), (RIGHT - LEFT) * MM, (BOTTOM - top) * MM, stroke=1, fill=0)
    page.put((LEFT + 4) * MM, _y(top + 7), labels["portal"], BODY)
    page.put((LEFT + 4) * MM, _y(top + 12.5), labels["portal_how"], BODY)
    page.put((LEFT + 4) * MM, _y(top + 19.5), setup.portal_url, 12)
    page.put((LEFT + 4) * MM, _y(top + 30), labels["code"], BODY)
    page.put((LEFT + 4) * MM, _y(top + 41), labels["key"], BODY)
    page.lines(front.box_lines, left=LEFT + 4, y=_y(top + 44), size=BODY, leading=1.5)
    page.put(LEFT * MM, _y(BOTTOM + 8), _footer(setup), BODY)
    page.draw()


def _shared_flow(setup: NoticeSetup, form: LetterForm) -> list[Line]:
    """The sections and the signatory, as lines: what letters alike in `form` share after the people."""
    lines: list[Line] = []
    for heading, body in shared(setup, form).sections:
        lines.append(Line("", BODY, LEFT, 2.5))
        lines += [
            Line(part, HEADING, LEFT, HEADING * 1.5 / MM, heading=True)
            for part in wrap(heading, RIGHT - LEFT, HEADING)
        ]
        lines += [
            Line(part, BODY, LEFT + 3, _STEP) if part else _GAP for part in wrap(body, RIGHT - LEFT - 3, BODY)
        ]
    lines.append(Line("", BODY, LEFT, 4))
    lines += [Line(part, BODY, RIGHT, _STEP, right=True) for part in _signatory(setup, form.language)]
    lines.append(Line(_return_address(setup), BODY, RIGHT, _STEP, right=True))
    return lines


Placed = list[list[tuple[Line, float]]]  # per page, each line with its baseline (mm from the top)


def _place(front: Front, flow: list[Line], caps: dict[int, int]) -> Placed:
    """`flow` laid out from page 1 (below the greeting, above the code box) onto as many pages as it
    needs. A heading never ends a page; `caps` limits how many lines a page takes (for widow control)."""
    pages: Placed = [[]]
    y = front.flow_top
    bottom = front.flow_bottom
    for index, line in enumerate(flow):
        together = line.keep + (2 if line.heading else 0)  # a heading keeps two lines with it
        needs = sum(follower.step for follower in flow[index : index + together])
        full = len(pages) - 1 in caps and len(pages[-1]) >= caps[len(pages) - 1]
        if pages[-1] and (y + needs > bottom or full):
            pages.append([])
            y, bottom = TOP - _STEP + 1, BOTTOM
            if not line.text and not line.own >= 0:
                continue  # no gap at the top of a page
        y += line.step
        pages[-1].append((line, y))
    return pages


def _layout(front: Front, shared_flow: list[Line], units: tuple[int, ...], continuing: str) -> Placed:
    """Where everything goes for a letter whose own units have these numbers of lines: its people and
    cards first, each unit on one page, then the shared text. A last sheet that would carry fewer than
    MIN_SHEET_LINES lines takes lines from the page before it, so a second sheet never holds just a
    line or two."""
    flow: list[Line] = []
    for size in units:
        first = len(flow)
        flow += [
            Line("", BODY, LEFT, _STEP, own=first + offset, keep=size if offset == 0 else 1)
            for offset in range(size)
        ]
    flow += shared_flow
    caps: dict[int, int] = {}
    for _ in range(4):
        pages = _place(front, flow, caps)
        last = len(pages) - 1
        if last < 2 or len(pages[last]) >= MIN_SHEET_LINES:
            break
        caps[last - 1] = len(pages[last - 1]) - (MIN_SHEET_LINES - len(pages[last]))
    # Where the people continue on a new page, say so at its top.
    for number, page in enumerate(pages[1:], start=1):
        if page and page[0][0].own > 0:
            first_y = page[0][1]
            pages[number] = [(Line(continuing, BODY, LEFT, _STEP), first_y)] + [
                (line, y + _STEP) for line, y in page
            ]
    return pages


@lru_cache(maxsize=8)
def _value_x(language: str) -> float:
    """Where the code and key start: 30 mm in, or clear of the longer label."""
    labels = LABELS[language]
    widest = max(width(labels["code"], BODY), width(labels["key"], BODY)) / MM
    return max(LEFT + 30, LEFT + 4 + widest + 5) * MM


def _draw_code_box(
    canvas: Any, page: _Page, setup: NoticeSetup, code: str, language: str, top: float
) -> None:
    x = _value_x(language)
    page.put(x, _y(top + 30.5), codes.group(code), CODE_SIZE)
    page.put(x, _y(top + 41.5), codes.login_key(code), CODE_SIZE)
    modules, pixels = qr_modules(qr_url(setup, code))
    side = 28 * MM
    x0, y0 = (RIGHT - 4) * MM - side, _y(top + 4) - side
    # In module units (one module = one unit, origin at the bottom left), each run of dark modules one
    # rectangle, written as raw path operators: ReportLab's path API formats every coordinate in
    # Python, which took more time than the rest of the page.
    runs = []
    for row in range(modules):
        base = row * modules
        for run in _DARK_RUN.finditer(pixels, base, base + modules):
            runs.append(f"{run.start() - base} {modules - 1 - row} {run.end() - run.start()} 1 re")
    scale = side / modules
    canvas.addLiteral(f"q 0 g {scale:.4f} 0 0 {scale:.4f} {x0:.2f} {y0:.2f} cm {' '.join(runs)} f Q")


def qr_modules(text: str) -> tuple[int, bytes]:
    """A QR code (error correction M): modules per side, and one byte per module row by row (0 = dark)."""
    import zxingcpp

    image = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level="M").to_image(
        scale=1, add_quiet_zones=False
    )
    pixels = memoryview(cast(Any, image))  # the bindings expose the buffer protocol
    return (pixels.shape[0] if pixels.shape else 0), pixels.tobytes()


def qr_url(setup: NoticeSetup, code: str) -> str:
    return f"{setup.portal_url.rstrip('/')}/?code={codes.group(code)}"


def reference(notice: Notice) -> str:
    """Printed under the address (visible through the window): how returned mail is recorded."""
    return f"L{notice.pk:09d}"


def _address_lines(address: str, box_width: float) -> tuple[list[str], float]:
    """The address wrapped at its own breaks into at most 3 lines: at BODY size, smaller only for an
    address too long for the window at that size."""
    for size in (BODY, 9.5, 8.5, 8.0):
        lines = wrap(address, box_width, size, address=True)
        if len(lines) <= 3:
            return lines, size
    return lines, size


Unit = list[tuple[float, str]]  # a letter's own lines kept on one page: (left in mm, text)


def people_units(notice: Notice, setup: NoticeSetup) -> list[Unit]:
    """The letter's own lines, a person (with their items and services) or a card to a unit: each person,
    then each card once, with whose records held it when the letter covers several people. A heading
    goes with the first unit after it."""
    language = _language(notice)
    labels = LABELS[language]
    ctx = context(notice, setup)
    several = len(ctx["people"]) > 1
    inner = RIGHT - LEFT - 5
    units: list[Unit] = []
    for person in ctx["people"]:
        if person["name"]:
            name = labels["person"].format(name=person["name"])
        else:
            name = labels["due"].format(due=person["due"])
        unit: Unit = [(LEFT, name + (labels["own"] if person["self"] and several else ""))]
        items = labels["items"] + labels["list"].join(person["item_labels"])
        unit += [(LEFT + 5, line) for line in wrap(items, inner, BODY, after="、,")]
        if person["sources"]:
            sources = labels["sources"] + labels["list"].join(person["sources"])
            unit += [(LEFT + 5, line) for line in wrap(sources, inner, BODY, after="、,")]
        if person["via_text"]:
            unit += [(LEFT + 5, line) for line in wrap(person["via_text"], inner, BODY, after="、,")]
        units.append(unit)
    units[0:1] = [[(LEFT, labels["people"]), *units[0]]] if units else [[(LEFT, labels["people"])]]
    for index, card in enumerate(ctx["cards"]):
        line = labels["card"].format(brand=card["brand"] or labels["a_card"], last4=card["last4"])
        if card["holders"]:
            line += labels["card_holders"].format(holders=labels["list"].join(card["holders"]))
        parts = wrap(line, inner, BODY, after="、,")
        unit = [(LEFT if number == 0 else LEFT + 5, part) for number, part in enumerate(parts)]
        units.append([(LEFT, labels["cards"]), *unit] if index == 0 else unit)
    return units


def _language(notice: Notice) -> str:
    return notice.language if notice.language in LABELS else "ja"


def _kind(notice: Notice) -> str:
    return "reminder" if notice.reminder_of_id else "notice"


def _letter_form(notice: Notice) -> LetterForm:
    form = LetterForm.of(notice)
    return form if form.language in LABELS else replace(form, language="ja")


class _Forms:
    """A batch file's shared parts, each page's drawn once as a form and placed on every letter alike:
    same language, kind, audience, advice groups and facts, and the same number of own lines."""

    def __init__(self, canvas: Any, setup: NoticeSetup, printed_on: date) -> None:
        self.canvas, self.setup, self.printed_on = canvas, setup, printed_on
        self.fronts: dict[LetterForm, Front] = {}
        self.flows: dict[LetterForm, list[Line]] = {}
        self.layouts: dict[tuple[LetterForm, tuple[int, ...]], tuple[list[str], Placed]] = {}
        self.pages: dict[tuple[Any, ...], str] = {}  # a page's shared content -> its form's name

    def layout(self, form: LetterForm, units: tuple[int, ...]) -> tuple[list[str], Placed]:
        """The form names of each page, and where each line goes, for a letter whose own units have
        these numbers of lines."""
        key = (form, units)
        if key not in self.layouts:
            if form not in self.fronts:
                self.fronts[form] = _front(self.setup, form, self.printed_on)
                self.flows[form] = _shared_flow(self.setup, form)
                if len(_layout(self.fronts[form], self.flows[form], (), "")) > MAX_PAGES:
                    raise LetterTooLong(
                        f"the incident's notice texts take more than {MAX_PAGES} pages of a letter: "
                        "shorten them (owabi notices setup)"
                    )
            front = self.fronts[form]
            pages = _layout(front, self.flows[form], units, LABELS[form.language]["continuing"])
            names = []
            for number, placed in enumerate(pages):
                shared_lines = tuple(
                    (line.text, line.size, line.left, line.right, round(y, 2))
                    for line, y in placed
                    if line.own < 0 and line.text
                )
                # Layouts differ in where the text splits; a page whose shared text is the same in two
                # of them is drawn once.
                signature = (form if number == 0 else None, shared_lines)
                if signature not in self.pages:
                    name = f"p{len(self.pages)}"
                    self.canvas.beginForm(name)
                    if number == 0:
                        _draw_front(self.canvas, self.setup, front, form.language)
                    page = _Page(self.canvas)
                    for text, size, left, right, y in shared_lines:
                        page.put(left * MM - (width(text, size) if right else 0), _y(y), text, size)
                    page.draw()
                    self.canvas.endForm()
                    self.pages[signature] = name
                names.append(self.pages[signature])
            self.layouts[key] = (names, pages)
        return self.layouts[key]


def _draw_letter(canvas: Any, notice: Notice, setup: NoticeSetup, forms: _Forms) -> None:
    to = notice.content["to"]
    language = _language(notice)
    units = people_units(notice, setup)
    own = [line for unit in units for line in unit]
    names, pages = forms.layout(_letter_form(notice), tuple(len(unit) for unit in units))
    for number, (name, placed) in enumerate(zip(names, pages, strict=True)):
        canvas.doForm(name)
        page = _Page(canvas)
        if number == 0:
            left, top, box_width, _ = address_box()
            y = _y(top + 5)
            if to["postal_code"]:
                page.put(left * MM, y, f"〒{to['postal_code']}", 11)
            lines, size = _address_lines(to["address"], box_width)
            y = page.lines(lines, left=left, y=y - 1.5 * MM, size=size, leading=1.3)
            page.put(left * MM, y - 19, f"{to['name']} 様", 14)
            page.put(left * MM, y - 30, reference(notice), 8)
            _draw_code_box(
                canvas, page, setup, notice.code, language, forms.fronts[_letter_form(notice)].code_top
            )
        for line, y_mm in placed:
            if line.own >= 0:
                left_mm, text = own[line.own]
                page.put(left_mm * MM, _y(y_mm), text, BODY)
        page.draw()
        canvas.showPage()


def letter_text(notice: Notice, setup: NoticeSetup, printed_on: date | None = None) -> str:
    """A letter as text, from the same pieces the pages are drawn from (`notices preview --part letter`)."""
    register_font()  # the people's lines are wrapped as on the page
    language = _language(notice)
    labels = LABELS[language]
    form = _letter_form(notice)
    text = shared(setup, form)
    to = notice.content["to"]
    lines = [long_date(printed_on or timezone.localdate(), language), setup.sender_name, "", "親展"]
    lines += [f"〒{to['postal_code']}"] if to["postal_code"] else []
    lines += [to["address"], f"{to['name']} 様", reference(notice) if notice.pk else "", ""]
    lines += [text.title, "", text.greeting, ""]
    lines += [
        ("  " if left > LEFT else "") + part for unit in people_units(notice, setup) for left, part in unit
    ]
    for heading, body in text.sections:
        lines += ["", heading, body]
    lines += ["", *_signatory(setup, language), _return_address(setup), ""]
    lines += [labels["portal"], labels["portal_how"], setup.portal_url]
    lines += [
        f"{labels['code']}  {codes.group(notice.code)}",
        f"{labels['key']}  {codes.login_key(notice.code)}",
    ]
    lines += [
        labels["key_warning"],
        labels["check"].format(url=check_url(setup.portal_url), phone=setup.phone),
    ]
    lines += ["", _footer(setup)]
    return "\n".join(lines) + "\n"


@dataclass
class PrintResult:
    letters: int = 0
    reminders: int = 0  # of the letters
    pages: int = 0
    files: list[Path] = field(default_factory=list)
    manifest: Path | None = None
    finished: list[str] = field(default_factory=list)  # files a stopped run had printed, listed now
    discarded: list[str] = field(default_factory=list)  # files a stopped run wrote but never marked


# A batch is written under these names first (its rows, then its PDF) and the PDF gets its own name once
# its letters are marked sent: a file named letters-….pdf is always one to post. The JSON holds the
# batch's incident, file name, id (its audit event carries it too) and manifest rows.
_PENDING_PDF = ".{name}.incident-{incident}.pending"
_PENDING_ROWS = ".{name}.incident-{incident}.pending.json"
_MANIFEST_HEADER = ["file", "first_page", "pages", "reference", "postal_code", "kind"]


def print_letters(
    *,
    incident: Incident,
    out: Path,
    actor: str,
    batch: int = BATCH,
    printed_on: date | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> PrintResult:
    """Write every prepared letter notice into batch PDFs under `out`, with a manifest; each letter
    written is marked sent (handed to the printer). A re-run prints only letters not yet printed, and
    first settles what a stopped run left in `out` (`_settle`); a run while another prints the incident's
    letters is refused (IncidentBusy). `progress(done, total)` after each batch."""
    with printing_letters(incident):
        return _print_letters(incident, out, actor, batch, printed_on, progress or (lambda _d, _t: None))


class PrintUnsettled(Exception):
    """A print of the incident into another folder stopped before it finished: settle that one first."""


def _unsettled_elsewhere(incident: Incident, out: Path) -> None:
    """Refuse to print into `out` while a batch of this incident is still pending in a folder an earlier
    run printed into: if it was marked sent, only a run into that folder names and lists it; printing
    elsewhere meanwhile would leave its letters marked sent and never posted."""
    events = AuditEvent.objects.filter(
        action="notices.print", object_type="incident", object_id=str(incident.pk)
    ).exclude(data__folder=str(out))
    for folder in set(events.values_list("data__folder", flat=True)):
        if folder and _left_by(incident, Path(folder)):
            raise PrintUnsettled(
                f"incident {incident.slug}: a print into {folder} stopped before it finished; run owabi"
                f" notices print --incident {incident.slug} --out {folder} first, so that its letters are"
                " posted once"
            )


def _claim_manifest(out: Path) -> tuple[str, IO[Any]]:
    """This run's stamp and its manifest, opened: a new name even when a run of the same second wrote
    into `out` before (its files would be overwritten)."""
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    for attempt in range(1, 1000):
        claimed = stamp if attempt == 1 else f"{stamp}-{attempt}"
        try:
            return claimed, open_private(out / f"manifest-{claimed}.csv", "x", newline="")
        except FileExistsError:
            continue
    raise FileExistsError(f"{out}: too many print runs in one second")  # pragma: no cover


def _listed(out: Path) -> set[tuple[str, str]]:
    """(file, reference) of every letter the manifests in `out` list (a line cut short is not one)."""
    found = set()
    for manifest in out.glob("manifest-*.csv"):
        with manifest.open(encoding="utf-8", newline="") as handle:
            for line in handle:  # no field holds a line break
                row = next(csv.reader([line]))
                if line.endswith("\n") and len(row) == len(_MANIFEST_HEADER) and row[0] != "file":
                    found.add((row[0], row[3]))
    return found


def _left_by(incident: Incident, out: Path) -> list[tuple[Path, dict[str, Any]]]:
    """The batches a stopped print of this incident left in `out`: their rows files, read."""
    if not out.is_dir():
        return []
    found = []
    for path in sorted(out.glob(_PENDING_ROWS.format(name="letters-*.pdf", incident=incident.pk))):
        batch = json.loads(path.read_text("utf-8"))
        if batch["incident"] == incident.pk:
            found.append((path, batch))
    return found


def _settle(incident: Incident, out: Path, manifest: IO[Any], result: PrintResult) -> None:
    """What a stopped run of this incident left in `out`: a batch whose letters were marked sent (its
    audit event carries the batch's id) gets its own name and its manifest rows; one that was not is deleted,
    as its letters are printed again. This run holds the incident's print lock, so no run writes them."""
    listed = None
    for pending_rows, batch in _left_by(incident, out):
        name = batch["file"]
        pending_pdf = out / _PENDING_PDF.format(name=name, incident=incident.pk)
        marked = AuditEvent.objects.filter(
            action="notices.print",
            object_type="incident",
            object_id=str(incident.pk),
            data__batch=batch["batch"],
        ).exists()
        if not marked:  # its letters wait still: printed again below
            pending_pdf.unlink(missing_ok=True)
            pending_rows.unlink()
            result.discarded.append(name)
            continue
        listed = _listed(out) if listed is None else listed
        missing = [row for row in batch["rows"] if (row[0], row[3]) not in listed]
        _post(out, name, (pending_pdf, pending_rows), missing, manifest)
        result.finished.append(name)
        result.files.append(out / name)
        result.letters += len(batch["rows"])
        result.pages += sum(row[2] for row in batch["rows"])


def _print_letters(
    incident: Incident,
    out: Path,
    actor: str,
    batch: int,
    printed_on: date | None,
    progress: Callable[[int, int], None],
) -> PrintResult:
    from reportlab.pdfgen.canvas import Canvas

    register_font()
    setup = NoticeSetup.objects.get(incident=incident)
    printed_on = printed_on or timezone.localdate()
    waiting = list(
        Notice.objects.filter(incident=incident, channel=Notice.Channel.LETTER, status=Notice.Status.PREPARED)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    result = PrintResult()
    out = out.resolve()
    _unsettled_elsewhere(incident, out)
    if out.is_dir():  # a write cut short leaves its temp file (files.write_private): letters, never posted
        for temp in out.glob(f".{_PENDING_PDF.format(name='letters-*.pdf', incident=incident.pk)}*.tmp"):
            temp.unlink()
    # Nothing to print: no empty manifest for the vendor to puzzle over.
    if not waiting and not _left_by(incident, out):
        return result
    private_dir(out)
    stamp, handle = _claim_manifest(out)
    sync_dir(out)
    manifest = out / f"manifest-{stamp}.csv"
    with handle:  # as it goes: it lists what was printed
        rows = csv_writer(handle)
        rows.writerow(_MANIFEST_HEADER)
        _durable(handle)
        _settle(incident, out, handle, result)
        for number, pks in enumerate(bulk.chunked(waiting, batch), start=1):
            name = f"letters-{stamp}-{number:04d}.pdf"
            notices = list(Notice.objects.filter(pk__in=pks).order_by("pk"))
            pdf = io.BytesIO()
            canvas = Canvas(pdf, pagesize=(PAGE_W, PAGE_H), pageCompression=1, initialFontName=FONT)
            canvas.setTitle(f"{incident.name} letters {number}")
            forms = _Forms(canvas, setup, printed_on)
            entries = []
            pages_before, reminders_before = result.pages, result.reminders
            for notice in notices:
                first = canvas.getPageNumber()
                _draw_letter(canvas, notice, setup, forms)
                pages = canvas.getPageNumber() - first
                entries.append(
                    [
                        name,
                        first,
                        pages,
                        reference(notice),
                        notice.content["to"]["postal_code"],
                        _kind(notice),
                    ]
                )
                result.pages += pages
                result.reminders += notice.reminder_of_id is not None
            canvas.save()
            # Complete on disk, under a name no one posts, before its letters are marked sent; its rows
            # beside it first, so that a run stopped after the marking can still list them (_settle).
            pending_pdf, pending_rows = (
                out / _PENDING_PDF.format(name=name, incident=incident.pk),
                out / _PENDING_ROWS.format(name=name, incident=incident.pk),
            )
            with write_private(pending_rows) as written:
                batch_id = uuid.uuid4().hex
                batch_rows = {"incident": incident.pk, "file": name, "batch": batch_id, "rows": entries}
                json.dump(batch_rows, written, ensure_ascii=False)
            with write_private(pending_pdf, "wb") as written:
                written.write(pdf.getvalue())
            with transaction.atomic():  # the batch's letters are sent and audited together, or neither
                printed = list(
                    Notice.objects.select_for_update()
                    .filter(pk__in=pks, status=Notice.Status.PREPARED)
                    .order_by("pk")
                    .values_list("pk", flat=True)
                )
                Notice.objects.filter(pk__in=printed).update(
                    status=Notice.Status.SENT, sent_at=timezone.now()
                )
                audit.record(
                    actor=actor,
                    action="notices.print",
                    object_type="incident",
                    object_id=incident.pk,
                    data={
                        "file": name,
                        "folder": str(out),
                        "batch": batch_id,
                        "letters": printed,
                        "reminders": result.reminders - reminders_before,
                        "pages": result.pages - pages_before,
                    },
                )
            _post(out, name, (pending_pdf, pending_rows), entries, handle)
            result.letters += len(notices)
            result.files.append(out / name)
            progress(min(number * batch, len(waiting)), len(waiting))
    result.manifest = manifest
    return result


def _post(out: Path, name: str, pending: tuple[Path, Path], rows: list[Any], manifest: IO[Any]) -> None:
    """A batch whose letters are marked sent, made one to post: its PDF given its own name (unless a
    stopped run did that already), then `rows` listed for good, then its rows file deleted. Listed only
    once its letters are marked printed: a file the manifest lists is one to post."""
    pending_pdf, pending_rows = pending
    if pending_pdf.exists():
        pending_pdf.replace(out / name)
        sync_dir(out)
    elif not (out / name).exists():  # never list a file that is not there
        raise FileNotFoundError(f"{out / name}: the batch's PDF is gone")
    csv_writer(manifest).writerows(rows)
    _durable(manifest)
    pending_rows.unlink()


def _postal(notice: Notice) -> str:
    return str(notice.content["to"]["postal_code"])


def _durable(handle: IO[Any]) -> None:
    handle.flush()
    os.fsync(handle.fileno())
