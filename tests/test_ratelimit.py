from __future__ import annotations

import pytest

from owabi.core import ratelimit
from owabi.core.models import RateLimitBucket

pytestmark = pytest.mark.django_db
NOW = 1_800_000_000.0


def test_it_allows_up_to_the_limit_then_refuses() -> None:
    limit = ratelimit.POLICIES["portal.login.code"].limit
    results = [ratelimit.hit("portal.login.code", "ABCD-EFGH", now=NOW) for _ in range(limit + 2)]
    assert results == [True] * limit + [False, False]
    assert ratelimit.is_limited("portal.login.code", "ABCD-EFGH", now=NOW)


def test_subjects_and_policies_are_counted_separately() -> None:
    for _ in range(10):
        ratelimit.hit("portal.login.code", "A", now=NOW)
    assert ratelimit.hit("portal.login.code", "B", now=NOW)
    assert ratelimit.hit("portal.login.client", "A", now=NOW)


def test_a_new_window_starts_afresh() -> None:
    policy = ratelimit.POLICIES["portal.lookup.client"]
    for _ in range(policy.limit + 1):
        ratelimit.hit("portal.lookup.client", "198.51.100.7", now=NOW)
    assert ratelimit.is_limited("portal.lookup.client", "198.51.100.7", now=NOW)
    assert ratelimit.hit("portal.lookup.client", "198.51.100.7", now=NOW + policy.window)


def test_reset_forgets_the_current_window() -> None:
    for _ in range(12):
        ratelimit.hit("portal.login.code", "A", now=NOW)
    ratelimit.reset("portal.login.code", "A", now=NOW)
    assert not ratelimit.is_limited("portal.login.code", "A", now=NOW)


def test_buckets_never_store_the_subject() -> None:
    ratelimit.hit("portal.lookup.identity", "山田太郎|09012345678", now=NOW)
    bucket = RateLimitBucket.objects.get()
    assert "山田" not in bucket.key
    assert "0901234" not in bucket.key
    assert len(bucket.key) == 32


def test_prune_drops_ended_windows_only() -> None:
    ratelimit.hit("portal.login.code", "old", now=NOW - 10 * 86400)
    ratelimit.hit("portal.login.code", "new", now=NOW)
    assert ratelimit.prune(older_than=NOW) == 1
    assert RateLimitBucket.objects.count() == 1


def test_every_policy_is_explained() -> None:
    for name, policy in ratelimit.POLICIES.items():
        assert policy.limit > 0 and policy.window > 0 and policy.why, name
