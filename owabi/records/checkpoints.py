"""An import's checkpoints: what it committed before it stopped, and how to go on or start over.

`owabi import` commits every OWABI_IMPORT_CHECKPOINT_ROWS rows, each time with an ImportCheckpoint in
the same transaction (rows read, kept and rejected so far; the rejects and warnings since the one
before). A run stopped any way at all (killed, machine down) leaves its rows up to the last checkpoint
and a SourceFile that is not `finished`; the same file imported again reads the rows already committed
without preparing them and goes on from there (services.import_file), so its records, counts and reports
are those of a run that never stopped. Other bytes under the file's name are refused while the import
is unfinished; `--restart` discards the unfinished import (`discard`) and starts over.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction

from owabi.core import audit
from owabi.core.bulk import chunked
from owabi.incidents.models import Incident
from owabi.records.models import ImportCheckpoint, LeakRecord, SourceFile
from owabi.records.rows import Reject

DISCARD_BATCH = 5000  # records deleted per statement


@dataclass
class Committed:
    """What an unfinished import committed: where it resumes and what it had found so far."""

    rows_read: int = 0
    rows_ok: int = 0
    records: int = 0
    last_line: int = 0
    checkpoints: int = 0
    rejects: list[Reject] = field(default_factory=list)
    warnings: list[Reject] = field(default_factory=list)
    record_ids: set[str] = field(default_factory=set)  # for the duplicate-id check of the rows to come


def committed(source_file: SourceFile) -> Committed:
    """The state of `source_file`'s import at its last checkpoint."""
    done = Committed()
    marks = source_file.checkpoints.order_by("rows_read")
    for mark in marks.iterator(chunk_size=100):
        done.rows_read, done.rows_ok, done.records = mark.rows_read, mark.rows_ok, mark.records
        done.last_line = mark.last_line
        done.checkpoints += 1
        done.rejects += [Reject(*r) for r in mark.rejects]
        done.warnings += [Reject(*w) for w in mark.warnings]
    ids = LeakRecord.objects.filter(source_file=source_file).values_list("record_id", flat=True)
    done.record_ids = set(ids.iterator(chunk_size=20_000))
    return done


def record(
    source_file: SourceFile,
    *,
    rows_read: int,
    rows_ok: int,
    rows_rejected: int,
    records: int,
    last_line: int,
    rejects: list[Reject],
    warnings: list[Reject],
) -> None:
    """Write a checkpoint and the counts so far on the file; call in the transaction of its rows."""
    ImportCheckpoint.objects.create(
        source_file=source_file,
        rows_read=rows_read,
        rows_ok=rows_ok,
        rows_rejected=rows_rejected,
        records=records,
        last_line=last_line,
        rejects=[[r.line, r.field, r.reason] for r in rejects],
        warnings=[[w.line, w.field, w.reason] for w in warnings],
    )
    source_file.rows_in, source_file.rows_ok, source_file.rows_rejected = rows_read, rows_ok, rows_rejected
    source_file.save(update_fields=["rows_in", "rows_ok", "rows_rejected"])


def of_this_file(*, incident: Incident, path: Path) -> list[SourceFile]:
    """Unfinished imports into `incident` of the file at `path` or of an earlier version of it: a file of
    its name imported from this path, or from one where it no longer is. A file of the same name still at
    another path is another export (two systems' `customers.csv`), left to resume by itself."""
    here = str(path.resolve())
    unfinished = SourceFile.objects.filter(incident=incident, file_name=path.name, finished=False)
    return [
        stale
        for stale in unfinished.order_by("pk")
        if stale.source_path in ("", here) or not Path(stale.source_path).exists()
    ]


def changed(*, incident: Incident, path: Path, sha256: str) -> list[SourceFile]:
    """Unfinished imports into `incident` of an earlier version of the file at `path` (other bytes)."""
    return [stale for stale in of_this_file(incident=incident, path=path) if stale.sha256 != sha256]


def unfinished(*, incident: Incident) -> list[SourceFile]:
    """The incident's imports that stopped before their end (or are running now)."""
    return list(SourceFile.objects.filter(incident=incident, finished=False).order_by("pk"))


def newest_file(*, incident: Incident) -> int:
    """The id of the incident's newest import (0: none yet), to tell later from `arrived_since`."""
    newest = SourceFile.objects.filter(incident=incident).order_by("-pk").values_list("pk", flat=True)
    return newest.first() or 0


def arrived_since(*, incident: Incident, newest: int) -> SourceFile | None:
    """The first import into `incident` begun after the one `newest` names (newest_file), if any."""
    return SourceFile.objects.filter(incident=incident, pk__gt=newest).order_by("pk").first()


def discard(source_file: SourceFile, *, actor: str, why: str) -> int:
    """Delete an unfinished import, its records (with their lookup keys) and its checkpoints, in one
    transaction, with an audit event; the number of records deleted. A finished import is refused."""
    if source_file.finished:  # pragma: no cover - callers pass unfinished imports only
        raise ValueError(f"source file {source_file.pk} is finished; it is not discarded")
    with transaction.atomic():
        ids = list(LeakRecord.objects.filter(source_file=source_file).values_list("pk", flat=True))
        for batch in chunked(ids, DISCARD_BATCH):
            LeakRecord.objects.filter(pk__in=batch).delete()
        pk, rows_in = source_file.pk, source_file.rows_in
        source_file.delete()  # with its checkpoints and match keys
        audit.record(
            actor=actor,
            action="records.import_discarded",
            object_type="source_file",
            object_id=pk,
            data={
                "incident_id": source_file.incident_id,
                "sha256": source_file.sha256,
                "rows_in": rows_in,
                "records": len(ids),
                "why": why,
            },
        )
    return len(ids)
