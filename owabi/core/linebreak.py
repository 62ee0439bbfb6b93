"""Line breaking for printed letters: the Japanese font, character widths, and where a line may break.

Japanese has no spaces, so a plain breaker cuts anywhere: 「おそれが|あります」 is fine for a machine and
hard for a 70-year-old, and an address cut as 「札幌市中央区北|一条西」 is wrong. Prose breaks between
phrases as BudouX (Google's phrase segmenter, a small model shipped in its wheel) finds them; addresses
break first at spaces and after a prefecture, city, ward or county, then between BudouX phrases. Where a
phrase is longer than the line, the line breaks between characters, never before closing punctuation or
a small kana (kinsoku). Latin words move whole to the next line.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from django.conf import settings

FONT = "IPAexGothic"
FONT_PATHS = (
    "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf",  # Debian: fonts-ipaexfont-gothic
    "/usr/share/fonts/truetype/ipaexfont-gothic/ipaexg.ttf",
)
MM = 72 / 25.4
NO_LINE_START = frozenset(
    "、。，．・：；？！ー）」』】〕〉》”’ぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ々"
)
# A break found this far into a line or later is taken; an earlier one would leave a line mostly empty.
MIN_FILL = 0.55
_PREFECTURE_END = frozenset("都道府県")
_MUNICIPALITY_END = frozenset("市区郡町村")


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


def register_font() -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(FONT, font_path()))


@lru_cache(maxsize=8192)
def advance(char: str) -> float:
    """The width of `char` at 1 point."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    return float(stringWidth(char, FONT, 1))


def width(text: str, size: float) -> float:
    """The width of `text` at `size` points, in points."""
    return sum(advance(char) for char in text) * size


@lru_cache(maxsize=1)
def _parser():  # type: ignore[no-untyped-def]
    import budoux

    return budoux.load_default_japanese_parser()


@lru_cache(maxsize=4096)
def phrase_breaks(paragraph: str) -> frozenset[int]:
    """Positions in `paragraph` between BudouX phrases, and after each space (cached: the shared texts
    and many addresses repeat)."""
    positions: set[int] = set()
    at = 0
    for phrase in _parser().parse(paragraph)[:-1]:
        at += len(phrase)
        positions.add(at)
    positions.update(index + 1 for index, char in enumerate(paragraph) if char.isspace())
    return frozenset(positions)


@lru_cache(maxsize=4096)
def address_breaks(paragraph: str) -> frozenset[int]:
    """Where an address may break best: after a space, the prefecture (at most 4 characters in: 神奈川県)
    and a city, ward, county, town or village name of two characters or more (市川市 is not cut after
    its first 市); BudouX's phrases come second (`wrap` prefers these)."""
    positions = {index + 1 for index, char in enumerate(paragraph) if char.isspace()}
    start = 0
    for index, char in enumerate(paragraph):
        if char.isspace():
            start = index + 1
        elif (char in _PREFECTURE_END and index <= 3 and start == 0) or (
            char in _MUNICIPALITY_END
            and index - start >= 2
            and index + 1 < len(paragraph)
            and paragraph[index + 1] not in _MUNICIPALITY_END
            and not paragraph[index + 1].isspace()
        ):
            positions.add(index + 1)
            start = index + 1
    return frozenset(positions)


def wrap(
    text: str, width_mm: float, size: float, *, after: str = "", phrases: bool = True, address: bool = False
) -> list[str]:
    """Lines of `text` that fit `width_mm` at `size` points, breaking at its line breaks and then, in
    order of preference: after one of `after` (a list's separators, "、"), at an address's own breaks
    (`address`), between phrases (`phrases`: BudouX), before a Latin word, between characters
    (kinsoku: never before closing punctuation or a small kana)."""
    limit = width_mm * MM / size  # in units of the font size: character widths scale with it
    lines: list[str] = []
    for paragraph in text.split("\n"):
        preferred = address_breaks(paragraph) if address else frozenset()
        good = phrase_breaks(paragraph) if phrases and not paragraph.isascii() else frozenset()
        begin, line_width = 0, 0.0  # where the current line starts in `paragraph`, and its width
        index = 0
        while index < len(paragraph):
            char = paragraph[index]
            step = advance(char)
            if index > begin and line_width + step > limit and char not in NO_LINE_START:
                cut = _cut(paragraph, begin, index, after, preferred, good)
                lines.append(paragraph[begin:cut].rstrip())
                while cut < len(paragraph) and paragraph[cut] == " ":
                    cut += 1
                begin, line_width = cut, sum(advance(c) for c in paragraph[cut:index])
                continue
            line_width += step
            index += 1
        lines.append(paragraph[begin:])
    return lines


def _cut(
    paragraph: str, begin: int, end: int, after: str, preferred: frozenset[int], good: frozenset[int]
) -> int:
    """Where a line from `begin` that cannot take the character at `end` breaks."""
    floor = begin + max(1, int((end - begin) * MIN_FILL))
    if after:
        separator = max(paragraph.rfind(mark, begin, end) for mark in after)
        if separator >= begin:
            return separator + 1
    for breaks in (preferred, good):
        fitting = [position for position in breaks if floor <= position <= end]
        if fitting:
            return max(fitting)
    if _in_word(paragraph[end]) and _in_word(paragraph[end - 1]):
        space = paragraph.rfind(" ", begin, end)
        if space > begin:
            return space + 1
    return end


def _in_word(char: str) -> bool:
    return char.isascii() and not char.isspace()
