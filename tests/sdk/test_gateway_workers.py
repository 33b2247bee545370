"""The gateway as its command runs it, several worker processes on the test Redis in front of a
test upstream, on the test chain's entitlements: a burst on a 100/min key lets exactly 100
through across 4 workers; the keys are Redis's (as the sidecar and `venice-sdk keys` issue
them), a revocation there refused by every worker at once; the benchmark's machinery
(`venice_ops.bench.gateway.measure`) runs end to end at a tiny size (figures not checked: this
is not a timed test)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from rich.console import Console

from tests.support.fake_upstream import FakeUpstream, serving
from tests.support.gateway_process import gateway_command
from venice_ops.bench.redis import free_port
from venice_sdk.auth import RedisKeyStore

PEPPER = "the-fleet's-key-pepper"


@pytest.fixture
def keys(redis_url: str) -> RedisKeyStore:
    """The fleet's keys in the test Redis, issued with the servers' pepper."""
    return RedisKeyStore.from_url(redis_url, pepper=PEPPER.encode())


@pytest.fixture
def gateway_4(
    tmp_path: Path, manifest: Path, chain: Any, staker: Any, redis_url: str, keys: RedisKeyStore
) -> Iterator[tuple[str, str]]:
    """`venice-sdk gateway --workers 4` on Redis (its keys too), 100 requests a minute per key,
    in front of the test upstream; yields its /v1 URL and a key of the staker."""
    data = tmp_path / "data"
    data.mkdir()
    key = keys.issue(staker.address, True).key
    limits = tmp_path / "limits.yaml"
    limits.write_text("default: {requests_per_minute: 100, tokens_per_minute: 100000000}\n")
    with (
        serving(FakeUpstream().app) as upstream,
        gateway_command(
            "--upstream", upstream, "--manifest", str(manifest),
            "--rpc", str(chain.provider.http_uri), "--workers", "4", "--redis-url", redis_url,
            "--data-dir", str(data), "--rate-limits", str(limits), "--ttl", "3600",
            "--key-pepper", PEPPER, port=free_port(),
        ) as (url, _),
    ):  # fmt: skip
        models = httpx.get(url + "/models", headers={"authorization": f"Bearer {key}"})
        assert models.status_code == 200, models.text
        yield url, key


async def _burst(url: str, key: str, n: int) -> list[httpx.Response]:
    body = {"model": "qwen3-4b", "messages": [{"role": "user", "content": "normal"}]}
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=0)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        headers = {"authorization": f"Bearer {key}"}
        return list(
            await asyncio.gather(
                *(client.post(url + "/chat/completions", json=body, headers=headers)
                  for _ in range(n))
            )
        )  # fmt: skip


def test_a_burst_of_160_through_4_workers_lets_exactly_100_through(
    gateway_4: tuple[str, str],
) -> None:
    url, key = gateway_4
    # The limit counts per UTC minute: fire well inside one.
    if time.time() % 60 > 40:
        time.sleep(60.5 - time.time() % 60)
    answers = asyncio.run(_burst(url, key, 160))
    statuses = [a.status_code for a in answers]
    assert statuses.count(200) == 100 and statuses.count(429) == 60, sorted(set(statuses))
    for answer in answers:
        if answer.status_code == 429:
            assert answer.json()["error"]["code"] == "rate_limited"
            assert 1 <= int(answer.headers["retry-after"]) <= 60
            assert answer.headers["x-ratelimit-remaining-requests"] == "0"
        else:
            assert answer.json()["usage"]["prompt_tokens"] > 0
            assert answer.headers["x-ratelimit-limit-requests"] == "100"


def test_a_key_revoked_in_redis_is_refused_by_every_worker_at_once(
    gateway_4: tuple[str, str], keys: RedisKeyStore
) -> None:
    """The operator (or the wallet, through the sidecar) revokes a key in the fleet's Redis:
    the next request to any worker is refused, none served on a stale copy."""
    url, key = gateway_4
    served = asyncio.run(_burst(url, key, 8))  # (new connections: spread over the workers)
    assert [a.status_code for a in served] == [200] * 8
    keys.revoke(key)
    refused = asyncio.run(_burst(url, key, 16))
    assert [a.status_code for a in refused] == [401] * 16
    assert {a.json()["error"]["code"] for a in refused} == {"key_revoked"}


def test_the_benchmark_runs_at_a_tiny_size(
    tmp_path: Path, manifest: Path, chain: Any, staker: Any
) -> None:
    from venice_ops.bench.gateway import STREAM_ROUNDS, debits_line, measure, table

    figures = measure(
        manifest, str(chain.provider.http_uri), staker.address, tmp_path, seconds=0.3,
        connections=2, streams=3, tokens=5, interval=0.001,
    )  # fmt: skip
    for name in ("direct", "gateway", "direct at target", "gateway at target"):
        assert figures[name]["errors"] == 0 and figures[name]["rps"] > 0, figures[name]
        assert figures[name]["cpu_ms"] > 0  # the server's processes were found and read
    rounds = STREAM_ROUNDS
    for name in ("direct streams", "relay streams", "gateway streams"):
        streams = figures[name]
        assert streams["errors"] == 0 and streams["chunks"] == rounds * 3 * 5, streams
        assert streams["rounds"].count("p99") == rounds
    for name in ("relay streams", "gateway streams"):
        assert {"added_p50_ms", "added_p99_ms"} <= figures[name].keys()
    # Every request and stream was debited what its usage was worth, and nothing is held.
    debits = figures["debits"]
    assert debits["spent"] == debits["expected"] > 0 and debits["held"] == 0, debits
    assert debits["streams"] == rounds * 3 and debits["requests"] > 0
    console = Console(record=True, width=200)
    console.print(table(figures, 0.3, 2))
    console.print(debits_line(debits))
    text = console.export_text()
    assert "gateway / direct" in text and "the gateway adds per chunk" in text
    assert "a bare relay adds" in text and text.endswith("exact\n")
    json.dumps(figures)  # plain figures, printable
