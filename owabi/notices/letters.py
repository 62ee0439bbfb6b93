"""Print-ready letters: A4 PDFs in batches, for window envelopes, with a manifest for the print vendor.

One page per letter (a second one only for a household with many people). What every letter of the
incident shares (title, greeting, what happened, cause, risk, what to do, redress, contact) comes from
the letter.txt template of the letter's language, which the team may override and which
`notices preview --part letter` shows through `letter_text`, built from the same pieces as the page. It
is drawn once per batch file as a form (one per language and for reminders) and placed on each page;
only the address block, the people and their items, the code, the key and the QR code are drawn per
letter. Letters are in the notice's language (Japanese or English); 親展 and 様 stay Japanese, for the
post office. ReportLab embeds the subset of the Japanese
font (IPAexGothic, TrueType; ReportLab cannot embed the CFF outlines of the Noto fonts).

Layout (millimetres from the top left of A4): the address block sits where the window of a 長3 window
envelope falls when the sheet is folded in three (left 20, top 38, 95 x 42), with 〒 and the postal code,
the address, the name and 様, and under it the letter's reference for returned mail. 親展 in red above
it. Check the window position with the print vendor before a run: ADDRESS_BOX is the one place to change.
The QR code opens the portal with the registration code filled in; it never carries the login key.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from owabi.core import audit, bulk
from owabi.core.files import csv_writer, open_private, private_dir, write_private
from owabi.incidents import categories
from owabi.incidents.models import Incident
from owabi.notices import codes
from owabi.notices.models import Notice, NoticeSetup
from owabi.notices.render import long_date, shared_letter

FONT = "IPAexGothic"
FONT_PATHS = (
    "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf",  # Debian: fonts-ipaexfont-gothic
    "/usr/share/fonts/truetype/ipaexfont-gothic/ipaexg.ttf",
)
MM = 72 / 25.4
PAGE_W, PAGE_H = 210 * MM, 297 * MM
ADDRESS_BOX = (20, 38, 95, 42)  # left, top, width, height (mm)
LEFT, RIGHT = 18, 192  # text margins (mm)
PEOPLE_TOP, PEOPLE_BOTTOM = 112, 160  # the per-letter region of people and items (mm)
STATIC_TOP, STATIC_BOTTOM = 162, 236
CODE_TOP = 240
BATCH = 1000  # letters per PDF file
RED = (0.8, 0.0, 0.0)
_DARK_RUN = re.compile(rb"\x00+")
# The letter's own labels, per language (the incident's texts come from the letter.txt template).
LABELS: dict[str, dict[str, str]] = {
    "ja": {
        "portal": "専用ページ（24時間）：次のアドレスを入力し、下のコードでお入りください",
        "code": "登録コード",
        "key": "ログインキー",
        "key_warning": "ログインキーは他人に知らせないでください。QRコードには登録コードだけが入っています。",
        "people": "■ 流出した方と項目",
        "person": "{name} 様",
        "due": "出産予定日 {due} のお子さま",
        "items": "項目：",
        "between": "　",
        "card": "クレジットカード：{brand} 下4桁 {last4}",
        "a_card": "カード",
        "card_advice": "カードの利用明細をご確認ください。再発行をご希望の場合の手数料は当社が負担します。",
        "continued": "（別紙に続きます）",
        "sheet": "別紙",
    },
    "en": {
        "portal": "Your personal page (24 hours): type this address and sign in with the codes below",
        "code": "Registration code",
        "key": "Login key",
        "key_warning": "Keep your login key to yourself. The QR code holds only the registration code.",
        "people": "■ Who and what leaked",
        "person": "{name}",
        "due": "Your child due on {due}",
        "items": "items: ",
        "between": " — ",
        "card": "Credit card: {brand} ending in {last4}",
        "a_card": "card",
        "card_advice": "Please check your card statements. We pay the fee if you have the card re-issued.",
        "continued": "(continued on the next sheet)",
        "sheet": "Continued",
    },
}
_NO_LINE_START = set("、。，．・：；？！ー）」』】〕〉》”’ぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ々")


class FontMissing(RuntimeError):
    pass


def font_path() -> str:
    configured = getattr(settings, "OWABI_LETTER_FONT", "") or ""
    for candidate in (configured, *FONT_PATHS):
        if candidate and Path(candidate).is_file():
            return candidate
    raise FontMissing(
        "no Japanese font for letters: install Debian's fonts-ipaexfont-gothic (./dev setup does) or set "
        "OWABI_LETTER_FONT to an IPAexGothic .ttf"
    )


def _register_font() -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(FONT, font_path()))


def wrap(text: str, width_mm: float, size: float, *, after: str = "") -> list[str]:
    """Lines of `text` that fit `width_mm` at `size` points, breaking at existing line breaks. Japanese
    breaks anywhere except before closing punctuation and small kana (kinsoku); a word of Latin letters
    or digits moves whole to the next line when the line has a space to break at. With `after` (a
    list's separators, "、"), a line breaks after its last separator, keeping list items whole."""
    limit = width_mm * MM / size  # in units of the font size: character widths scale with it
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line, width = "", 0.0
        for char in paragraph:
            advance = _advance(char)
            if line and width + advance > limit and char not in _NO_LINE_START:
                head, tail = line, ""
                cut = max((line.rfind(mark) for mark in after), default=-1)
                if cut > 0 and cut < len(line) - 1:
                    head, tail = line[: cut + 1], line[cut + 1 :]
                elif _in_word(char) and _in_word(line[-1]):
                    cut = line.rfind(" ")
                    if cut > 0:
                        head, tail = line[:cut], line[cut + 1 :]
                lines.append(head)
                line = (tail + char).lstrip()
                width = sum(_advance(c) for c in line)
            else:
                line += char
                width += advance
        lines.append(line)
    return lines


def _in_word(char: str) -> bool:
    return char.isascii() and not char.isspace()


@lru_cache(maxsize=8192)
def _advance(char: str) -> float:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    return float(stringWidth(char, FONT, 1))


def _y(top_mm: float) -> float:
    return PAGE_H - top_mm * MM


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

    def wrapped(
        self, text: str, *, left: float, right: float, y: float, size: float, leading: float
    ) -> float:
        """Draw `text` wrapped between `left` and `right` (mm) below `y` (points); returns the last y."""
        for line in wrap(text, right - left, size):
            y -= size * leading
            self.put(left * MM, y, line, size)
        return y

    def draw(self) -> None:
        self.canvas.drawText(self.text)


@dataclass(frozen=True)
class Shared:
    """The part every letter of a language and kind shares, from the letter.txt template: the first
    line is the title, the lines up to the first ■ the greeting, then the sections (a line starting
    with ■ is a heading, the lines after it its text)."""

    title: str
    greeting: str
    sections: list[tuple[str, str]]


def shared(setup: NoticeSetup, language: str, *, reminder: bool) -> Shared:
    title, *rest = shared_letter(setup, language, reminder=reminder).strip().splitlines() or [""]
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
    joined = "".join(greeting) if language == "ja" else " ".join(greeting)
    return Shared(title.strip(), joined, [(h, b.strip()) for h, b in sections])


class LetterTooLong(ValueError):
    pass


def _draw_static(canvas: Any, setup: NoticeSetup, printed_on: date, language: str, *, reminder: bool) -> None:
    """The part every letter of a language and kind shares: drawn once per file as a form."""
    text = shared(setup, language, reminder=reminder)
    canvas.setFont(FONT, 9)
    canvas.drawRightString(RIGHT * MM, _y(14), long_date(printed_on, language))
    canvas.drawRightString(RIGHT * MM, _y(19), setup.sender_name)
    # 親展 in red, boxed, above the address block (for the post office and the household, in Japanese).
    left, top, _, _ = ADDRESS_BOX
    canvas.setStrokeColorRGB(*RED)
    canvas.setFillColorRGB(*RED)
    canvas.rect(left * MM, _y(top - 1), 16 * MM, 7 * MM, stroke=1, fill=0)
    canvas.setFont(FONT, 12)
    canvas.drawString((left + 2.2) * MM, _y(top - 2.8), "親展")
    canvas.setFillColorRGB(0, 0, 0)
    canvas.setStrokeColorRGB(0, 0, 0)
    canvas.setFont(FONT, 15 if _advance_width(text.title, 15) <= (RIGHT - LEFT) * MM else 12)
    canvas.drawCentredString(PAGE_W / 2, _y(92), text.title)
    page = _Page(canvas)
    y = page.wrapped(text.greeting, left=LEFT, right=RIGHT, y=_y(96), size=9.0, leading=1.45)
    if y < _y(PEOPLE_TOP - 1):
        raise LetterTooLong("the letter's greeting is too long for its place: shorten it (letter.txt)")
    y = _y(STATIC_TOP)
    for heading, body in text.sections:
        y = page.wrapped(heading, left=LEFT, right=RIGHT, y=y, size=9.2, leading=1.4)
        y = page.wrapped(body, left=LEFT + 3, right=RIGHT, y=y, size=8.6, leading=1.4)
    page.draw()
    if y < _y(STATIC_BOTTOM):
        raise LetterTooLong(
            "the incident's notice texts do not fit on the letter: shorten them (owabi notices setup)"
        )
    canvas.setFont(FONT, 7.5)
    canvas.drawString(LEFT * MM, _y(290), _footer(setup))
    _draw_code_box_frame(canvas, setup, LABELS[language])


def _footer(setup: NoticeSetup) -> str:
    """The sender and return address, on one line at the foot of the page."""
    return f"{setup.sender_name}　{' '.join(setup.sender_address.split())}"


def _advance_width(text: str, size: float) -> float:
    return sum(_advance(char) for char in text) * size


def _draw_code_box_frame(canvas: Any, setup: NoticeSetup, labels: dict[str, str]) -> None:
    """The code box's frame and labels: the same on every letter, so part of the shared form."""
    canvas.setLineWidth(0.6)
    canvas.rect(LEFT * MM, _y(CODE_TOP + 42), (RIGHT - LEFT) * MM, 42 * MM, stroke=1, fill=0)
    canvas.setFont(FONT, 9.5)
    canvas.drawString((LEFT + 4) * MM, _y(CODE_TOP + 7), labels["portal"])
    canvas.setFont(FONT, 11)
    canvas.drawString((LEFT + 4) * MM, _y(CODE_TOP + 14), setup.portal_url)
    canvas.setFont(FONT, 10)
    canvas.drawString((LEFT + 4) * MM, _y(CODE_TOP + 23), labels["code"])
    canvas.drawString((LEFT + 4) * MM, _y(CODE_TOP + 33), labels["key"])
    canvas.setFont(FONT, 7.5)
    canvas.drawString((LEFT + 4) * MM, _y(CODE_TOP + 39), labels["key_warning"])


@lru_cache(maxsize=8)
def _value_x(language: str) -> float:
    """Where the code and key start: 30 mm in, or clear of the longer label (10 pt)."""
    labels = LABELS[language]
    widest = max(_advance_width(labels["code"], 10), _advance_width(labels["key"], 10)) / MM
    return max(LEFT + 30, LEFT + 4 + widest + 5) * MM


def _draw_code_box(canvas: Any, page: _Page, setup: NoticeSetup, code: str, language: str) -> None:
    x = _value_x(language)
    page.put(x, _y(CODE_TOP + 23.5), codes.group(code), 17)
    page.put(x, _y(CODE_TOP + 33.5), codes.login_key(code), 17)
    modules, pixels = qr_modules(qr_url(setup, code))
    side = 30 * MM
    x0, y0 = (RIGHT - 4) * MM - side, _y(CODE_TOP + 36)
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


INDENT = "\t"  # marks a line drawn indented (continuation lines too)


def _person_lines(person: dict[str, Any], language: str) -> list[str]:
    labels = LABELS[language]
    name = (
        labels["person"].format(name=person["name"])
        if person["name"]
        else labels["due"].format(due=person["due"])
    )
    items = ("、" if language == "ja" else ", ").join(
        categories.label(code, language) for code in person["items"]
    )
    # One line per person, name and items together (wrapping with a hanging indent): two lines per
    # person sent one letter in fourteen onto a second sheet.
    lines = [f"・{name}{labels['between']}{labels['items']}{items}"]
    lines += [
        INDENT + labels["card"].format(brand=card["brand"] or labels["a_card"], last4=card["last4"])
        for card in person["cards"]
    ]
    return lines


LINE = 9.2 * 1.4  # the people block's font size and line height (points)
ITEM_BREAKS = "、,"  # a person's items break between items


def _pieces(line: str) -> list[tuple[float, str]]:
    """A people-block line wrapped: (left in mm, text) per printed line. INDENT lines are indented as a
    whole; others hang, their continuation lines indented under the first."""
    if line.startswith(INDENT):
        return [(LEFT + 4, part) for part in wrap(line[len(INDENT) :], RIGHT - LEFT - 4, 9.2)]
    first, *rest = wrap(line, RIGHT - LEFT, 9.2, after=ITEM_BREAKS)
    pieces = [(float(LEFT), first)]
    if rest:
        remainder = line[len(first) :].lstrip()
        pieces += [(LEFT + 4, part) for part in wrap(remainder, RIGHT - LEFT - 4, 9.2, after=ITEM_BREAKS)]
    return pieces


def _put_pieces(page: _Page, pieces: list[tuple[float, str]], y: float) -> float:
    for left, text in pieces:
        y -= LINE
        page.put(left * MM, y, text, 9.2)
    return y


def _language(notice: Notice) -> str:
    return notice.language if notice.language in LABELS else "ja"


def people_lines(notice: Notice) -> list[str]:
    """The letter's own block: each person and their items (continuation lines start with INDENT)."""
    language = _language(notice)
    lines = [LABELS[language]["people"]]
    for person in notice.content["people"]:
        lines += _person_lines(person, language)
    if any(person["cards"] for person in notice.content["people"]):
        lines.append(INDENT + LABELS[language]["card_advice"])
    return lines


def _kind(notice: Notice) -> str:
    return "reminder" if notice.reminder_of_id else "notice"


def _form(notice: Notice) -> str:
    """The shared form a letter is drawn on: one per language and kind."""
    return f"{_language(notice)}-{_kind(notice)}"


def _draw_letter(canvas: Any, notice: Notice, setup: NoticeSetup) -> None:
    content = notice.content
    to = content["to"]
    labels = LABELS[_language(notice)]
    canvas.doForm(_form(notice))
    page = _Page(canvas)
    left, top, width, _ = ADDRESS_BOX
    if to["postal_code"]:
        page.put(left * MM, _y(top + 9), f"〒{to['postal_code']}", 11)
    y = page.wrapped(to["address"], left=left, right=left + width, y=_y(top + 10), size=10.5, leading=1.3)
    page.put(left * MM, y - 22, f"{to['name']} 様", 14)
    page.put(left * MM, y - 32, reference(notice), 7)
    lines = people_lines(notice)
    y = _y(PEOPLE_TOP)
    overflow: list[str] = []
    for position, line in enumerate(lines):
        pieces = _pieces(line)
        if y - LINE * (len(pieces) + 1) < _y(PEOPLE_BOTTOM):
            overflow = lines[position:]
            page.wrapped(labels["continued"], left=LEFT, right=RIGHT, y=y, size=9.2, leading=1.4)
            break
        y = _put_pieces(page, pieces, y)
    _draw_code_box(canvas, page, setup, notice.code, _language(notice))
    page.draw()
    canvas.showPage()
    if overflow:  # a household with many people: the rest on a second page
        page = _Page(canvas)
        y = page.wrapped(
            f"{labels['sheet']}　{to['name']} 様　{reference(notice)}",
            left=LEFT,
            right=RIGHT,
            y=_y(20),
            size=9.2,
            leading=1.4,
        )
        for line in overflow:
            y = _put_pieces(page, _pieces(line), y)
        page.draw()
        canvas.showPage()


def letter_text(notice: Notice, setup: NoticeSetup, printed_on: date | None = None) -> str:
    """A letter as text, from the same pieces the page is drawn from (`notices preview --part letter`)."""
    language = _language(notice)
    labels = LABELS[language]
    text = shared(setup, language, reminder=notice.reminder_of_id is not None)
    to = notice.content["to"]
    lines = [long_date(printed_on or timezone.localdate(), language), setup.sender_name, "", "親展"]
    lines += [f"〒{to['postal_code']}"] if to["postal_code"] else []
    lines += [to["address"], f"{to['name']} 様", reference(notice) if notice.pk else "", ""]
    lines += [text.title, "", text.greeting, ""]
    lines += [f"  {line[1:]}" if line.startswith(INDENT) else line for line in people_lines(notice)]
    for heading, body in text.sections:
        lines += ["", heading, body]
    lines += ["", labels["portal"], setup.portal_url]
    lines += [
        f"{labels['code']}  {codes.group(notice.code)}",
        f"{labels['key']}  {codes.login_key(notice.code)}",
    ]
    lines += [labels["key_warning"], "", _footer(setup)]
    return "\n".join(lines) + "\n"


@dataclass
class PrintResult:
    letters: int = 0
    reminders: int = 0  # of the letters
    pages: int = 0
    files: list[Path] = field(default_factory=list)
    manifest: Path | None = None


def print_letters(
    *, incident: Incident, out: Path, actor: str, batch: int = BATCH, printed_on: date | None = None
) -> PrintResult:
    """Write every prepared letter notice into batch PDFs under `out`, with manifest.csv; each letter
    written is marked sent (handed to the printer). A re-run prints only letters not yet printed."""
    from reportlab.pdfgen.canvas import Canvas

    _register_font()
    setup = NoticeSetup.objects.get(incident=incident)
    printed_on = printed_on or timezone.localdate()
    waiting = list(
        Notice.objects.filter(incident=incident, channel=Notice.Channel.LETTER, status=Notice.Status.PREPARED)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    result = PrintResult()
    if not waiting:  # nothing to print: no empty manifest for the vendor to puzzle over
        return result
    private_dir(out)
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    manifest = out / f"manifest-{stamp}.csv"
    with open_private(manifest, newline="") as handle:  # as it goes: it lists what was printed
        rows = csv_writer(handle)
        rows.writerow(["file", "first_page", "pages", "reference", "postal_code", "kind"])
        for number, pks in enumerate(bulk.chunked(waiting, batch), start=1):
            path = out / f"letters-{stamp}-{number:04d}.pdf"
            notices = list(Notice.objects.filter(pk__in=pks).order_by("pk"))
            pdf = io.BytesIO()
            canvas = Canvas(pdf, pagesize=(PAGE_W, PAGE_H), pageCompression=1, initialFontName=FONT)
            canvas.setTitle(f"{incident.name} letters {number}")
            for form in sorted({_form(notice) for notice in notices}):
                language, _, kind = form.partition("-")
                canvas.beginForm(form)
                _draw_static(canvas, setup, printed_on, language, reminder=kind == "reminder")
                canvas.endForm()
            entries = []
            pages_before, reminders_before = result.pages, result.reminders
            for notice in notices:
                first = canvas.getPageNumber()
                _draw_letter(canvas, notice, setup)
                pages = canvas.getPageNumber() - first
                entries.append(
                    [
                        path.name,
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
            with write_private(path, "wb") as written:  # complete on disk before it is marked sent
                written.write(pdf.getvalue())
            rows.writerows(entries)
            handle.flush()
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
                        "file": path.name,
                        "letters": printed,
                        "reminders": result.reminders - reminders_before,
                        "pages": result.pages - pages_before,
                    },
                )
            result.letters += len(notices)
            result.files.append(path)
    result.manifest = manifest
    return result


# Japan Post's return reasons (還付理由), as printed on the returned envelope's label.
RETURN_REASONS = {
    "宛所不明": "addressee_unknown",  # あて所に尋ねあたりません
    "宛所に尋ねあたりません": "addressee_unknown",
    "転居先不明": "moved_no_forwarding",
    "あて名不完全": "incomplete_address",
    "宛名不完全": "incomplete_address",
    "受取拒否": "refused",
    "受取拒絶": "refused",
    "保管期間経過": "unclaimed",
    "その他": "other",
}
RETURN_CODES = frozenset(RETURN_REASONS.values())


class ReturnedFileError(ValueError):
    """A returned-mail file that cannot be read; names the file and line, never values."""


@dataclass
class ReturnedResult:
    rows: int = 0
    returned: int = 0
    already: int = 0


def record_returned(*, incident: Incident, path: Path, actor: str) -> ReturnedResult:
    """Mark letters returned from a CSV with the columns `reference` (printed under the address, e.g.
    L000000123) and `reason` (宛所不明, 転居先不明, 受取拒否, … or the English code). All rows are checked
    before any is applied."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            if not reader.fieldnames or not {"reference", "reason"} <= set(reader.fieldnames):
                raise ReturnedFileError(f"{path.name}, line 1: the columns reference and reason are required")
            wanted: list[tuple[int, str]] = []
            for line, row in enumerate(reader, start=2):
                ref = (row.get("reference") or "").strip().upper()
                reason = (row.get("reason") or "").strip()
                code = RETURN_REASONS.get(reason, reason if reason in RETURN_CODES else "")
                if not (ref.startswith("L") and ref[1:].isdigit()):
                    raise ReturnedFileError(f"{path.name}, line {line}: reference must look like L000000123")
                if not code:
                    raise ReturnedFileError(
                        f"{path.name}, line {line}: unknown reason; "
                        f"one of {', '.join(sorted(RETURN_REASONS))}"
                    )
                wanted.append((int(ref[1:]), code))
    except (OSError, UnicodeDecodeError) as error:
        raise ReturnedFileError(f"{path.name}: cannot be read ({type(error).__name__})") from None
    result = ReturnedResult(rows=len(wanted))
    with transaction.atomic():
        found = Notice.objects.filter(incident=incident, channel=Notice.Channel.LETTER)
        known = set(found.filter(pk__in=[pk for pk, _ in wanted]).values_list("pk", flat=True))
        unknown = [pk for pk, _ in wanted if pk not in known]
        if unknown:
            raise ReturnedFileError(
                f"{path.name}: {len(unknown)} references are not letters of this incident"
            )
        for pk, code in wanted:
            changed = found.filter(pk=pk).exclude(status=Notice.Status.RETURNED)
            if changed.update(status=Notice.Status.RETURNED, last_error=f"returned: {code}"):
                result.returned += 1
            else:
                result.already += 1
        audit.record(
            actor=actor,
            action="notices.returned",
            object_type="incident",
            object_id=incident.pk,
            data={"rows": result.rows, "returned": result.returned, "already": result.already},
        )
    return result
