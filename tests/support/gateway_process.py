"""`venice-sdk gateway` as a subprocess for the tests that run the command itself."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from venice_ops.bench.redis import stop_process


@contextmanager
def gateway_command(
    *args: str, port: int, timeout: float = 60.0
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``venice-sdk gateway ARGS --port PORT`` until the block ends; yields its /v1 URL and its
    process once it answers HTTP (any status). A gateway that exits first fails the test with
    its stderr."""
    cmd = [sys.executable, "-m", "venice_sdk.cli", "gateway", *args, "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + timeout
        while True:
            assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
            try:
                httpx.get(url + "/models", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the gateway did not start"
                time.sleep(0.2)
        yield url, proc
    finally:
        stop_process(proc)
