"""Development's outbox: Django's file e-mail backend, with each file private (0600 in a 0700 folder).

Django's backend opens its files with the process umask (0644 as a rule), and every message in them
is a notice holding a person's name and what of theirs leaked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.mail.backends.filebased import EmailBackend as FileBackend

from owabi.core.files import open_private, private_dir


class EmailBackend(FileBackend):
    def __init__(self, *args: Any, file_path: str | Path | None = None, **kwargs: Any) -> None:
        private_dir(Path(file_path or settings.EMAIL_FILE_PATH).absolute())
        super().__init__(*args, file_path=file_path, **kwargs)

    def open(self) -> bool:
        if self.stream is None:
            # Appended message by message, as Django's backend does: the file holds what was sent.
            self.stream = open_private(Path(self._get_filename()), "ab")
            return True
        return False
