"""Evidence uploads for claims: the type is read from the content, never from the name or the browser's
claim; the size is limited; an image must decode. Files are stored sealed and shown to reviewers only,
re-rendered, never served as uploaded (owabi.redress.services.file_claim)."""

from __future__ import annotations

import io
from dataclasses import dataclass

import filetype
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

MAX_BYTES = 10 * 1024 * 1024
MAX_FILES = 5
MAX_PIXELS = 40_000_000  # a decompression bomb is refused before it is decoded
ALLOWED = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP", "application/pdf": "PDF"}


class UploadError(ValueError):
    """Why an upload is refused, for the person uploading (never echoes the content)."""


@dataclass(frozen=True)
class Upload:
    content: bytes
    content_type: str


def check_upload(content: bytes) -> Upload:
    if not content:
        raise UploadError(_("ファイルが空です"))
    if len(content) > MAX_BYTES:
        raise UploadError(_("ファイルが大きすぎます（10MBまで）"))
    kind = filetype.guess(content)
    content_type = kind.mime if kind else ""
    if content_type not in ALLOWED:
        raise UploadError(_("写真（JPEG・PNG・WebP）かPDFを選んでください"))
    if content_type == "application/pdf":
        if b"%%EOF" not in content[-2048:]:
            raise UploadError(_("PDFファイルが壊れています"))
        return Upload(content, content_type)
    try:
        with Image.open(io.BytesIO(content)) as image:
            image_format, (width, height) = image.format, image.size
            if image_format == ALLOWED[content_type] and width * height <= MAX_PIXELS:
                image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise UploadError(_("画像ファイルが壊れています")) from None
    if image_format != ALLOWED[content_type]:
        raise UploadError(_("画像の形式が正しくありません"))
    if width * height > MAX_PIXELS:
        raise UploadError(_("画像が大きすぎます"))
    return Upload(content, content_type)
