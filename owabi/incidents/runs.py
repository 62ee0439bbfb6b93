"""One run at a time of the stages that rewrite an incident's people: resolve (subjects and recipients)
and `notices prepare` (a notice per recipient). Two resolves at once would each renumber the same
subjects; a prepare during a resolve would read recipients half replaced; two prepares would build the
same windows twice. The second run is refused at once, in one line, and the first goes on undisturbed;
a run that crashed holds nothing (owabi.core.locks), so the next one starts or resumes straight away.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from owabi.core.locks import Busy, exclusive
from owabi.incidents.models import Incident


class IncidentBusy(Exception):
    """Another resolve or `notices prepare` of the incident is running."""


@contextmanager
def changing_people(incident: Incident, stage: str) -> Iterator[None]:
    """Hold the incident while `stage` (what the user ran, for the message) rewrites its people."""
    with ExitStack() as held:
        try:
            held.enter_context(exclusive(f"incident:{incident.pk}:people"))
        except Busy:
            raise IncidentBusy(
                f"incident {incident.slug}: a resolve or notices prepare of it is running in another "
                f"process; run {stage} again when that has ended"
            ) from None
        yield
