"""Resolve's checkpoints: a run that stops (killed, out of memory, machine down) is taken up again.

Two steps are kept, each one file, written whole or not at all, in a private folder of the incident
under OWABI_DATA_DIR/checkpoints/resolve:
- "scored": the candidate pairs with their probabilities, and the trained model;
- "grouped": the subjects, who is a minor, whose recipient each subject shares, and the review queue.
Neither holds a leaked value: records appear as their positions in the incident's records (ordered by
key), beside probabilities and the model's m and u.

Each step is kept with the fingerprint of what made it: the features of every record (their bytes), the
notice date, the engine and the code of owabi.records; "grouped" also the pairs reviewers decided. A step
whose fingerprint is not the run's is not used (the records, the date, a decision or owabi changed since:
it would give another answer than the run), nor is one that cannot be read whole. The write is one
transaction, so a run stopped in it wrote nothing; the checkpoints are deleted once a write has committed.
They live on the machine's disk: the run that resumes must have the same OWABI_DATA_DIR.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings

from owabi.core.files import write_private
from owabi.incidents.models import Incident

if TYPE_CHECKING:
    from owabi.records.resolve.union_find import Packed

SLICE_ROWS = 65_536  # rows hashed at a time: the same bytes whatever the table's chunks


@dataclass
class Scored:
    left: Any  # numpy int64: record index
    right: Any
    probability: Any  # numpy float64
    model: dict[str, Any]


@dataclass
class Grouped:
    clusters: Packed  # per subject its record indexes, subjects ordered by their smallest record
    minor: list[bool]
    owner: array[int]  # per subject the subject whose recipient it shares
    review: list[tuple[int, int, float]]
    pairs_scored: int
    model: dict[str, Any]


# The libraries whose versions decide scores as much as owabi's code does.
_LIBRARIES = ("splink", "duckdb", "pyarrow", "numpy", "pyspark")

# How each part of a fingerprint is named when a checkpoint's differs from the run's.
_PARTS = {
    "records": "other records (an import, or match keys recomputed)",
    "date": "another notice date (who is a minor is counted as of it)",
    "engine": "another engine",
    "code": "another version of owabi or of its matching libraries",
    "decisions": "other reviewer decisions",
}


@cache
def _code() -> str:
    """The code that turns records into subjects (every file of owabi.records but its migrations), and
    the versions of the libraries that score."""
    from importlib import metadata

    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for library in _LIBRARIES:
        try:
            digest.update(f"{library}=={metadata.version(library)}\0".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{library} absent\0".encode())
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if not path.is_file() or relative.parts[0] == "migrations" or "__pycache__" in relative.parts:
            continue
        digest.update(str(relative).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


class _Digest:
    """A write-only file whose bytes go into a SHA-256 (Arrow's IPC writer writes to it)."""

    def __init__(self, digest: Any) -> None:
        self.digest = digest
        self.closed = False

    def write(self, data: Any) -> int:
        self.digest.update(data)
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


def fingerprint(table: Any, *, as_of: date, engine: str) -> str:
    """What a run's pairs are made from, part by part (JSON): every record's features (an Arrow table,
    hashed in slices so its chunking does not matter), the notice date, the engine and the code."""
    import pyarrow as pa

    digest = hashlib.sha256(f"{table.num_rows}\0".encode())
    sink = pa.PythonFile(_Digest(digest), mode="w")
    with pa.ipc.new_stream(sink, table.schema) as out:
        for start in range(0, table.num_rows, SLICE_ROWS):
            for batch in table.slice(start, SLICE_ROWS).combine_chunks().to_batches():
                out.write_batch(batch)
    parts = {"records": digest.hexdigest(), "date": as_of.isoformat(), "engine": engine, "code": _code()}
    return json.dumps(parts, sort_keys=True)


def with_decisions(key: str, same: set[tuple[int, int]], different: set[tuple[int, int]]) -> str:
    """`key` and the reviewers' decided pairs (record indexes): what a run's subjects are made from."""
    digest = hashlib.sha256()
    for label, pairs in ((b"same", same), (b"different", different)):
        digest.update(label + b"\0" + json.dumps(sorted(pairs)).encode())
    return json.dumps({**json.loads(key), "decisions": digest.hexdigest()}, sort_keys=True)


def _differences(held: str, wanted: str) -> str:
    """What differs between a checkpoint's fingerprint and the run's, in words."""
    try:
        old, new = json.loads(held), json.loads(wanted)
    except ValueError:
        return _PARTS["code"]
    return ", ".join(words for part, words in _PARTS.items() if old.get(part) != new.get(part))


def folder_of(incident: Incident) -> Path:
    """Where an incident's resolve keeps its checkpoints."""
    return Path(settings.DATA_DIR) / "checkpoints" / "resolve" / f"incident-{incident.pk}"


def discard(incident: Incident) -> bool:
    """Delete what a stopped resolve of the incident left (retention: nothing of the incident's runs is
    kept, though the checkpoints hold record positions, probabilities and the model, no value); whether
    there was anything."""
    folder = folder_of(incident)
    if not folder.exists():
        return False
    shutil.rmtree(folder)
    return True


class Checkpoints:
    """The checkpoints of one incident's resolve."""

    def __init__(self, incident: Incident, say: Callable[[str], None]) -> None:
        self.folder = folder_of(incident)
        self.say = say

    def _path(self, step: str) -> Path:
        return self.folder / f"{step}.npz"

    def usable(self, step: str, key: str) -> bool:
        """Whether the step's checkpoint is there, made from what `key` names, and whole (every member's
        CRC checked, streaming: nothing is held). A checkpoint not used is named on the progress."""
        import numpy as np

        path = self._path(step)
        if not path.exists():
            return False
        try:
            with np.load(path, allow_pickle=False) as held:
                made_from = str(held["key"])
            with zipfile.ZipFile(path) as archive:
                whole = archive.testzip() is None
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            whole = False
        if not whole:
            self.say(f"  the {step} checkpoint of a run that stopped cannot be read whole: not used")
            return False
        if made_from != key:
            self.say(
                f"  the {step} checkpoint of a run that stopped was made from {_differences(made_from, key)}:"
                " not used"
            )
            return False
        return True

    def _load(self, step: str) -> dict[str, Any]:
        """A checkpoint found `usable`."""
        import numpy as np

        with np.load(self._path(step), allow_pickle=False) as held:
            return {name: held[name] for name in held.files}

    def _save(self, step: str, key: str, **arrays: Any) -> None:
        import numpy as np

        with write_private(self._path(step), "wb") as handle:
            np.savez(handle, key=np.array(key), **arrays)

    def scored(self) -> Scored:
        held = self._load("scored")
        return Scored(held["left"], held["right"], held["probability"], _model(held))

    def save_scored(self, key: str, scored: Scored) -> None:
        self._save(
            "scored",
            key,
            left=scored.left,
            right=scored.right,
            probability=scored.probability,
            model=_model_bytes(scored.model),
        )

    def grouped(self) -> Grouped:
        import numpy as np

        from owabi.records.resolve.union_find import Packed

        held = self._load("grouped")
        owner = array("q")
        owner.frombytes(held["owner"].astype(np.int64).tobytes())
        return Grouped(
            clusters=Packed.from_numpy(held["members"], held["sizes"]),
            minor=held["minor"].tolist(),
            owner=owner,
            review=list(
                zip(
                    held["review_left"].tolist(),
                    held["review_right"].tolist(),
                    held["review_probability"].tolist(),
                    strict=True,
                )
            ),
            pairs_scored=int(held["pairs_scored"]),
            model=_model(held),
        )

    def save_grouped(self, key: str, grouped: Grouped) -> None:
        import numpy as np

        members, starts = grouped.clusters.numpy()
        self._save(
            "grouped",
            key,
            members=members,
            sizes=np.diff(starts),
            minor=np.array(grouped.minor, np.bool_),
            owner=np.frombuffer(grouped.owner, np.int64),
            review_left=np.array([a for a, _, _ in grouped.review], np.int64),
            review_right=np.array([b for _, b, _ in grouped.review], np.int64),
            review_probability=np.array([p for _, _, p in grouped.review], np.float64),
            pairs_scored=np.array(grouped.pairs_scored, np.int64),
            model=_model_bytes(grouped.model),
        )

    def clear(self) -> None:
        """The run's write has committed: nothing is left to resume."""
        shutil.rmtree(self.folder, ignore_errors=True)


def _model_bytes(model: dict[str, Any]) -> Any:
    import numpy as np

    return np.frombuffer(json.dumps(model).encode(), np.uint8)


def _model(held: dict[str, Any]) -> dict[str, Any]:
    model: dict[str, Any] = json.loads(held["model"].tobytes().decode())
    return model
