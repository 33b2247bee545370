"""Rate limits per key: requests and tokens per minute, in one process or shared through Redis;
a burst across processes lets exactly the limit through; tiers from a policy file; the gateway's
429 with `Retry-After` and its `x-ratelimit-*` headers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.ledger_workers import race
from tests.support.rate_workers import hit_worker
from tests.support.sdk import NOON, FakeClock
from venice_sdk.ratelimit import (
    WINDOW,
    Limits,
    LocalRateLimiter,
    RateLimiter,
    RateLimitPolicy,
    RedisRateLimiter,
)


@pytest.fixture
def limiter(
    backend: str, clock: FakeClock, request: pytest.FixtureRequest
) -> Iterator[RateLimiter]:
    if backend == "redis":
        made = RedisRateLimiter(request.getfixturevalue("redis_url"), clock=clock)
        yield made
        made.close()
    else:
        yield LocalRateLimiter(clock=clock)


def test_requests_per_minute(limiter: RateLimiter, clock: FakeClock) -> None:
    clock.now = (int(clock.now) // WINDOW) * WINDOW + 15  # 45 s before the window ends
    limits = Limits(3, 1_000)
    states = [limiter.hit("k1", limits) for _ in range(4)]
    assert [s.allowed for s in states] == [True, True, True, False]
    assert [s.remaining_requests for s in states] == [2, 1, 0, 0]
    refused = states[-1]
    assert refused.exceeded == "requests" and refused.retry_after == 45
    assert limiter.hit("k2", limits).allowed  # another key has its own count
    clock.now += 45  # the next minute
    assert limiter.hit("k1", limits).allowed


def test_tokens_per_minute(limiter: RateLimiter, clock: FakeClock) -> None:
    limits = Limits(100, 1_000)
    assert limiter.hit("k1", limits).allowed
    limiter.add_tokens("k1", 999)
    state = limiter.hit("k1", limits)
    assert state.allowed and state.tokens == 999 and state.remaining_tokens == 1
    limiter.add_tokens("k1", 5)
    over = limiter.hit("k1", limits)
    assert not over.allowed and over.exceeded == "tokens" and over.requests == 2
    with pytest.raises(ValueError):
        limiter.add_tokens("k1", -1)
    clock.now += WINDOW
    assert limiter.hit("k1", limits).allowed


def test_a_burst_of_threads_lets_exactly_the_limit_through(limiter: RateLimiter) -> None:
    passed: list[bool] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def burst() -> None:
        barrier.wait()
        for _ in range(25):
            ok = limiter.hit("k1", Limits(100, 10**9)).allowed
            with lock:
                passed.append(ok)

    threads = [threading.Thread(target=burst) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(passed) == 200 and sum(passed) == 100


def test_a_burst_across_four_processes_lets_exactly_100_through(redis_url: str) -> None:
    passed = race(hit_worker, (redis_url, NOON, "k1", 40), processes=4, timeout=120)
    assert sum(passed) == 100


def test_policy_tiers_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "limits.yaml"
    path.write_text(
        "default: {requests_per_minute: 20, tokens_per_minute: 40000}\n"
        "pro: {requests_per_minute: 60, tokens_per_minute: 200000}\n"
        "diem:\n"
        "  - {min_diem: '1', requests_per_minute: 100, tokens_per_minute: 1000000}\n"
        "  - {min_diem: '10.5', requests_per_minute: 1000, tokens_per_minute: 9000000}\n"
        "keys:\n"
        "  special: {requests_per_minute: 7, tokens_per_minute: 70}\n"
    )
    policy = RateLimitPolicy.load(path)
    diem = 10**18
    assert policy.limits_for("k").requests_per_minute == 20
    assert policy.limits_for("k", pro=True).requests_per_minute == 60
    assert policy.limits_for("k", pro=True, diem_staked=diem).requests_per_minute == 100
    assert policy.limits_for("k", diem_staked=10 * diem).requests_per_minute == 100
    assert policy.limits_for("k", diem_staked=21 * diem // 2).requests_per_minute == 1000
    assert policy.limits_for("special", diem_staked=99 * diem) == Limits(7, 70)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("pro: {requests_per_minute: 1, tokens_per_minute: 1}", "needs a 'default'"),
        ("default: {requests_per_minute: 1}", "default"),
        ("default: {requests_per_minute: -1, tokens_per_minute: 1}", "requests_per_minute"),
        ("default: {requests_per_minute: 1, tokens_per_minute: 1}\ndiem: [{}]", "min_diem"),
        (
            "default: {requests_per_minute: 1, tokens_per_minute: 1}\n"
            "diem: [{min_diem: '-1', requests_per_minute: 1, tokens_per_minute: 1}]",
            "min_diem",
        ),
        ("default: [", "cannot read"),
        # A typo dropped a section or named a field wrongly (the message was a bare KeyError,
        # "default: 'tokens_per_minute'"; a misspelt section was ignored: no tiers at all).
        (
            "default: {requests_per_minute: 1, tokens_per_minte: 1}",
            "default: unknown field 'tokens_per_minte' \\(expected requests_per_minute and",
        ),
        ("default: {requests_per_minute: 1}", "default: missing tokens_per_minute"),
        (
            "default: {requests_per_minute: 1, tokens_per_minute: 1}\n"
            "deim: [{min_diem: '1', requests_per_minute: 9, tokens_per_minute: 9}]",
            "unknown section 'deim' \\(expected default, pro, diem, keys\\)",
        ),
        (
            "default: {requests_per_minute: 1, tokens_per_minute: 1}\n"
            "diem: [{min_diem: '1', requests_per_minute: 9, tokens_per_minute: 9, burst: 1}]",
            "diem\\[0\\]: unknown field 'burst'",
        ),
        # .inf was an OverflowError, 12.7 taken for 12, a tier not in a list a TypeError
        (
            "default: {requests_per_minute: .inf, tokens_per_minute: 1}",
            "default: requests_per_minute must be a whole number from 0 to",
        ),
        (
            "default: {requests_per_minute: 1, tokens_per_minute: 12.7}",
            "default: tokens_per_minute must be a whole number from 0 to .*not 12.7",
        ),
        (
            "default: {requests_per_minute: 1, tokens_per_minute: 1}\ndiem: 5",
            "'diem' must be a list of tiers",
        ),
    ],
)
def test_a_bad_policy_file_names_its_mistake(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "limits.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        RateLimitPolicy.load(path)


def test_a_policy_takes_whole_numbers_as_numbers_or_digits(tmp_path: Path) -> None:
    path = tmp_path / "limits.yaml"
    path.write_text("default: {requests_per_minute: '60', tokens_per_minute: 100000}\n")
    assert RateLimitPolicy.load(path).default == Limits(60, 100_000)
    path.write_text("default: {requests_per_minute: 60.0, tokens_per_minute: 5.0e+6}\n")
    assert RateLimitPolicy.load(path).default == Limits(60, 5_000_000)
    path.write_bytes(b"default: {requests_per_minute: 1, tokens_per_minute: 1} # caf\xe9\n")
    with pytest.raises(ValueError, match="cannot read rate limits from"):
        RateLimitPolicy.load(path)
