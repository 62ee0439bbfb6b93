"""`owabi report appi`: the draft as PDF (read back with pypdf), Markdown and JSON, the stage's aliases,
and the errors an operator can make."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from pypdf import PdfReader

from owabi.reports import drafts, selectors, services
from tests.portal_support import PortalData

pytestmark = pytest.mark.django_db


def _write(portal_data: PortalData, out: Path, stage: str = "final", *extra: str) -> str:
    from io import StringIO

    stdout = StringIO()
    slug = portal_data.incident.slug  # type: ignore[attr-defined]
    call_command(
        "report", "appi", "--incident", slug, "--stage", stage, "--out", str(out), *extra, stdout=stdout
    )
    return stdout.getvalue()


def test_the_pdf_holds_the_9_items_and_every_figure(portal_data: PortalData, tmp_path: Path) -> None:
    services.save_draft(
        incident=portal_data.incident,  # type: ignore[arg-type]
        stage="final",
        actor="staff:1",
        texts={"prevention": "外部からのアクセスを制限し、カード情報を保持しない構成へ移行した。"},
    )
    out = tmp_path / "kakuho.pdf"
    said = _write(portal_data, out, "kakuho")
    assert "確報" in said and "version 1" in said
    assert out.stat().st_mode & 0o777 == 0o600
    reader = PdfReader(out)
    text = "".join(page.extract_text() for page in reader.pages).replace(" ", "")
    for _, title in drafts.ITEMS:
        assert title in text, title
    assert "個人データの漏えい等の報告（確報）" in text
    assert "カード情報を保持しない構成へ移行した" in text
    draft = selectors.draft(portal_data.incident, "final")  # type: ignore[arg-type]
    for section in draft.sections:
        for line in section.lines:
            assert f"{line.label}\n{line.value:,}\n" in text, line.key
    fonts = {
        str(font.get("/BaseFont"))
        for page in reader.pages
        for font in (page["/Resources"]["/Font"].values())  # type: ignore[index]
    }
    assert any("IPAexGothic" in name for name in fonts)  # embedded, not a viewer's substitute


def test_markdown_and_json(portal_data: PortalData, tmp_path: Path) -> None:
    _write(portal_data, tmp_path / "sokuho.md", "sokuho")
    markdown = (tmp_path / "sokuho.md").read_text(encoding="utf-8")
    assert markdown.startswith("# 個人データの漏えい等の報告（速報）")
    assert "| 本人の数 | 5 |" in markdown and "| クレジットカード番号 | 3 |" in markdown
    assert "知った日を1日目とする: 2026-11-05" in markdown  # 2026-11-01 + 4 days
    _write(portal_data, tmp_path / "final.json", "final")
    data = json.loads((tmp_path / "final.json").read_text(encoding="utf-8"))
    assert data["stage"] == "final" and [item["number"] for item in data["items"]] == list(range(1, 10))
    figures = {f["key"]: f["value"] for item in data["items"] for f in item["figures"]}
    assert figures == selectors.draft(portal_data.incident, "final").values  # type: ignore[arg-type]
    assert data["deadlines"][1]["due"] == {"day1": "2026-11-30", "excluded": "2026-12-01"}


def test_no_value_from_the_records_reaches_an_export(portal_data: PortalData, tmp_path: Path) -> None:
    for name in ("r.md", "r.json", "r.pdf"):
        _write(portal_data, tmp_path / name)
    text = (tmp_path / "r.md").read_text() + (tmp_path / "r.json").read_text()
    text += "".join(page.extract_text() for page in PdfReader(tmp_path / "r.pdf").pages)
    for value in ("小林", "中村", "山本", "4242", "1111", "example.jp", "03-3333"):
        assert value not in text


def test_operator_errors(portal_data: PortalData, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match=r"\.pdf, \.md or \.json"):
        _write(portal_data, tmp_path / "r.docx")
    with pytest.raises(CommandError, match="no saved version 3"):
        _write(portal_data, tmp_path / "r.md", "final", "--version", "3")
    with pytest.raises(CommandError, match="no incident"):
        call_command(
            "report", "appi", "--incident", "nope", "--stage", "final", "--out", str(tmp_path / "x.md")
        )
    with pytest.raises(CommandError):
        _write(portal_data, tmp_path / "r.md", "interim")
