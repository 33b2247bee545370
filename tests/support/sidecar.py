"""`venice-sdk serve` as a subprocess on a free loopback port, for tests over real HTTP."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

from venice_ops.bench.redis import free_port

ROOT = Path(__file__).resolve().parents[2]


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
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the sidecar did not start:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None
