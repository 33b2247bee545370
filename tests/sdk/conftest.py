"""Fixtures for the SDK's tests: ledgers on both backends and the session's own redis-server (the
ledger and auth tests need no chain; the entitlements and service tests use the suite's)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.sdk import NO_REDIS, NOON, FakeClock
from tests.support.sidecar import stake_for_credit, started
from venice_ops.bench.redis import RedisServer
from venice_sdk.ledger import CreditLedger, RedisLedger, SQLiteLedger
from venice_sdk.usage import RedisUsageStore, SQLiteUsageStore, UsageStore


@pytest.fixture(autouse=True)
def _logging_restored() -> Iterator[None]:
    """`venice-sdk serve` run in a test's process (`venice_sdk.cli.main`) configures the SDK's
    and uvicorn's loggers (a handler on that test's stderr, not propagating): put them back
    after each test, or later tests' ``caplog`` sees nothing and their logs go to a closed
    file."""
    import logging

    loggers = [logging.getLogger(n) for n in ("venice_sdk", "uvicorn", "uvicorn.error")]
    saved = [(log.handlers[:], log.level, log.propagate) for log in loggers]
    yield
    for log, (handlers, level, propagate) in zip(loggers, saved, strict=True):
        log.handlers[:], log.propagate = handlers, propagate
        log.setLevel(level)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOON)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One redis-server for the session (append-only, fsync always), killed at the end."""
    if shutil.which("redis-server") is None:
        pytest.skip(NO_REDIS)
    with started(RedisServer(tmp_path_factory.mktemp("redis"))) as server:
        yield server


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own, so it can be killed and restarted."""
    if shutil.which("redis-server") is None:
        pytest.skip(NO_REDIS)
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The session server's URL, emptied for this test."""
    import redis

    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    client.close()
    return redis_server.url


@pytest.fixture(params=["sqlite", "redis"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def ledger_target(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """Where the parametrized backend's ledger lives: the session server's URL or a file."""
    if backend == "redis":
        return str(request.getfixturevalue("redis_url"))
    return str(tmp_path / "l.db")


@pytest.fixture
def make_ledger(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[..., CreditLedger]]:
    """A factory for ledgers of the parametrized backend sharing one store."""
    made: list[CreditLedger] = []
    url = request.getfixturevalue("redis_url") if backend == "redis" else None

    def make(clock: FakeClock | None = None, **options: Any) -> CreditLedger:
        ledger: CreditLedger
        if url is not None:
            ledger = RedisLedger(url, clock=clock, **options)
        else:
            ledger = SQLiteLedger(tmp_path / "ledger.db", clock=clock, **options)
        made.append(ledger)
        return ledger

    yield make
    for ledger in made:
        ledger.close()


@pytest.fixture
def ledger(make_ledger: Callable[..., CreditLedger], clock: FakeClock) -> CreditLedger:
    return make_ledger(clock)


@pytest.fixture(scope="session", autouse=True)
def _auth_redis_url(request: pytest.FixtureRequest) -> Iterator[None]:
    """Point the auth tests' Redis rows (VENICE_TEST_REDIS_URL) at the session's server."""
    if os.environ.get("VENICE_TEST_REDIS_URL") or shutil.which("redis-server") is None:
        yield
        return
    server = request.getfixturevalue("redis_server")
    os.environ["VENICE_TEST_REDIS_URL"] = server.url
    try:
        yield
    finally:
        os.environ.pop("VENICE_TEST_REDIS_URL", None)


@pytest.fixture
def key_store(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> Any:
    """An API-key store of the parametrized backend (the session's Redis, or a SQLite file)."""
    from venice_sdk.auth import ApiKeyStore, RedisKeyStore

    if backend == "redis":
        return RedisKeyStore.from_url(request.getfixturevalue("redis_url"), clock=clock)
    return ApiKeyStore(tmp_path / "keys.sqlite3", clock=clock)


@pytest.fixture
def usage_store(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[UsageStore]:
    """A usage store of the parametrized backend (the test's Redis, or a SQLite file)."""
    made: UsageStore
    if backend == "redis":
        made = RedisUsageStore(request.getfixturevalue("redis_url"))
    else:
        made = SQLiteUsageStore(tmp_path / "usage.sqlite3")
    yield made
    made.close()


@pytest.fixture
def manifest(tmp_path: Path, suite: Any, config: Any) -> Path:
    """The session suite's manifest, for a sidecar or gateway this test starts as a command."""
    from venice_ops.deploy.suite import write_manifest

    return Path(write_manifest(suite, config, tmp_path / "manifest"))


@pytest.fixture
def staker(suite: Any, fund: Any, alice: Any) -> Any:
    """alice: staked VVV (may get a key) and 2 DIEM staked ($2 of credit a day)."""
    return stake_for_credit(suite, fund, alice)
