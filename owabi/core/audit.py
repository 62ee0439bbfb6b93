"""The append-only, hash-chained audit log.

Every important write records an AuditEvent in the same transaction (STYLE.md rule 1). Each event's
hash is HMAC-SHA256(audit key, previous hash + canonical form of the event), and the single AuditHead
row names the last event with its own MAC. `verify()` walks the chain: an edited row breaks its own
hash, a deleted row breaks the next row's link or the head, and none of it can be re-forged without
the audit key, which is not in the database.

Audit rows never hold PII values: ids, counts, category codes and keyed hashes only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

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
    """Append one event. Call inside the transaction of the write it describes."""
    data = data or {}
    _check_json(data)
    with transaction.atomic():
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
    seq: int | None
    what: str


@dataclass(frozen=True)
class Verification:
    events: int
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.problems


def _events(batch: int = 5000) -> Iterator[AuditEvent]:
    last = 0
    while True:
        chunk = list(AuditEvent.objects.filter(seq__gt=last).order_by("seq")[:batch])
        if not chunk:
            return
        yield from chunk
        last = chunk[-1].seq


def verify(*, max_problems: int = 100) -> Verification:
    """Walk the whole chain and report every row that does not fit."""
    problems: list[Problem] = []
    expected_seq, prev_hash, count = 1, GENESIS, 0
    for event in _events():
        count += 1
        if event.seq != expected_seq:
            problems.append(Problem(expected_seq, f"events {expected_seq}..{event.seq - 1} are missing"))
        if event.prev_hash != prev_hash:
            problems.append(Problem(event.seq, "link to the previous event is broken"))
        if not hmac.compare_digest(event.hash, _event_hash(event)):
            problems.append(Problem(event.seq, "event content does not match its hash (edited)"))
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
    return Verification(count, problems)


def recent(*, since: datetime | None = None, limit: int = 100) -> list[AuditEvent]:
    query = AuditEvent.objects.order_by("-seq")
    if since is not None:
        query = query.filter(at__gte=since)
    return list(query[:limit])
