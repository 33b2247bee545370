"""`venice-sdk gateway` as a subprocess for the tests that run the command itself."""

from __future__ import annotations

import os
import select
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
    process once it answers HTTP (any status) and says on stderr that it serves (with
    ``--workers`` above 1, every worker). A gateway that exits first fails the test with its
    stderr."""
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
        # Once every worker serves (one still starting loads its price book later), it says so.
        # (and where it reads its keys: a key refused there was issued in the other store)
        _wait_for_stderr(proc, b"serving on http://127.0.0.1:%d (keys: " % port, deadline)
        yield url, proc
    finally:
        stop_process(proc)


def _wait_for_stderr(proc: subprocess.Popen[bytes], text: bytes, deadline: float) -> None:
    """Read ``proc``'s stderr until ``text`` appears (what was read before it is dropped)."""
    assert proc.stderr is not None
    fd, seen = proc.stderr.fileno(), b""
    while text not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"the gateway did not say {text!r}; stderr: {seen[-2000:]!r}"
        if select.select([fd], [], [], min(left, 0.5))[0]:
            chunk = os.read(fd, 65_536)
            assert chunk, f"the gateway exited; stderr: {seen[-2000:]!r}"
            seen += chunk
