"""The append-only, hash-chained audit log, anchored to a witness outside the database.

Every important write records an AuditEvent in the same transaction (STYLE.md rule 1). Each event's
hash is HMAC-SHA256(audit key, previous hash + canonical form of the event), and the single AuditHead
row names the last event with its own MAC. `verify()` walks the chain: an edited row breaks its own
hash, a deleted row breaks the next row's link or the head, and none of it can be re-forged without
the audit key, which is not in the database.

What the chain cannot show by itself is its own end: an emptied log, or one cut back to an old head
(a head row kept from a backup carries a valid MAC), is a consistent chain. So `anchor()` appends the
head's count and hash, with a MAC, to the witness, an append-only file outside the database
(settings.OWABI_AUDIT_WITNESS), and records that it did; `verify()` then fails when the chain is shorter
than witnessed, when a witnessed head is no longer at its place, and when the chain records an anchor
the witness does not hold. An empty chain beside audited rows (incidents, source files, notices) fails
too, witness or not.

Audit rows never hold PII values: ids, counts, category codes and keyed hashes only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from owabi.core.files import append_private
from owabi.core.models import AuditEvent, AuditHead

GENESIS = "0" * 64


def _canonical(event: AuditEvent) -> bytes:
    body = {
        "seq": event.seq,
        "at": event.at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": event.actor,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "reason": event.reason,
        "data": event.data,
    }
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def _mac(*parts: bytes) -> str:
    mac = hmac.new(settings.OWABI_AUDIT_KEY, digestmod=hashlib.sha256)
    for part in parts:
        mac.update(len(part).to_bytes(4, "big"))
        mac.update(part)
    return mac.hexdigest()


def _event_hash(event: AuditEvent) -> str:
    return _mac(b"event", event.prev_hash.encode(), _canonical(event))


def _head_mac(seq: int, last_hash: str) -> str:
    return _mac(b"head", str(seq).encode(), last_hash.encode())


def _check_json(value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError("audit data keys must be strings")
            _check_json(item)
    elif isinstance(value, list):
        for item in value:
            _check_json(item)
    elif not isinstance(value, str | int | bool | type(None)):
        # floats and other types do not survive a JSON round trip byte-for-byte.
        raise TypeError(f"audit data values must be str, int, bool, None, list or dict, not {type(value)}")


def record(
    *,
    actor: str,
    action: str,
    object_type: str = "",
    object_id: str | int = "",
    reason: str = "",
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event. Call inside the transaction of the write it describes, as its last write: the
    chain's head row stays locked until that transaction ends, so appends are serialized on it.

    No savepoint of its own: an append that fails fails the whole transaction, so a write can never
    commit without its event."""
    data = data or {}
    _check_json(data)
    with transaction.atomic(savepoint=False):
        head = AuditHead.objects.select_for_update().filter(id=1).first()
        if head is None:  # the first event ever (a concurrent first append waits on the insert)
            AuditHead.objects.bulk_create([AuditHead(id=1)], ignore_conflicts=True)
            head = AuditHead.objects.select_for_update().get(id=1)
        event = AuditEvent(
            seq=head.seq + 1,
            at=timezone.now(),
            actor=actor,
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            reason=reason,
            data=data,
            prev_hash=head.hash or GENESIS,
        )
        event.hash = _event_hash(event)
        event.save()
        head.seq, head.hash = event.seq, event.hash
        head.mac = _head_mac(head.seq, head.hash)
        head.save(update_fields=["seq", "hash", "mac"])
    return event


@dataclass(frozen=True)
class Problem:
    seq: int | None  # the event it concerns; None for the head, the witness and the log as a whole
    what: str


@dataclass(frozen=True)
class Witnessed:
    """One witness line: at `at`, the chain held `count` events and the last one's hash was `hash`."""

    at: str
    count: int
    hash: str
    line: int = 0  # its line number in the witness file (0: not read from it)

    def text(self) -> str:
        return f"{self.at} {self.count} {self.hash} {_witness_mac(self.at, self.count, self.hash)}\n"


@dataclass(frozen=True)
class Verification:
    events: int
    problems: list[Problem]
    witnessed: Witnessed | None = None  # the witness line with the most events, checked against the chain

    @property
    def ok(self) -> bool:
        return not self.problems


class WitnessError(RuntimeError):
    """The chain cannot be anchored; the message is one line saying why (never a value from a row)."""


ANCHOR = "audit.anchor"
NO_WITNESS = (
    "no audit witness is configured (OWABI_AUDIT_WITNESS): a wiped or rolled-back log would pass unnoticed"
)
# Rows written in the same transaction as an audit event: while any exists, the log cannot be empty.
AUDITED_ROWS = (("incidents", "Incident"), ("records", "SourceFile"), ("notices", "Notice"))
_WITNESS_LINE = re.compile(r"(\S+) (\d+) ([0-9a-f]{64}) ([0-9a-f]{64})")


def _witness_mac(at: str, count: int, head_hash: str) -> str:
    return _mac(b"witness", at.encode(), str(count).encode(), head_hash.encode())


def _events(batch: int = 5000) -> Iterator[AuditEvent]:
    last = 0
    while True:
        chunk = list(AuditEvent.objects.filter(seq__gt=last).order_by("seq")[:batch])
        if not chunk:
            return
        yield from chunk
        last = chunk[-1].seq


def _audited_rows() -> list[str]:
    """The audited tables that hold rows (by model name)."""
    found = []
    for app_label, model_name in AUDITED_ROWS:
        try:
            model = apps.get_model(app_label, model_name)
        except LookupError:
            continue
        if model._default_manager.exists():
            found.append(str(model._meta.verbose_name_plural))
    return found


def _wiped(events: int) -> Problem | None:
    rows = _audited_rows() if events == 0 else []
    if not rows:
        return None
    return Problem(
        None, f"the audit log is empty but the database holds {', '.join(rows)}: the log was wiped"
    )


def _read_witness(path: Path) -> tuple[list[Witnessed], list[Problem]]:
    """Every line of the witness with a valid MAC, and a problem for each other line. A missing file
    reads as no lines: whether one was due is for the chain's anchor events to say."""
    try:
        text = path.read_bytes().decode("ascii")
    except FileNotFoundError:
        return [], []
    except (OSError, UnicodeDecodeError) as error:
        return [], [Problem(None, f"witness {path}: cannot be read ({type(error).__name__})")]
    lines, problems = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        found = _WITNESS_LINE.fullmatch(line)
        if found is None:
            problems.append(Problem(None, f"witness {path}, line {number}: not a witness line"))
            continue
        at, count, head_hash, mac = found.groups()
        if not hmac.compare_digest(mac, _witness_mac(at, int(count), head_hash)):
            problems.append(
                Problem(None, f"witness {path}, line {number}: its MAC does not match (not written by owabi)")
            )
            continue
        lines.append(Witnessed(at=at, count=int(count), hash=head_hash, line=number))
    return lines, problems


def _behind(count: int, latest: Witnessed) -> str:
    return (
        f"the chain holds {count:,} events but the witness saw {latest.count:,} at {latest.at}: "
        "events were removed (the log was wiped or rolled back)"
    )


def _rewritten(latest: Witnessed) -> str:
    return (
        f"it is not the event the witness saw at {latest.at} (line {latest.line}): the history was rewritten"
    )


def verify(*, max_problems: int = 100) -> Verification:
    """Walk the whole chain and report every row that does not fit, and every way it disagrees with its
    witness."""
    path: Path | None = settings.OWABI_AUDIT_WITNESS
    witnessed: list[Witnessed]
    if path is None:
        witnessed, problems = [], [Problem(None, NO_WITNESS)]
    else:
        witnessed, problems = _read_witness(path)
    at_seq: dict[int, list[Witnessed]] = {}
    for line in witnessed:
        at_seq.setdefault(line.count, []).append(line)
    anchors: list[tuple[int, Any, Any]] = []  # (seq, witnessed count, witnessed hash)
    expected_seq, prev_hash, count = 1, GENESIS, 0
    for event in _events():
        count += 1
        if event.seq != expected_seq:
            problems.append(Problem(expected_seq, f"events {expected_seq}..{event.seq - 1} are missing"))
        if event.prev_hash != prev_hash:
            problems.append(Problem(event.seq, "link to the previous event is broken"))
        if not hmac.compare_digest(event.hash, _event_hash(event)):
            problems.append(Problem(event.seq, "event content does not match its hash (edited)"))
        for line in at_seq.get(event.seq, ()):
            if line.hash != event.hash:
                problems.append(Problem(event.seq, _rewritten(line)))
        if event.action == ANCHOR:
            anchors.append((event.seq, event.data.get("count"), event.data.get("hash")))
        expected_seq, prev_hash = event.seq + 1, event.hash
        if len(problems) >= max_problems:
            return Verification(count, problems)
    head = AuditHead.objects.filter(id=1).first()
    last_seq = expected_seq - 1
    if head is None:
        if count:
            problems.append(Problem(None, "the chain head is missing"))
    else:
        if not hmac.compare_digest(head.mac, _head_mac(head.seq, head.hash)):
            problems.append(Problem(None, "the chain head was edited"))
        if head.seq != last_seq or head.hash != (prev_hash if count else ""):
            problems.append(
                Problem(None, f"the chain head names event {head.seq} but the last event is {last_seq}")
            )
    latest = max(witnessed, key=lambda line: line.count, default=None)
    if latest is not None and latest.count > last_seq:
        problems.append(Problem(None, _behind(last_seq, latest)))
    held = {(line.count, line.hash) for line in witnessed}
    unheld = [(seq, anchored) for seq, anchored, head_hash in anchors if (anchored, head_hash) not in held]
    if path is not None and unheld:
        seq, anchored = unheld[-1]
        problems.append(
            Problem(
                seq,
                f"it records an anchor at {anchored:,} events that the witness {path} does not hold "
                f"({len(unheld):,} such anchors): the witness was cut short, replaced or lost",
            )
        )
    wiped = _wiped(count)
    if wiped is not None:
        problems.append(wiped)
    return Verification(count, problems, latest)


def _append(path: Path, line: str) -> None:
    """One write on a descriptor opened for appending, then fsync: concurrent anchors never interleave
    within a line, and an anchor that returned is on disk. The directory is never created: a witness
    volume that is not mounted must fail, not fill a new directory on the local disk."""
    try:
        append_private(path, line.encode("ascii"))
    except OSError as error:
        raise WitnessError(f"witness {path}: cannot append to it ({type(error).__name__})") from None


def anchor(*, actor: str) -> Witnessed:
    """Append the chain's head (count and hash, with a MAC) to the witness, then record the anchor in the
    chain. Refused when the chain no longer holds what the witness saw, or is empty beside audited rows:
    an anchor must never make a wiped or rolled-back log look whole."""
    path: Path | None = settings.OWABI_AUDIT_WITNESS
    if path is None:
        raise WitnessError(NO_WITNESS)
    witnessed, problems = _read_witness(path)
    if problems:
        raise WitnessError(problems[0].what)
    with transaction.atomic():
        head = AuditHead.objects.select_for_update().filter(id=1).first()  # no append until recorded
        count, head_hash = (head.seq, head.hash) if head is not None and head.seq else (0, GENESIS)
        if head is not None and head.seq and not hmac.compare_digest(head.mac, _head_mac(count, head_hash)):
            raise WitnessError("the chain head was edited (owabi audit verify)")
        if count and _hash_at(count) != head_hash:
            raise WitnessError(f"the chain head does not match event {count} (owabi audit verify)")
        wiped = _wiped(count)
        if wiped is not None:
            raise WitnessError(wiped.what)
        latest = max(witnessed, key=lambda line: line.count, default=None)
        if latest is not None and latest.count > count:
            raise WitnessError(_behind(count, latest))
        if latest is not None and latest.count and _hash_at(latest.count) != latest.hash:
            raise WitnessError(f"event {latest.count}: {_rewritten(latest)}")
        line = Witnessed(
            at=timezone.now().astimezone(UTC).isoformat(timespec="seconds"), count=count, hash=head_hash
        )
        _append(path, line.text())
        record(actor=actor, action=ANCHOR, data={"count": count, "hash": head_hash})
    return line


def anchor_if_witnessed(*, actor: str) -> Witnessed | None:
    """`anchor()` where a witness is configured (long jobs end with it); None elsewhere."""
    if settings.OWABI_AUDIT_WITNESS is None:
        return None
    return anchor(actor=actor)


def _hash_at(seq: int) -> str | None:
    return AuditEvent.objects.filter(seq=seq).values_list("hash", flat=True).first()


def recent(*, since: datetime | None = None, limit: int = 100) -> list[AuditEvent]:
    query = AuditEvent.objects.order_by("-seq")
    if since is not None:
        query = query.filter(at__gte=since)
    return list(query[:limit])
