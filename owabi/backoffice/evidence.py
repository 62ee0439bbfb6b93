"""Claim evidence as reviewers see it: each page re-rendered as a PNG from the sealed upload. The raw
file never leaves the server, so a crafted PDF or image cannot run in a reviewer's browser or viewer;
what the browser gets is pixels we drew."""

from __future__ import annotations

import io

import pypdfium2
from PIL import Image

MAX_SIDE = 1600  # pixels: enough to read a receipt, small enough to send quickly


def render_page(content: bytes, content_type: str, page: int) -> bytes | None:
    """Page `page` (1-based) of an upload as PNG bytes; None when there is no such page."""
    if content_type == "application/pdf":
        try:
            document = pypdfium2.PdfDocument(content)
        except pypdfium2.PdfiumError:
            return None
        try:
            if not 1 <= page <= len(document):
                return None
            pdf_page = document[page - 1]
            width, height = pdf_page.get_size()
            scale = min(MAX_SIDE / max(width, height), 3.0)
            image = pdf_page.render(scale=scale).to_pil()
        finally:
            document.close()
    else:
        if page != 1:
            return None
        with Image.open(io.BytesIO(content)) as source:
            image = source.convert("RGB")
            image.thumbnail((MAX_SIDE, MAX_SIDE))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def page_count(content: bytes, content_type: str) -> int:
    if content_type != "application/pdf":
        return 1
    try:
        document = pypdfium2.PdfDocument(content)
    except pypdfium2.PdfiumError:
        return 0
    try:
        return len(document)
    finally:
        document.close()
