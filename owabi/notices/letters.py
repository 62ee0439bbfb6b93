"""Print-ready letters: A4 PDFs in batches, for window envelopes, with a manifest for the print vendor.

One page per letter (a second one only for a household with many people). What every letter of the
incident shares (title, what happened, cause, risk, what to do, redress, contact, sender) is drawn once
per batch file as a form and placed on each page; only the address block, the people and their items,
the code, the key and the QR code are drawn per letter. ReportLab embeds the subset of the Japanese
font (IPAexGothic, TrueType; ReportLab cannot embed the CFF outlines of the Noto fonts).

Layout (millimetres from the top left of A4): the address block sits where the window of a 長3 window
envelope falls when the sheet is folded in three (left 20, top 38, 95 x 42), with 〒 and the postal code,
the address, the name and 様, and under it the letter's reference for returned mail. 親展 in red above
it. Check the window position with the print vendor before a run: ADDRESS_BOX is the one place to change.
The QR code opens the portal with the registration code filled in; it never carries the login key.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from owabi.core import audit
from owabi.incidents import categories
from owabi.incidents.models import Incident
from owabi.notices import codes
from owabi.notices.models import Notice, NoticeSetup
from owabi.notices.render import TEXT_KEYS

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
PORTAL_LINE = "専用ページ（24時間）：次のアドレスを入力し、下のコードでお入りください"
CARD_ADVICE = "カードの利用明細をご確認ください。再発行をご希望の場合の手数料は当社が負担します。"
TITLE = "個人情報の流出に関するお詫びとお知らせ"
REMINDER_TITLE = "【再送】個人情報の流出に関するお手続きのお願い"
REMINDER_GREETING = (
    "先日お送りしたお知らせについて、まだお手続きがお済みでないようですので、あらためてお送りします。"
    "すでにお済みの場合は、行き違いをお許しください。登録コードとログインキーは前回と同じです。"
)
KEY_WARNING = "ログインキーは他人に知らせないでください。QRコードには登録コードだけが入っています。"
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


def wrap(text: str, width_mm: float, size: float) -> list[str]:
    """Lines of `text` that fit `width_mm` at `size` points; Japanese breaks anywhere except before
    closing punctuation and small kana (kinsoku), and at existing line breaks."""
    limit = width_mm * MM / size  # in units of the font size: character widths scale with it
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line, width = "", 0.0
        for char in paragraph:
            advance = _advance(char)
            if line and width + advance > limit and char not in _NO_LINE_START:
                lines.append(line)
                line, width = char.lstrip(), (advance if char.strip() else 0.0)
            else:
                line += char
                width += advance
        lines.append(line)
    return lines


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


def _static_lines(setup: NoticeSetup, language: str) -> list[tuple[str, str]]:
    texts = setup.texts.get(language) or setup.texts["ja"]
    headings = {
        "summary": "■ 何が起きたか",
        "cause": "■ 原因",
        "risk": "■ 想定される二次被害",
        "actions": "■ お願いしたいこと",
        "redress": "■ お詫びと補償",
    }
    lines = []
    for key in TEXT_KEYS:
        body = texts[key]
        if key == "redress" and setup.redress_deadline:
            body += f"（お手続きの期限：{_japanese_date(setup.redress_deadline)}）"
        lines.append((headings[key], body))
    lines.append(
        (
            "■ お問い合わせ",
            f"{setup.phone}（{setup.phone_hours}）\n当社から、お電話やメールでカード番号・暗証番号・パスワードを"
            "おたずねしたり、お金を請求したりすることは決してありません。",
        )
    )
    return lines


def _japanese_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


class LetterTooLong(ValueError):
    pass


def _draw_static(
    canvas: Any, setup: NoticeSetup, incident: Incident, printed_on: date, *, reminder: bool = False
) -> None:
    """The part every letter shares: drawn once per file as a form (one for notices, one for reminders)."""
    canvas.setFont(FONT, 9)
    canvas.drawRightString(RIGHT * MM, _y(14), _japanese_date(printed_on))
    canvas.drawRightString(RIGHT * MM, _y(19), setup.sender_name)
    # 親展 in red, boxed, above the address block.
    left, top, _, _ = ADDRESS_BOX
    canvas.setStrokeColorRGB(*RED)
    canvas.setFillColorRGB(*RED)
    canvas.rect(left * MM, _y(top - 1), 16 * MM, 7 * MM, stroke=1, fill=0)
    canvas.setFont(FONT, 12)
    canvas.drawString((left + 2.2) * MM, _y(top - 2.8), "親展")
    canvas.setFillColorRGB(0, 0, 0)
    canvas.setStrokeColorRGB(0, 0, 0)
    canvas.setFont(FONT, 15)
    canvas.drawCentredString(PAGE_W / 2, _y(92), REMINDER_TITLE if reminder else TITLE)
    page = _Page(canvas)
    greeting = (
        f"このたび、{setup.sender_name}がお預かりしていたお客さまの個人情報が外部に流出したことが判明いたしました。"
        "多大なるご迷惑とご心配をおかけしますことを、心より深くお詫び申し上げます。あなたさまに関わる情報は"
        "下記のとおりです。"
    )
    if reminder:
        greeting = REMINDER_GREETING
    if page.wrapped(greeting, left=LEFT, right=RIGHT, y=_y(96), size=9.0, leading=1.45) < _y(PEOPLE_TOP - 1):
        raise LetterTooLong("the sender's name is too long for the letter's greeting: shorten it")
    y = _y(STATIC_TOP)
    for heading, body in _static_lines(setup, "ja"):
        y = page.wrapped(heading, left=LEFT, right=RIGHT, y=y, size=9.2, leading=1.4)
        y = page.wrapped(body, left=LEFT + 3, right=RIGHT, y=y, size=8.6, leading=1.4)
    page.draw()
    if y < _y(STATIC_BOTTOM):
        raise LetterTooLong(
            "the incident's notice texts do not fit on the letter: shorten them (owabi notices setup)"
        )
    canvas.setFont(FONT, 7.5)
    canvas.drawString(LEFT * MM, _y(290), f"{setup.sender_name}　{' '.join(setup.sender_address.split())}")
    _draw_code_box_frame(canvas, setup)


def _draw_code_box_frame(canvas: Any, setup: NoticeSetup) -> None:
    """The code box's frame and labels: the same on every letter, so part of the shared form."""
    canvas.setLineWidth(0.6)
    canvas.rect(LEFT * MM, _y(CODE_TOP + 42), (RIGHT - LEFT) * MM, 42 * MM, stroke=1, fill=0)
    canvas.setFont(FONT, 9.5)
    canvas.drawString((LEFT + 4) * MM, _y(CODE_TOP + 7), PORTAL_LINE)
    canvas.setFont(FONT, 11)
    canvas.drawString((LEFT + 4) * MM, _y(CODE_TOP + 14), setup.portal_url)
    canvas.setFont(FONT, 10)
    canvas.drawString((LEFT + 4) * MM, _y(CODE_TOP + 23), "登録コード")
    canvas.drawString((LEFT + 4) * MM, _y(CODE_TOP + 33), "ログインキー")
    canvas.setFont(FONT, 7.5)
    canvas.drawString((LEFT + 4) * MM, _y(CODE_TOP + 39), KEY_WARNING)


def _draw_code_box(canvas: Any, page: _Page, setup: NoticeSetup, code: str) -> None:
    page.put((LEFT + 30) * MM, _y(CODE_TOP + 23.5), codes.group(code), 17)
    page.put((LEFT + 30) * MM, _y(CODE_TOP + 33.5), codes.login_key(code), 17)
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


def _person_lines(person: dict[str, Any]) -> list[str]:
    name = f"{person['name']} 様" if person["name"] else f"出産予定日 {person['due']} のお子さま"
    lines = [f"・{name}", INDENT + "項目：" + "、".join(categories.label(code) for code in person["items"])]
    lines += [
        INDENT + f"クレジットカード：{card['brand'] or 'カード'} 下4桁 {card['last4']}"
        for card in person["cards"]
    ]
    return lines


def _draw_letter(canvas: Any, notice: Notice, setup: NoticeSetup, form: str) -> None:
    content = notice.content
    to = content["to"]
    canvas.doForm(form)
    page = _Page(canvas)
    left, top, width, _ = ADDRESS_BOX
    if to["postal_code"]:
        page.put(left * MM, _y(top + 9), f"〒{to['postal_code']}", 11)
    y = page.wrapped(to["address"], left=left, right=left + width, y=_y(top + 10), size=10.5, leading=1.3)
    page.put(left * MM, y - 22, f"{to['name']} 様", 14)
    page.put(left * MM, y - 32, reference(notice), 7)
    # People and items.
    lines = ["■ 流出した方と項目"]
    for person in content["people"]:
        lines += _person_lines(person)
    if any(person["cards"] for person in content["people"]):
        lines.append(INDENT + CARD_ADVICE)
    y = _y(PEOPLE_TOP)
    overflow: list[str] = []
    for position, line in enumerate(lines):
        indent = LEFT + 4 if line.startswith(INDENT) else LEFT
        if y - 9.2 * 1.4 * (len(wrap(line.lstrip(INDENT), RIGHT - indent, 9.2)) + 1) < _y(PEOPLE_BOTTOM):
            overflow = lines[position:]
            page.wrapped("（別紙に続きます）", left=LEFT, right=RIGHT, y=y, size=9.2, leading=1.4)
            break
        y = page.wrapped(line.lstrip(INDENT), left=indent, right=RIGHT, y=y, size=9.2, leading=1.4)
    _draw_code_box(canvas, page, setup, notice.code)
    page.draw()
    canvas.showPage()
    if overflow:  # a household with many people: the rest on a second page
        page = _Page(canvas)
        y = page.wrapped(
            f"別紙　{to['name']} 様　{reference(notice)}",
            left=LEFT,
            right=RIGHT,
            y=_y(20),
            size=9.2,
            leading=1.4,
        )
        for line in overflow:
            indent = LEFT + 4 if line.startswith(INDENT) else LEFT
            y = page.wrapped(line.lstrip(INDENT), left=indent, right=RIGHT, y=y, size=9.2, leading=1.4)
        page.draw()
        canvas.showPage()


@dataclass
class PrintResult:
    letters: int = 0
    reminders: int = 0  # of the letters
    pages: int = 0
    files: list[Path] = field(default_factory=list)
    manifest: Path | None = None


def _batches(items: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


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
    out.mkdir(parents=True, exist_ok=True)
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    result = PrintResult()
    manifest = out / f"manifest-{stamp}.csv"
    with manifest.open("w", encoding="utf-8", newline="") as handle:
        rows = csv.writer(handle)
        rows.writerow(["file", "first_page", "pages", "reference", "postal_code", "kind"])
        for number, pks in enumerate(_batches(waiting, batch), start=1):
            path = out / f"letters-{stamp}-{number:04d}.pdf"
            notices = list(Notice.objects.filter(pk__in=pks).order_by("pk"))
            canvas = Canvas(str(path), pagesize=(PAGE_W, PAGE_H), pageCompression=1, initialFontName=FONT)
            canvas.setTitle(f"{incident.name} letters {number}")
            for form, reminder in (("notice", False), ("reminder", True)):
                if any((n.reminder_of_id is not None) == reminder for n in notices):
                    canvas.beginForm(form)
                    _draw_static(canvas, setup, incident, printed_on, reminder=reminder)
                    canvas.endForm()
            entries = []
            for notice in notices:
                first = canvas.getPageNumber()
                _draw_letter(canvas, notice, setup, "reminder" if notice.reminder_of_id else "notice")
                pages = canvas.getPageNumber() - first
                kind = "reminder" if notice.reminder_of_id else "notice"
                entries.append(
                    [path.name, first, pages, reference(notice), notice.content["to"]["postal_code"], kind]
                )
                result.pages += pages
                result.reminders += notice.reminder_of_id is not None
            canvas.save()
            with path.open("rb") as written:
                os.fsync(written.fileno())
            rows.writerows(entries)
            handle.flush()
            with transaction.atomic():
                Notice.objects.filter(pk__in=pks, status=Notice.Status.PREPARED).update(
                    status=Notice.Status.SENT, sent_at=timezone.now()
                )
            result.letters += len(notices)
            result.files.append(path)
    result.manifest = manifest
    audit.record(
        actor=actor,
        action="notices.print",
        object_type="incident",
        object_id=incident.pk,
        data={
            "letters": result.letters,
            "reminders": result.reminders,
            "pages": result.pages,
            "files": len(result.files),
        },
    )
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
