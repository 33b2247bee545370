"""Real processes for the sidecar's dependency tests (loopback only): a private Anvil holding a
copy of the session chain's state (so it can be paused, killed and restarted without touching
the session's node), `venice-sdk serve` as a subprocess, and clients that record every answer.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support.sidecar import started, wait_healthy
from venice_ops.bench.redis import LocalServer, RedisServer, free_port

PROJECT = Path(__file__).resolve().parents[2]

#: "small" costs $0.25 per 1M output tokens: 4 * n output tokens cost n micro-USD.
PRICES = """models:
  small:
    input_per_million: "0.05"
    output_per_million: "0.25"
"""


def anvil_binary() -> str | None:
    """Anvil's own executable: not node_modules/.bin/anvil, a node wrapper that would take the
    signals (SIGSTOP, SIGKILL) meant for the node and leave it running."""
    for path in sorted((PROJECT / "node_modules" / "@foundry-rs").glob("anvil-*/bin/anvil")):
        return str(path)
    return shutil.which("anvil")


def rpc(url: str, method: str, params: list[Any], timeout: float = 10.0) -> Any:
    reply = httpx.post(
        url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}, timeout=timeout
    ).json()
    if "error" in reply:
        raise RuntimeError(f"{method}: {reply['error']}")
    return reply["result"]


class PrivateNode:
    """An Anvil of the test's own on a free port, a fork of the session's node at its current
    block (``--fork-url``): the same contracts, stakes and chain id, while pausing, killing or
    emptying it leaves the session's node alone. `start(load=False)` is the node restarted
    empty (no fork: a fresh dev chain); `start()` again brings the deployment back."""

    def __init__(self, upstream: str, chain_id: int, directory: Path) -> None:
        self.upstream, self.chain_id, self.directory = upstream, chain_id, directory
        self.block = int(rpc(upstream, "eth_blockNumber", []), 16)
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, load: bool = True, timeout: float = 20.0) -> None:
        binary = anvil_binary()
        assert binary, "anvil is not installed (node_modules/.bin/anvil)"
        self.directory.mkdir(parents=True, exist_ok=True)
        log = (self.directory / "anvil.log").open("ab")
        cmd = [binary, "--port", str(self.port), "--chain-id", str(self.chain_id), "--silent"]
        if load:
            cmd += [
                "--fork-url", self.upstream,
                "--fork-block-number", str(self.block),
                "--no-storage-caching",
            ]  # fmt: skip
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while True:
            try:
                rpc(self.url, "eth_chainId", [], timeout=0.5)
                break
            except (httpx.HTTPError, OSError):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the private anvil did not start") from None
                time.sleep(0.05)

    def pause(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # a stopped process dies on SIGKILL too
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    stop = kill


class Sidecar(LocalServer):
    """`python -m venice_sdk.cli serve` on a free port; `start` waits for /healthz."""

    def __init__(self, manifest: Path, rpc_url: str, directory: Path, *options: str) -> None:
        super().__init__(directory)
        self.manifest, self.rpc_url = manifest, rpc_url
        self.options = list(options)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        prices = self.directory / "prices.yaml"
        prices.write_text(PRICES)
        cmd = [
            sys.executable, "-m", "venice_sdk.cli", "serve",
            "--manifest", str(self.manifest),
            "--rpc", self.rpc_url,
            "--port", str(self.port),
            "--data-dir", str(self.directory / "data"),
            "--prices", str(prices),
            # These runs meter wallets directly; keys-only is tested in test_hostile_http.py.
            "--allow-wallet-authorize",
            *self.options,
        ]  # fmt: skip
        log = (self.directory / "sidecar.log").open("ab")
        env = {**os.environ, "PYTHONPATH": str(PROJECT)}
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=log, cwd=PROJECT, env=env)
        wait_healthy(self.proc, self.url, timeout, self.directory / "sidecar.log", poll=0.5)


@dataclass
class Answer:
    """One /v1/authorize call as its client saw it."""

    wallet: str
    cost: int
    started: float
    seconds: float
    status: int  # 0: no answer (transport error or client timeout)
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def allowed(self) -> bool:
        return self.status == 200 and self.body.get("allowed") is True


class Clients:
    """Threads calling /v1/authorize non-stop (each its own connection), recording every
    answer; costs cycle through 100..149 micro-USD so sums are not multiples of one price."""

    def __init__(self, url: str, wallets: list[str], per_wallet: int = 2, timeout: float = 10.0):
        self.url, self.wallets, self.timeout = url, wallets, timeout
        self.answers: list[Answer] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(w, k), daemon=True)
            for w in wallets
            for k in range(per_wallet)
        ]

    def __enter__(self) -> Clients:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(self.timeout + 5)

    def _run(self, wallet: str, k: int) -> None:
        i = k
        with httpx.Client(base_url=self.url, timeout=self.timeout) as http:
            while not self._stop.is_set():
                cost = 100 + i % 50
                i += 7
                body = {"who": wallet, "model": "small", "output_tokens": 4 * cost}
                start = time.monotonic()
                try:
                    r = http.post("/v1/authorize", json=body)
                    status, payload = r.status_code, _json(r)
                except httpx.HTTPError:
                    status, payload = 0, {}
                answer = Answer(wallet, cost, start, time.monotonic() - start, status, payload)
                with self._lock:
                    self.answers.append(answer)
                time.sleep(0.005)

    def between(self, start: float, end: float) -> list[Answer]:
        with self._lock:
            return [a for a in self.answers if start <= a.started and a.started + a.seconds <= end]

    def allowed_total(self, wallet: str) -> int:
        with self._lock:
            return sum(a.cost for a in self.answers if a.wallet == wallet and a.allowed)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        value = response.json()
    except json.JSONDecodeError:
        return {"_text": response.text[:200]}
    return value if isinstance(value, dict) else {"_value": value}


def timed_get(url: str, timeout: float = 10.0) -> tuple[int, float, dict[str, Any]]:
    """(status, seconds, JSON body) of one GET."""
    start = time.monotonic()
    r = httpx.get(url, timeout=timeout)
    return r.status_code, time.monotonic() - start, _json(r)


@contextmanager
def sidecar_on_redis(
    tmp_path: Path, manifest: Path, chain: Any, *options: str
) -> Iterator[tuple[RedisServer, Sidecar]]:
    """A redis-server of the test's own (so it can be killed) and a sidecar on it, with
    ``options``; both stopped at the end, the sidecar first."""
    with started(RedisServer(tmp_path / "redis")) as redis_server:
        rpc = str(chain.provider.http_uri)
        sidecar = Sidecar(
            manifest, rpc, tmp_path / "sidecar", "--redis-url", redis_server.url, *options
        )
        with started(sidecar):
            yield redis_server, sidecar
