"""`venice-sdk gateway`: the command starts the gateway (two workers sharing a Redis ledger) and
refuses bad options with one clear line."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.fake_gate import ALICE
from tests.support.gateway_process import gateway_command
from tests.support.sdk import get_on
from venice_ops.bench.redis import free_port
from venice_sdk.auth import ApiKeyStore, AuthError, RedisKeyStore
from venice_sdk.pricing import PriceBook

LENS = "0x00000000000000000000000000000000000000e1"


def build(options: dict[str, Any]) -> Any:
    """The command's app of ``options``, its process for large bodies stopped (no lifespan ran:
    the test reads the app's state)."""
    from venice_sdk.gateway.command import build as build_app

    app = build_app(options)
    app.state.preparer.close()
    return app


def _manifest(tmp_path: Path) -> Path:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"contracts": {"EntitlementsLens": {"address": LENS}}}))
    return path


def test_two_workers_on_redis_serve_and_fail_closed(tmp_path: Path, redis_url: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    key = RedisKeyStore.from_url(redis_url).issue(ALICE, True).key  # the fleet's keys
    dead_node = f"http://127.0.0.1:{free_port()}"
    headers = {"authorization": f"Bearer {key}"}
    with gateway_command(
        "--upstream", f"http://127.0.0.1:{free_port()}",
        "--manifest", str(_manifest(tmp_path)), "--rpc", dead_node,
        "--workers", "2", "--redis-url", redis_url, "--data-dir", str(data),
        port=free_port(),
    ) as (url, _):  # fmt: skip
        reply = httpx.get(url + "/models", headers=headers, timeout=2)
        assert reply.status_code == 200
        assert {m["id"] for m in reply.json()["data"]} == set(PriceBook.default())
        # The node does not answer: every worker refuses (fails closed) with a 503.
        for _ in range(4):
            chat = httpx.post(
                url + "/chat/completions",
                headers=headers,
                json={"model": "qwen3-4b", "messages": [{"role": "user", "content": "hi"}]},
                timeout=30,
            )
            assert chat.status_code == 503, chat.text
            assert chat.json()["error"]["code"] == "rpc_unavailable"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--workers", "0"], "--workers must be at least 1"),
        (["--upstream", "ftp://x"], "upstream must be an http(s) URL"),
        (["--default-max-tokens", "0"], "--default-max-tokens must be between"),
        (["--stall-timeout", "0"], "--stall-timeout must be positive seconds"),
        (["--stall-timeout=-inf"], "--stall-timeout must be positive seconds, not -inf"),
        (["--upstream-timeout", "nan"], "--upstream-timeout must be positive seconds"),
        (["--body-timeout", "0"], "--body-timeout must be positive seconds"),
        (["--max-body-bytes", "0"], "--max-body-bytes must be a positive"),
        (["--max-answer-bytes", "-1"], "--max-answer-bytes must be a positive"),
        (["--max-parallel", "0"], "--max-parallel must be at least 1"),
        (["--hold-ttl", "0"], "--hold-ttl must be seconds between 0 and 604800"),
        (["--hold-ttl", "nan"], "--hold-ttl must be seconds between"),
        (["--max-uploads", "-3"], "--max-uploads must be at least 1"),
        (["--keep-alive", "0"], "--keep-alive must be a positive number of seconds"),
        (["--keep-alive", "nan"], "--keep-alive must be a positive number of seconds"),
        (["--ttl", "nan"], "--ttl must be seconds, 0 or more"),
        (["--ttl=-1"], "--ttl must be seconds, 0 or more"),
        (["--key-store", "redis"], "--key-store redis needs --redis-url"),
        (["--redis-url", "redis:/127.0.0.1:6379"], "--redis-url 'redis:/127.0.0.1:6379' is not"),
        (["--redis-url", "127.0.0.1:6379"], "write redis://HOST:PORT/DB"),
        (["--prices", "/nonexistent/prices.yaml"], "cannot read price book /nonexistent/"),
        (["--upstream", "http://127.0.0.1:8000/v1"], "pass http://127.0.0.1:8000 (the gateway"),
        (["--upstream", "http://127.0.0.1:8000/v1/"], "ends in /v1"),
        (["--rpc", "127.0.0.1:8545"], "--rpc must be the node's http(s) URL"),
        (["--rpc", "ws://127.0.0.1:8545"], "like http://127.0.0.1:8545, not 'ws://"),
    ],
)
def test_bad_options_are_one_clear_error(tmp_path: Path, extra: list[str], message: str) -> None:
    cmd = [
        sys.executable, "-m", "venice_sdk.cli", "gateway", "--upstream", "http://127.0.0.1:1",
        "--manifest", str(_manifest(tmp_path)), "--rpc", "http://127.0.0.1:1",
        "--data-dir", str(tmp_path / "d"), *extra,
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert done.stderr.startswith("error: ") and message in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_port_in_use_is_one_clear_error(tmp_path: Path, workers: str) -> None:
    """With one worker too (uvicorn's own bind error was a logged ``[Errno 98]``)."""
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        cmd = [
            sys.executable, "-m", "venice_sdk.cli", "gateway", "--upstream", "http://127.0.0.1:1",
            "--manifest", str(_manifest(tmp_path)), "--rpc", "http://127.0.0.1:1",
            "--data-dir", str(tmp_path / "d"), "--port", str(port), "--workers", workers,
        ]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert done.stderr == f"error: cannot listen on 127.0.0.1:{port}: it is in use\n"


@pytest.mark.parametrize("workers", [1, 2])
def test_keep_alive_is_how_long_an_idle_connection_stays_open(tmp_path: Path, workers: int) -> None:
    """``--keep-alive`` reaches the server of every worker: a connection idle for less is
    served again, one idle for longer is closed, and so is one that has not sent a whole
    request's headers in that time. (Its default, `KEEP_ALIVE`, outlives the
    clients' pools: the sidecar's test of it is in test_hostile_http.)"""
    with (
        gateway_command(
            "--upstream", "http://127.0.0.1:9", "--manifest", str(_manifest(tmp_path)),
            "--rpc", "http://127.0.0.1:9", "--data-dir", str(tmp_path / "d"),
            "--keep-alive", "1.5", "--workers", str(workers), port=(port := free_port()),
        ),
        socket.create_connection(("127.0.0.1", port), timeout=10) as sock,
        socket.create_connection(("127.0.0.1", port), timeout=10) as bare,
    ):  # fmt: skip
        bare.sendall(b"GET /v1/models HTTP/1.1\r\n")  # and never the rest of its headers
        assert get_on(sock, "/v1/models").startswith(b"HTTP/1.1 401")
        time.sleep(0.5)
        assert get_on(sock, "/v1/models").startswith(b"HTTP/1.1 401")
        time.sleep(2.5)
        assert get_on(sock, "/v1/models") == b""
        assert bare.recv(65_536) == b""  # (venice_sdk.server.http: uvicorn kept it for ever)


@pytest.mark.parametrize("workers", [1, 2])
def test_sighup_reloads_the_price_book(tmp_path: Path, workers: int) -> None:
    """With ``--workers 2`` the supervisor passes the signal on to every worker."""
    prices = tmp_path / "prices.yaml"
    book = "models:\n  {}:\n    input_per_million: '1'\n    output_per_million: '2'\n"
    prices.write_text(book.format("model-aaaa"))
    data = tmp_path / "data"
    data.mkdir()
    key = ApiKeyStore(data / "keys.sqlite3").issue(ALICE, True).key
    headers = {"authorization": f"Bearer {key}"}
    with gateway_command(
        "--upstream", "http://127.0.0.1:9", "--manifest", str(_manifest(tmp_path)),
        "--rpc", "http://127.0.0.1:9", "--data-dir", str(data), "--prices", str(prices),
        "--workers", str(workers), port=free_port(),
    ) as (url, proc):  # fmt: skip

        def models() -> set[str]:
            reply = httpx.get(url + "/models", headers=headers, timeout=5)
            return {m["id"] for m in reply.json()["data"]}

        assert models() == {"model-aaaa"}
        # Same size, same modification time: only the signal can tell the file changed.
        stat = prices.stat()
        prices.write_text(book.format("model-bbbb"))
        os.utime(prices, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        time.sleep(2.5)  # a poll or more
        assert models() == {"model-aaaa"}
        proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while models() != {"model-bbbb"}:
            assert time.monotonic() < deadline, "SIGHUP did not reload the price book"
            time.sleep(0.1)
        time.sleep(0.5)
        # Every worker reloaded: each request is a new connection, and they spread over the
        # workers (40 in a row all to one worker of 2: about 1 in 500 billion).
        assert all(models() == {"model-bbbb"} for _ in range(40))


def test_usage_command_prints_records_and_daily_sums(tmp_path: Path) -> None:
    from venice_sdk.usage import SQLiteUsageStore, UsageRecord

    data = tmp_path / "data"
    data.mkdir()
    store = SQLiteUsageStore(data / "usage.sqlite3")
    day = 20_240  # 2025-06-01
    for i in range(3):
        store.record(UsageRecord(f"r{i}", "key1", ALICE.lower(), "tiny", 10, i, 0, 10 + 3 * i,
                                 100, day * 86_400.0, day, "complete"))  # fmt: skip
    base = [sys.executable, "-m", "venice_sdk.cli", "usage", "--data-dir", str(data)]
    rows = subprocess.run(
        [*base, "--wallet", ALICE, "--limit", "2"], capture_output=True, text=True, timeout=60
    )
    assert rows.returncode == 0, rows.stderr
    lines = rows.stdout.splitlines()
    assert lines[0].startswith("request_id,") and len(lines) == 3
    assert "more: --cursor 2" in rows.stderr
    daily = subprocess.run(
        [*base, "--key-id", "key1", "--daily", "--day", "2025-06-01"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert daily.returncode == 0, daily.stderr
    assert json.loads(daily.stdout)[0]["cost"] == 10 + 13 + 16
    bad = subprocess.run([*base, "--wallet", "0x12"], capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and bad.stderr.startswith("error: ")


def test_hold_ttl_reaches_the_ledger(tmp_path: Path) -> None:
    """``--hold-ttl``: how long a hold outlives the worker that took it (each worker renews
    the holds of the requests it serves)."""
    options = {"upstream": "http://127.0.0.1:9", "manifest": str(_manifest(tmp_path)),
               "rpc": "http://127.0.0.1:9", "ttl": 2.0, "data_dir": str(tmp_path / "d"),
               "default_max_tokens": 4_096}  # fmt: skip
    for given, held in ((None, 900.0), (7_200.0, 7_200.0)):
        app = build({**options, "hold_ttl": given})
        assert app.state.meter.gate.ledger.hold_ttl == held


def test_the_keys_are_the_fleets_with_redis_else_the_data_dirs(
    tmp_path: Path, redis_url: str
) -> None:
    """With ``--redis-url`` the keys are Redis's (those `venice-sdk keys --redis-url` and the
    sidecar issue), read with the servers' ``--key-pepper``; ``--key-store sqlite``, or no
    Redis, keeps them in the data directory."""
    options = {"upstream": "http://127.0.0.1:9", "manifest": str(_manifest(tmp_path)),
               "rpc": "http://127.0.0.1:9", "ttl": 2.0, "data_dir": str(tmp_path / "d"),
               "default_max_tokens": 4_096}  # fmt: skip
    issued = RedisKeyStore.from_url(redis_url, pepper=b"pepper").issue(ALICE, True)
    fleet = build({**options, "redis_url": redis_url, "key_pepper": "pepper"})
    keys = fleet.state.meter.gate.keys
    assert isinstance(keys, RedisKeyStore) and keys.resolve(issued.key).key_id == issued.key_id
    unpeppered = build({**options, "redis_url": redis_url}).state.meter.gate.keys
    local = build({**options, "redis_url": redis_url, "key_store": "sqlite"}).state.meter.gate.keys
    assert isinstance(local, ApiKeyStore)
    for store in (unpeppered, local):
        with pytest.raises(AuthError) as refused:
            store.resolve(issued.key)
        assert refused.value.code == "unknown_key"
    assert isinstance(build(options).state.meter.gate.keys, ApiKeyStore)
    # The serving line says which (a key refused was issued in the other, or peppered).
    from venice_sdk.gateway.command import _keys_said

    fleet_options = {**options, "redis_url": redis_url, "key_pepper": "pepper"}
    assert _keys_said(fleet_options) == "keys: Redis, with pepper"
    assert _keys_said(options) == f"keys: {tmp_path / 'd' / 'keys.sqlite3'}, no pepper"
    # A relative --data-dir (the default .venice) is named whole: started from another folder
    # than the one `venice-sdk keys` wrote to, every key is a 401, and ".venice/keys.sqlite3"
    # did not say which folder was read.
    relative = {**options, "data_dir": ".venice"}
    assert _keys_said(relative) == f"keys: {Path.cwd() / '.venice' / 'keys.sqlite3'}, no pepper"


def test_keys_left_in_the_data_dir_stop_a_gateway_that_would_no_longer_read_them(
    tmp_path: Path,
) -> None:
    """Gateways before the keys in Redis read ``<data-dir>/keys.sqlite3`` even with
    ``--redis-url``: started on Redis's keys by default while that file holds live keys (each
    of them would be a 401 ``unknown_key``), the command refuses with one line naming both
    ways out; ``--key-store`` (either), no live key there, or no Redis, starts as before."""
    from venice_sdk.gateway.command import _check_no_keys_left_behind

    data = tmp_path / "d"
    data.mkdir()
    options = {"data_dir": str(data), "redis_url": "redis://127.0.0.1:1/0"}
    _check_no_keys_left_behind(options)  # (no file)
    store = ApiKeyStore(data / "keys.sqlite3")
    store.issue(ALICE, True, expires_at=time.time() - 1)
    store.revoke(store.issue(ALICE, True).key_id)
    _check_no_keys_left_behind(options)  # (no live key: an expired one, a revoked one)
    store.issue(ALICE, True)
    cmd = [
        sys.executable, "-m", "venice_sdk.cli", "gateway", "--upstream", "http://127.0.0.1:1",
        "--manifest", str(_manifest(tmp_path)), "--rpc", "http://127.0.0.1:1",
        "--data-dir", str(data), "--redis-url", "redis://127.0.0.1:1/0",
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert done.stderr.startswith("error: ") and "holds 1 API key(s)" in done.stderr
    assert "--key-store sqlite" in done.stderr and "--key-store redis" in done.stderr
    for chosen in ({"key_store": "sqlite"}, {"key_store": "redis"}, {"redis_url": None}):
        _check_no_keys_left_behind({**options, **chosen})


def test_usage_command_says_what_is_wrong_in_one_line(tmp_path: Path) -> None:
    """A data directory without the gateway's records (run from the wrong folder), a Redis
    that does not answer, a wallet that is not an address or has a mistyped checksum: one
    ``error:`` line each, not an empty table (the data directory was created to show it) or a
    traceback."""
    base = [sys.executable, "-m", "venice_sdk.cli", "usage", "--wallet"]
    typo = ALICE[:-1] + "e"  # (0x...0A11cE: a letter's case off)
    cases = [
        ([ALICE, "--data-dir", str(tmp_path / "nowhere")], "no usage records at"),
        ([ALICE, "--redis-url", f"redis://127.0.0.1:{free_port()}/0"], "does not answer"),
        (["0xZZ997970C51812dc3A010C7d01b50e0d17dc79C8", "--data-dir", str(tmp_path)], "not an"),
        ([typo, "--data-dir", str(tmp_path)], "checksum"),
    ]
    for args, message in cases:
        done = subprocess.run([*base, *args], capture_output=True, text=True, timeout=60)
        assert done.returncode == 1, (args, done.stderr)
        assert done.stderr.startswith("error: ") and message in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_stopped_gateway_says_nothing_more(tmp_path: Path, workers: str) -> None:
    """SIGTERM stops it quietly: each worker's process for large bodies was shut down without
    waiting, and every stop ended in multiprocessing's "resource_tracker: There appear to be 5
    leaked semaphore objects to clean up at shutdown" warning (10 with two workers)."""
    with gateway_command(
        "--upstream", f"http://127.0.0.1:{free_port()}",
        "--manifest", str(_manifest(tmp_path)), "--rpc", f"http://127.0.0.1:{free_port()}",
        "--data-dir", str(tmp_path / "d"), "--workers", workers,
        port=free_port(),
    ) as (_, proc):  # fmt: skip
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert b"leaked" not in err and err.strip() == b"", err


def test_usage_daily_without_a_day_is_today_as_over_http(tmp_path: Path) -> None:
    """``GET /v1/usage/daily`` without ``day`` sums today; the command said "--daily needs
    --day" instead."""
    from venice_sdk.ledger import epoch_day
    from venice_sdk.usage import SQLiteUsageStore, UsageRecord

    data = tmp_path / "data"
    data.mkdir()
    now = time.time()
    SQLiteUsageStore(data / "usage.sqlite3").record(
        UsageRecord(
            "r0", "key1", ALICE.lower(), "tiny", 10, 2, 0, 16, 100, now, epoch_day(now), "complete"
        )
    )
    cmd = [sys.executable, "-m", "venice_sdk.cli", "usage", "--data-dir", str(data)]
    done = subprocess.run([*cmd, "--key-id", "key1", "--daily"], capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[0]["cost"] == 16
