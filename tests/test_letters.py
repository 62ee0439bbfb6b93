"""Letters: batch PDFs read back page by page: each recipient's own name, address, people, items, card,
code and key, and nothing of anyone else; every font embedded; a manifest for the print vendor."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest
from django.core.management import call_command
from pypdf import PdfReader

from owabi.core import linebreak
from owabi.notices import codes, letters, returned, setup
from owabi.notices.models import Notice
from owabi.notices.services import prepare
from owabi.records.resolve import resolve
from owabi.records.services import import_file
from tests.conftest import OWABI, REPO

pytestmark = pytest.mark.django_db
EXAMPLE = REPO / "docs" / "notice-setup.example.toml"
SOURCES = {"ja": {"mail_order": "通信販売"}, "en": {"mail_order": "Mail order"}}
AS_OF = date(2026, 12, 1)
HEADER = (
    "record_id,subject_name,subject_birth_date,guardian_name,postal_code,address,phone,"
    "card_brand,card_last4\n"
)
ROWS = (
    "K1,中村 結衣,2015-07-07,中村 由美,166-0004,東京都杉並区阿佐谷南1-2-3,03-3333-4444,,\n"
    "K2,中村 蓮,2017-01-09,中村 由美,166-0004,東京都杉並区阿佐谷南1-2-3,03-3333-4444,,\n"
    "A1,小林 誠,1975-03-03,,590-0001,大阪府堺市堺区1-1 サンハイツ101,072-222-3333,VISA,4242\n"
)


def _pages(paths: list[Path]) -> list[str]:
    return [page.extract_text() for path in paths for page in PdfReader(path).pages]


def _letters(result) -> dict[str, list[str]]:
    """Each printed letter's pages (text), by its reference, as the manifest places them."""
    with result.manifest.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    readers = {path.name: PdfReader(path) for path in result.files}
    return {
        row["reference"]: [
            readers[row["file"]].pages[int(row["first_page"]) - 1 + index].extract_text()
            for index in range(int(row["pages"]))
        ]
        for row in rows
    }


def _setup(**changes) -> dict:
    return {**setup.load(EXAMPLE), "policy": "letter", "sources": SOURCES, **changes}


@pytest.fixture
def ready(incident, tmp_path: Path):
    path = tmp_path / "rows.csv"
    path.write_text(HEADER + ROWS, encoding="utf-8")
    import_file(incident=incident, path=path, source="mail_order", actor="t")
    resolve(incident=incident, actor="t", as_of=AS_OF)
    setup.apply(incident=incident, data=_setup(), actor="t")
    prepare(incident=incident, actor="t")
    return incident


def test_each_page_carries_its_own_recipient_and_nothing_of_another(ready, tmp_path: Path) -> None:
    result = letters.print_letters(incident=ready, out=tmp_path / "out", actor="t", batch=1)
    assert (result.letters, result.pages, len(result.files)) == (2, 4, 2)  # two pages, one sheet each
    notices = {n.content["to"]["name"]: n for n in Notice.objects.filter(channel="letter")}
    printed = _letters(result)
    adult = "\n".join(printed[letters.reference(notices["小林 誠"])])
    guardian = "\n".join(printed[letters.reference(notices["中村 由美"])])
    assert "親展" in adult and "〒590-0001" in adult and "大阪府堺市堺区1-1" in adult
    assert "VISA 下4桁 4242" in adult and "再発行" in adult
    assert codes.group(notices["小林 誠"].code) in adult and codes.login_key(notices["小林 誠"].code) in adult
    assert letters.reference(notices["小林 誠"]) in adult
    assert "中村" not in adult and codes.login_key(notices["中村 由美"].code) not in adult
    assert "中村 結衣 様" in guardian and "中村 蓮 様" in guardian and "〒166-0004" in guardian
    assert "小林" not in guardian and "4242" not in guardian
    flat = adult.replace("\n", "")  # the shared part, drawn once per file as a form, wraps lines
    assert "お金を請求したりすることは決してありません" in flat and "2027年3月31日" in flat
    assert all(n.status == "sent" and n.sent_at for n in Notice.objects.filter(channel="letter"))

    with result.manifest.open(encoding="utf-8") as handle:  # type: ignore[union-attr]
        rows = list(csv.DictReader(handle))
    assert [(r["reference"], r["pages"], r["postal_code"]) for r in rows] == [
        (letters.reference(n), "2", n.content["to"]["postal_code"])
        for n in sorted(notices.values(), key=lambda n: n.pk)
    ]

    again = letters.print_letters(incident=ready, out=tmp_path / "out", actor="t")
    assert (again.letters, again.files) == (0, [])  # nothing printed twice


def test_every_font_is_embedded_and_subset(ready, tmp_path: Path) -> None:
    result = letters.print_letters(incident=ready, out=tmp_path, actor="t")
    reader = PdfReader(result.files[0])
    fonts = {}
    for page in reader.pages:
        resources = page["/Resources"]
        for form in resources.get("/XObject", {}).values():
            fonts.update(form.get_object()["/Resources"].get("/Font", {}))
        fonts.update(resources.get("/Font", {}))
    assert fonts
    for font in fonts.values():
        font = font.get_object()
        descriptor = font.get("/FontDescriptor")
        descriptor = descriptor or font["/DescendantFonts"][0].get_object()["/FontDescriptor"]
        descriptor = descriptor.get_object()
        assert "/FontFile2" in descriptor, font["/BaseFont"]  # embedded TrueType
        assert str(font["/BaseFont"]).split("+")[0].isupper()  # subset prefix (AAAAAA+)


def test_the_printed_qr_code_scans_to_the_portal_with_the_code_and_never_the_key(
    ready, tmp_path: Path
) -> None:
    import pypdfium2
    import zxingcpp

    result = letters.print_letters(incident=ready, out=tmp_path, actor="t")
    by_reference = {letters.reference(n): n for n in Notice.objects.filter(channel="letter")}
    document = pypdfium2.PdfDocument(str(result.files[0]))
    with result.manifest.open(encoding="utf-8") as handle:
        first_pages = [int(row["first_page"]) - 1 for row in csv.DictReader(handle)]
    for index in first_pages:  # the code box is on each letter's first page
        page = document[index]
        image = page.render(scale=200 / 72).to_pil()  # 200 dpi, as a scanner or a phone camera sees it
        text = page.get_textpage().get_text_range()
        notice = next(n for ref, n in by_reference.items() if ref in text)
        found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
        assert [barcode.text for barcode in found] == [
            letters.qr_url(notice.incident.notice_setup, notice.code)
        ]
        assert found[0].text.endswith(f"?code={codes.group(notice.code)}")
        assert codes.login_key(notice.code) not in found[0].text


def test_a_large_household_continues_on_a_second_page(incident, tmp_path: Path) -> None:
    rows = "".join(
        f"C{i},山田 子{i},20{10 + i % 8:02d}-0{1 + i % 9}-1{i % 9},山田 花子,100-0001,"
        "東京都千代田区千代田1-1,03-1111-2222,,\n"
        for i in range(14)
    )
    (tmp_path / "big.csv").write_text(HEADER + rows, encoding="utf-8")
    import_file(incident=incident, path=tmp_path / "big.csv", actor="t")
    resolve(incident=incident, actor="t", as_of=AS_OF)
    setup.apply(incident=incident, data={**_setup(), "sources": {"ja": {"big": "会員サービス"}}}, actor="t")
    prepare(incident=incident, actor="t")
    result = letters.print_letters(incident=incident, out=tmp_path / "out", actor="t")
    [pages] = _letters(result).values()
    assert result.pages == len(pages) == 3
    assert "■ 流出した方と項目（続き）" in pages[1]
    everyone = "".join(pages)
    assert all(everyone.count(f"山田 子{i} 様") == 1 for i in range(14))
    for page in pages:  # each child's lines stay on one page
        for i in range(14):
            if f"山田 子{i} 様" in page:
                after = page.split(f"山田 子{i} 様", 1)[1]
                assert "項目：" in after.split("・", 1)[0]


def test_texts_too_long_for_the_page_are_refused_clearly(ready, tmp_path: Path) -> None:
    long = _setup()
    long["texts"] = {"ja": {**long["texts"]["ja"], "summary": "長い説明。" * 3000}}
    setup.apply(incident=ready, data=long, actor="t")
    with pytest.raises(letters.LetterTooLong, match="more than 4 pages of a letter: shorten them"):
        letters.print_letters(incident=ready, out=tmp_path, actor="t")
    assert Notice.objects.filter(channel="letter", status="prepared").count() == 2  # nothing marked
    greeting = "{{ setup.sender_name }}" + "長いごあいさつ。" * 200 + "\n\n■ x\ny\n"
    setup.apply(incident=ready, data=_setup(templates={"ja/letter.txt": "題\n\n" + greeting}), actor="t")
    with pytest.raises(letters.LetterTooLong, match="greeting is too long"):
        letters.print_letters(incident=ready, out=tmp_path, actor="t")


def test_the_print_command_reports_what_it_wrote(ready, tmp_path: Path, capsys) -> None:
    call_command("notices", "print", "--incident", ready.slug, "--out", str(tmp_path / "p"))
    out = capsys.readouterr().out
    assert "2 letters (0 of them reminders), 4 pages in 1 PDF files" in out and "manifest" in out


def test_returned_letters_are_recorded_by_reference_and_reason(ready, tmp_path: Path, capsys) -> None:
    letters.print_letters(incident=ready, out=tmp_path / "out", actor="t")
    first, second = Notice.objects.filter(channel="letter").order_by("pk")
    returned = tmp_path / "returned.csv"
    returned.write_text(
        f"reference,reason\n{letters.reference(first)},宛所不明\n{letters.reference(second).lower()},refused\n",
        encoding="utf-8",
    )
    call_command("notices", "returned", "--incident", ready.slug, str(returned))
    assert "2 recorded, 0 already recorded" in capsys.readouterr().out
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.last_error) == ("returned", "returned: addressee_unknown")
    assert (second.status, second.last_error) == ("returned", "returned: refused")
    call_command("notices", "returned", "--incident", ready.slug, str(returned))
    assert "0 recorded, 2 already recorded" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("code,why\nL1,宛所不明\n", "line 1: the columns reference and reason"),
        ("reference,reason\nX12,宛所不明\n", "line 2: reference must look like L000000123"),
        ("reference,reason\nL1,行方不明\n", "line 2: unknown reason"),
        ("reference,reason\nL999999999,宛所不明\n", "1 references are not letters of this incident"),
    ],
)
def test_a_bad_returned_file_changes_nothing_and_says_where(
    ready, tmp_path: Path, text: str, message: str
) -> None:
    letters.print_letters(incident=ready, out=tmp_path / "out", actor="t")
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(returned.ReturnedFileError, match=message):
        returned.record_returned(incident=ready, path=path, actor="t")
    assert not Notice.objects.filter(status="returned").exists()


def test_the_printed_letter_and_its_preview_come_from_one_template(ready, tmp_path: Path) -> None:
    custom = _setup()
    custom["templates"] = {
        # No blank lines: the title is the first line, the greeting runs to the first ■.
        "ja/letter.txt": "\n".join(
            [
                "大切なお知らせ",
                "{{ setup.sender_name }}からの",
                "お詫びです。",
                "■ ご案内",
                "{{ texts.summary }}",
            ]
        )
    }
    the_setup = setup.apply(incident=ready, data=custom, actor="t")
    adult = Notice.objects.get(pk=_pk(ready))
    preview = letters.letter_text(adult, the_setup)
    result = letters.print_letters(incident=ready, out=tmp_path, actor="t", batch=5)
    page = "\n".join(_letters(result)[letters.reference(adult)])
    for text in (preview, page):
        assert (
            "大切なお知らせ" in text
            and "株式会社サンプル旅行からのお詫びです。" in text
            and "■ ご案内" in text
        )
        assert "■ 原因" not in text  # the built-in sections are gone from both


def _pk(incident) -> int:
    return min(Notice.objects.filter(incident=incident, channel="letter").values_list("pk", flat=True))


def test_an_english_notice_prints_an_english_letter(ready, tmp_path: Path) -> None:
    Notice.objects.filter(channel="letter").update(language="en")
    result = letters.print_letters(incident=ready, out=tmp_path, actor="t")
    adult = next("\n".join(pages) for pages in _letters(result).values() if "小林 誠" in pages[0])
    assert "Our apology and notice about a leak of your personal data" in adult
    words = " ".join(adult.split())  # English wraps at spaces
    assert (
        "Visa ending in 4242" in words
        and "Registration code" in words
        and "(Deadline: 31 March 2027)" in words
    )
    assert "tro uble" not in words and "unauthor isation" not in words
    assert "親展" in adult  # for the post office and the household, as every letter here


def test_a_letter_template_that_names_a_recipient_is_refused_at_setup(ready) -> None:
    custom = _setup(templates={"ja/letter.txt": "{{ to.name }} 様\n\n■ x\ny\n"})
    with pytest.raises(setup.SetupError, match=r"'ja/letter\.txt': UndefinedError"):
        setup.apply(incident=ready, data=custom, actor="t")


def test_lines_break_between_list_items_and_between_english_words() -> None:
    linebreak.register_font()
    items = "項目：" + "、".join(["クレジットカード番号", "セキュリティコード", "電話番号"] * 6)
    lines = linebreak.wrap(items, 120, 10.5, after="、")
    assert len(lines) > 2 and all(line.endswith("、") for line in lines[:-1])
    assert "".join(lines) == items
    words = linebreak.wrap("apology " * 40, 60, 10.5)
    assert len(words) > 3 and all(set(line.split()) == {"apology"} for line in words)


def _window_text(page) -> list[str]:  # type: ignore[no-untyped-def]
    """The lines of text seen through the envelope's window on a rendered page 1, top to bottom, each
    read left to right. A character cut by the window's edge fails the test."""
    left, top, box_width, box_height = letters.ENVELOPE.window
    height = page.get_height()
    x0, x1 = left * letters.MM, (left + box_width) * letters.MM
    y1, y0 = height - top * letters.MM, height - (top + box_height) * letters.MM
    textpage = page.get_textpage()
    rows: list[tuple[float, list[tuple[float, str]]]] = []
    for index, char in enumerate(textpage.get_text_range()):
        if not char.strip():
            continue
        start, b, r, t = textpage.get_charbox(index)
        inside = x0 <= start and r <= x1 and y0 <= b and t <= y1
        overlaps = start < x1 and r > x0 and b < y1 and t > y0
        assert inside or not overlaps, f"{char!r} is cut by the window's edge"
        if inside:
            middle = (b + t) / 2
            row = next((row for row in rows if abs(row[0] - middle) < 4), None)
            if row is None:
                rows.append((middle, [(start, char)]))
            else:
                row[1].append((start, char))
    return ["".join(char for _, char in sorted(chars)) for _, chars in sorted(rows, key=lambda row: -row[0])]


def _sizes(page) -> list[tuple[str, float]]:  # type: ignore[no-untyped-def]
    import pypdfium2

    textpage = page.get_textpage()
    return [
        (char, pypdfium2.raw.FPDFText_GetFontSize(textpage.raw, index))
        for index, char in enumerate(textpage.get_text_range())
        if char.strip()
    ]


def test_the_window_shows_shinten_and_the_address_and_nothing_else_and_text_is_large(
    ready, tmp_path: Path
) -> None:
    import pypdfium2

    # 長3 with the common window: 90 x 45 mm, 23 mm from the left and 13 mm from the top.
    assert letters.ENVELOPE.window == (23, 13, 90, 45) and "長3" in letters.ENVELOPE.name
    result = letters.print_letters(incident=ready, out=tmp_path, actor="t")
    document = pypdfium2.PdfDocument(str(result.files[0]))
    with result.manifest.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    notices = {letters.reference(n): n for n in Notice.objects.filter(channel="letter")}
    for row in rows:
        notice = notices[row["reference"]]
        to = notice.content["to"]
        seen = _window_text(document[int(row["first_page"]) - 1])
        assert seen[0] == f"〒{to['postal_code']}親展"
        assert "".join(seen[1:-2]) == to["address"].replace(" ", "")
        assert seen[-2:] == [f"{to['name']}様".replace(" ", ""), row["reference"]]
        for index in range(int(row["pages"])):
            page = document[int(row["first_page"]) - 1 + index]
            small = {char for char, size in _sizes(page) if size < 10.5}
            assert small <= set(row["reference"]), small  # only the reference for returned mail is smaller


def test_a_long_address_breaks_between_its_parts_never_inside_a_name(incident, tmp_path: Path) -> None:
    import pypdfium2

    address = "北海道札幌市中央区北一条西二丁目1番地 札幌グランドマンション1203号室"
    (tmp_path / "far.csv").write_text(
        HEADER + f"A1,佐々木 健一,1948-11-20,,060-0001,{address},011-222-3333,,\n", encoding="utf-8"
    )
    import_file(incident=incident, path=tmp_path / "far.csv", source="mail_order", actor="t")
    resolve(incident=incident, actor="t", as_of=AS_OF)
    setup.apply(incident=incident, data=_setup(), actor="t")
    prepare(incident=incident, actor="t")
    result = letters.print_letters(incident=incident, out=tmp_path / "out", actor="t")
    lines = _window_text(pypdfium2.PdfDocument(str(result.files[0]))[0])
    printed = lines[1:-2]  # under 〒 and 親展, above the name and the reference
    assert "".join(printed) == address.replace(" ", "") and len(printed) >= 2
    ends = {"北海道", "札幌市", "中央区", "1番地"}  # an administrative part, or the space before the building
    assert all(any(line.endswith(end) for end in ends) for line in printed[:-1]), printed


def test_a_second_sheet_never_holds_just_a_line_or_two(incident, tmp_path: Path) -> None:
    surnames = ["佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村"]
    surnames += ["小林", "加藤", "吉田", "山田", "佐々木", "山口", "松本", "井上"]
    rows = "".join(
        f"H{size}C{i},{surnames[size - 1]} 子{i},20{10 + i % 8:02d}-0{1 + i % 9}-1{i % 9},"
        f"{surnames[size - 1]} 花子,100-{size:04d},東京都千代田区千代田{size}-1,03-1111-{size:04d},,\n"
        for size in range(1, 17)
        for i in range(size)
    )
    (tmp_path / "families.csv").write_text(HEADER + rows, encoding="utf-8")
    import_file(incident=incident, path=tmp_path / "families.csv", source="mail_order", actor="t")
    resolve(incident=incident, actor="t", as_of=AS_OF)
    setup.apply(incident=incident, data=_setup(), actor="t")
    prepare(incident=incident, actor="t")
    result = letters.print_letters(incident=incident, out=tmp_path / "out", actor="t")
    printed = _letters(result)
    assert len(printed) == 16 and any(len(pages) > 2 for pages in printed.values())
    for pages in printed.values():
        assert len(pages) >= 2
        if len(pages) > 2:  # a second sheet: pages 3 and 4
            assert len(pages[-1].splitlines()) >= letters.MIN_SHEET_LINES - 2, pages[-1]


@pytest.mark.django_db(transaction=True)
def test_a_print_while_another_prints_the_letters_is_refused_and_prints_nothing(
    ready, tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    """Two prints at once each wrote every waiting letter into PDFs of their own (the second's marked
    nothing, but its files listed every letter): a vendor given both folders posts each letter twice."""
    import subprocess

    from owabi.incidents.runs import printing_letters

    command = [*OWABI, "notices", "print", "--incident", ready.slug, "--out", str(tmp_path / "second")]
    with printing_letters(ready):  # what a print run holds while it writes
        refused = subprocess.run(command, env=subprocess_env, cwd=REPO, capture_output=True, text=True)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "its letters are being printed by another process" in refused.stderr
    assert not (tmp_path / "second").exists()
    assert not Notice.objects.filter(incident=ready, status=Notice.Status.SENT).exists()
    done = subprocess.run(command, env=subprocess_env, cwd=REPO, capture_output=True, text=True, check=True)
    assert "2 letters (0 of them reminders)" in done.stdout  # let go of: the next run prints
