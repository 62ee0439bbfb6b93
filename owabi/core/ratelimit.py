"""Rate limits: one named, commented policy table, enforced with fixed-window counters in the database.

Keys are keyed hashes of (policy, subject), so a bucket never reveals the code, IP or e-mail it counts.
Portal login failures are counted per code AND per client, and the two fail the same way, so an
attacker learns nothing from which limit tripped.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Q

from owabi.core.crypto import keyed_hash
from owabi.core.models import RateLimitBucket


@dataclass(frozen=True)
class Policy:
    limit: int  # hits allowed per window
    window: int  # seconds
    why: str


POLICIES: dict[str, Policy] = {
    # Login with registration code + key. A real person mistypes a few times; 10 failures per hour per
    # code leaves a 40-bit key out of reach (10 * 24 * 365 guesses a year ~ 2^17 of 2^40).
    "portal.login.code": Policy(10, 3600, "failed logins against one registration code"),
    # The same from one client address, across codes: stops spraying one key over many codes.
    "portal.login.client": Policy(30, 3600, "failed logins from one client (IP) address"),
    # "Am I affected?" answers identically for everyone, but every lookup may send a message to the
    # contact on record, so limit per client and per looked-up identity.
    "portal.lookup.client": Policy(5, 3600, "affected-lookups from one client address"),
    "portal.lookup.identity": Policy(3, 86400, "affected-lookups for one identity (name + phone/e-mail)"),
    # "Check this letter": the code alone shows a masked name, so it must not be an enumeration oracle.
    "portal.verify_letter.client": Policy(20, 3600, "letter checks from one client address"),
    # Reimbursement claims: velocity is also a fraud signal; this is the hard stop.
    "portal.claim.client": Policy(10, 86400, "claims submitted from one client address"),
    # Staff sign-in (MFA comes after the password).
    "staff.login.user": Policy(5, 900, "failed staff sign-ins for one user name"),
    "staff.login.client": Policy(20, 900, "failed staff sign-ins from one client address"),
    # Support console searches touch PII: bound what one agent can page through.
    "staff.search.user": Policy(300, 3600, "PII searches by one staff member"),
    # JSON API. Calls without a usable token (none, unknown, revoked, expired) from one client address:
    # a system whose token was rotated retries a few times; a prober is stopped after 30, and a client
    # over the limit is answered 429 without its token being looked up or its calls audited.
    "api.refused.client": Policy(30, 900, "API calls without a usable token from one client address"),
    # Calls with one good token: a mail provider may post one bounce per call, so 600 a minute is far
    # above a real feed and still bounds what a leaked or runaway token can do.
    "api.calls.token": Policy(600, 60, "API calls made with one token"),
}


def _bucket(name: str, subject: str, now: float | None) -> tuple[Policy, str, int]:
    """The policy, hashed bucket key and current window start for one subject."""
    policy = POLICIES[name]
    key = keyed_hash("ratelimit", f"{name}\x1f{subject}")
    moment = time.time() if now is None else now
    return policy, key, int(moment) // policy.window * policy.window


def count_hit(name: str, subject: str, *, now: float | None = None) -> int:
    """Count one hit of `subject` under policy `name`; the window's count with this hit (one statement,
    so concurrent hits from several server processes never lose a count)."""
    _, key, window = _bucket(name, subject, now)
    table = RateLimitBucket._meta.db_table
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (key, window_start, count) VALUES (%s, %s, 1) "  # noqa: S608
            "ON CONFLICT (key, window_start) DO UPDATE SET count = " + table + ".count + 1 RETURNING count",
            [key, window],
        )
        (count,) = cursor.fetchone()
    return int(count)


def hit(name: str, subject: str, *, now: float | None = None) -> bool:
    """Count one hit of `subject` under policy `name`. True while within the limit, False once over it."""
    return count_hit(name, subject, now=now) <= POLICIES[name].limit


def exhausted(name: str, count: int) -> bool:
    """Whether `count` hits in this window use up policy `name`'s budget: the next one is refused."""
    return count >= POLICIES[name].limit


def counts(checks: Sequence[tuple[str, str]], *, now: float | None = None) -> list[int]:
    """This window's hit counts of several (policy, subject) pairs, read in one query."""
    buckets = [_bucket(name, subject, now) for name, subject in checks]
    wanted = Q()
    for _, key, window in buckets:
        wanted |= Q(key=key, window_start=window)
    found = dict(
        ((key, window), count)
        for key, window, count in RateLimitBucket.objects.filter(wanted).values_list(
            "key", "window_start", "count"
        )
    )
    return [found.get((key, window), 0) for _, key, window in buckets]


def retry_after(name: str, *, now: float | None = None) -> int:
    """Seconds until the current window of policy `name` ends (a Retry-After header's value)."""
    window = POLICIES[name].window
    moment = time.time() if now is None else now
    return max(1, math.ceil((int(moment) // window + 1) * window - moment))


def is_limited(name: str, subject: str, *, now: float | None = None) -> bool:
    """Whether `subject` is over the limit right now, without counting a hit."""
    (count,) = counts([(name, subject)], now=now)
    return exhausted(name, count)


def reset(name: str, subject: str, *, now: float | None = None) -> None:
    """Forget the current window's hits (e.g. after a successful login)."""
    _, key, window = _bucket(name, subject, now)
    RateLimitBucket.objects.filter(key=key, window_start=window).delete()


def prune(*, older_than: float | None = None) -> int:
    """Delete buckets from windows that have ended (run from a periodic job)."""
    cutoff = (time.time() if older_than is None else older_than) - max(p.window for p in POLICIES.values())
    deleted, _ = RateLimitBucket.objects.filter(window_start__lt=int(cutoff)).delete()
    return deleted
