"""`venice-sdk serve` as a subprocess on a free loopback port, for tests over real HTTP."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

import httpx

from tests.support.constants import VVV
from venice_ops.bench.redis import free_port, stop_process

ROOT = Path(__file__).resolve().parents[2]


class _Process(Protocol):
    def start(self) -> object: ...

    def stop(self) -> None: ...


_P = TypeVar("_P", bound=_Process)


@contextmanager
def started(process: _P) -> Iterator[_P]:
    """``process`` (a `Sidecar`, a `RedisServer`) started, and stopped however the block ends."""
    process.start()
    try:
        yield process
    finally:
        process.stop()


class Sidecar:
    """The sidecar on 127.0.0.1:<free port>; `start` waits until /healthz answers."""

    def __init__(self, manifest: Path, rpc: str, data_dir: Path, *options: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.log = data_dir / "sidecar.log"
        self.cmd = [
            *(sys.executable, "-m", "venice_sdk.cli", "serve", "--manifest", str(manifest)),
            *("--rpc", rpc, "--port", str(self.port), "--data-dir", str(data_dir)),
            *options,
        ]
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> Sidecar:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(self.cmd, cwd=ROOT, stdout=log, stderr=log)
        try:
            wait_healthy(self.proc, self.url, timeout, self.log)
        except RuntimeError:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None


def stake_for_credit(suite: Any, fund: Any, account: Any) -> Any:
    """``account`` with 10,000 VVV staked and 2 DIEM minted and staked ($2 of credit a day)."""
    fund(account, 10_000 * VVV)
    suite.staking.stake(account, 10_000 * VVV, sender=account)
    suite.staking.mintExactDiem(2 * VVV, 10_000 * VVV, sender=account)
    suite.diem.stake(2 * VVV, sender=account)
    return account


def wait_healthy(
    proc: subprocess.Popen[bytes], url: str, timeout: float, log: Path, poll: float = 1.0
) -> None:
    """Wait until ``url``/healthz answers 200; raise RuntimeError with the end of ``log`` if
    ``proc`` exits first or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=poll).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"the sidecar did not start:\n{tail}")
        time.sleep(0.1)
