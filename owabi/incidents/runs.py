"""One run at a time of the stages that rewrite an incident's people: resolve (subjects and recipients)
and `notices prepare` (a notice per recipient); and of `notices print`. Two resolves at once would each
renumber the same subjects; a prepare during a resolve would read recipients half replaced; two
prepares would build the same windows twice; two prints would each put every waiting letter in a PDF.
The second run is refused at once, in one line, and the first goes on undisturbed; a run that crashed
holds nothing (owabi.core.locks), so the next one starts or resumes straight away.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager

from owabi.core.locks import Busy, exclusive
from owabi.incidents.models import Incident


class IncidentBusy(Exception):
    """Another run that excludes this one is running for the incident."""


@contextmanager
def _alone(incident: Incident, lock: str, refusal: str) -> Iterator[None]:
    with ExitStack() as held:
        try:
            held.enter_context(exclusive(f"incident:{incident.pk}:{lock}"))
        except Busy:
            raise IncidentBusy(f"incident {incident.slug}: {refusal}") from None
        yield


def changing_people(incident: Incident, stage: str) -> AbstractContextManager[None]:
    """Hold the incident while `stage` (what the user ran, for the message) rewrites its people."""
    return _alone(
        incident,
        "people",
        f"a resolve or notices prepare of it is running in another process; run {stage} again when that "
        "has ended",
    )


def printing_letters(incident: Incident) -> AbstractContextManager[None]:
    """Hold the incident's letters while they are printed: two runs at once would each write every
    waiting letter into PDFs of their own, and a vendor given both would post them twice."""
    return _alone(
        incident,
        "print",
        "its letters are being printed by another process; run notices print again when that has ended "
        "(it then prints only what is left)",
    )
