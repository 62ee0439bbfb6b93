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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings

from owabi.core.files import write_private
from owabi.incidents.models import Incident

SLICE_ROWS = 65_536  # rows hashed at a time: the same bytes whatever the table's chunks


@dataclass
class Scored:
    left: Any  # numpy int64: record index
    right: Any
    probability: Any  # numpy float64
    model: dict[str, Any]


@dataclass
class Grouped:
    clusters: list[list[int]]  # per subject its record indexes, subjects ordered by their smallest record
    minor: list[bool]
    owner: list[int]  # per subject the subject whose recipient it shares
    review: list[tuple[int, int, float]]
    pairs_scored: int
    model: dict[str, Any]


@cache
def _code() -> str:
    """The code that turns records into subjects (every file of owabi.records but its migrations)."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
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
    """What a run's pairs are made from: every record's features (an Arrow table, hashed in slices so its
    chunking does not matter), the notice date, the engine and the code."""
    import pyarrow as pa

    digest = hashlib.sha256(f"{_code()}\0{as_of.isoformat()}\0{engine}\0{table.num_rows}\0".encode())
    sink = pa.PythonFile(_Digest(digest), mode="w")
    with pa.ipc.new_stream(sink, table.schema) as out:
        for start in range(0, table.num_rows, SLICE_ROWS):
            for batch in table.slice(start, SLICE_ROWS).combine_chunks().to_batches():
                out.write_batch(batch)
    return digest.hexdigest()


def with_decisions(key: str, same: set[tuple[int, int]], different: set[tuple[int, int]]) -> str:
    """`key` and the reviewers' decided pairs (record indexes): what a run's subjects are made from."""
    digest = hashlib.sha256(key.encode())
    for label, pairs in ((b"same", same), (b"different", different)):
        digest.update(label + b"\0" + json.dumps(sorted(pairs)).encode())
    return digest.hexdigest()


class Checkpoints:
    """The checkpoints of one incident's resolve."""

    def __init__(self, incident: Incident, say: Callable[[str], None]) -> None:
        self.folder = Path(settings.DATA_DIR) / "checkpoints" / "resolve" / f"incident-{incident.pk}"
        self.say = say

    def _path(self, step: str) -> Path:
        return self.folder / f"{step}.npz"

    def _load(self, step: str, key: str) -> dict[str, Any] | None:
        import numpy as np

        path = self._path(step)
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as held:
                if str(held["key"]) != key:
                    self.say(
                        f"  a {step} checkpoint of a run that stopped was made from other records, decisions"
                        " or code: not used"
                    )
                    return None
                return {name: held[name] for name in held.files}
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            self.say(f"  the {step} checkpoint of a run that stopped cannot be read whole: not used")
            return None

    def _save(self, step: str, key: str, **arrays: Any) -> None:
        import numpy as np

        with write_private(self._path(step), "wb") as handle:
            np.savez(handle, key=np.array(key), **arrays)

    def scored(self, key: str) -> Scored | None:
        held = self._load("scored", key)
        if held is None:
            return None
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

    def grouped(self, key: str) -> Grouped | None:
        held = self._load("grouped", key)
        if held is None:
            return None
        import numpy as np

        members: list[int] = held["members"].tolist()
        bounds = np.concatenate(([0], np.cumsum(held["sizes"]))).tolist()
        return Grouped(
            clusters=[members[bounds[i] : bounds[i + 1]] for i in range(len(bounds) - 1)],
            minor=held["minor"].tolist(),
            owner=held["owner"].tolist(),
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

        count = len(grouped.clusters)
        self._save(
            "grouped",
            key,
            members=np.fromiter((m for members in grouped.clusters for m in members), np.int64),
            sizes=np.fromiter((len(members) for members in grouped.clusters), np.int64, count),
            minor=np.array(grouped.minor, np.bool_),
            owner=np.array(grouped.owner, np.int64),
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
