"""The one redis-server launcher: the SDK's tests and the benchmarks start their throwaway
Redis through it (its own port and directory, append-only, fsync always, no snapshots).

`RedisServer(directory).start()` waits until the server answers PING; `kill` (SIGKILL, only
what was fsynced survives), `shutdown` (a clean SHUTDOWN) and `stop` (SIGTERM) end it.
`start_redis` is the benchmarks' form: a missing binary or a server that will not start ends
the run with one line.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis

__all__ = ["LocalServer", "RedisServer", "free_port", "start_redis", "stop_process"]


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalServer:
    """A server process of one's own, in ``directory``, on a loopback port (default: a free
    one); `stop` terminates it. Subclasses start it."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.directory = directory
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None


class RedisServer(LocalServer):
    """``redis-server`` as a subprocess; `start` waits until it answers PING."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            raise FileNotFoundError("redis-server is not on PATH (scripts/ensure_redis.sh)")
        super().__init__(directory, port)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        cmd = [
            self.binary or "redis-server",
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.directory),
            "--appendonly", "yes",
            "--appendfsync", "always",
            "--save", "",
            "--logfile", str(self.directory / "redis.log"),
        ]  # fmt: skip
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        client = redis.Redis(
            port=self.port,
            socket_connect_timeout=0.2,
            socket_timeout=0.5,
            retry=None,  # type: ignore[arg-type]  # no retries: each PING answers at once
        )
        try:
            while True:
                if self.proc.poll() is not None:
                    log = (self.directory / "redis.log").read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"redis-server exited with {self.proc.returncode}:\n{log}")
                try:
                    if client.ping():
                        return
                except (redis.ConnectionError, redis.BusyLoadingError, redis.TimeoutError):
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"redis-server did not answer PING on port {self.port}")
                time.sleep(0.02)
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL: no shutdown, no final flush; only what was fsynced survives."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def shutdown(self) -> None:
        """A clean SHUTDOWN, then wait for the process to exit."""
        if self.proc is None:
            return
        client = redis.Redis(port=self.port, socket_timeout=5, retry=None)  # type: ignore[arg-type]
        try:
            client.shutdown()
        except redis.ConnectionError:
            pass
        finally:
            client.close()
        self.proc.wait(10)
        self.proc = None


def stop_process(proc: subprocess.Popen[bytes] | None) -> None:
    """Terminate ``proc`` if it is running, and SIGKILL it if it is still there 10 s later."""
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def start_redis(directory: Path) -> RedisServer:
    """A started server in `directory` for a benchmark; exits with a message if it cannot."""
    try:
        server = RedisServer(directory)
    except FileNotFoundError:
        raise SystemExit("redis-server is not on PATH: run scripts/ensure_redis.sh") from None
    try:
        server.start()
    except (RuntimeError, TimeoutError):
        server.stop()
        raise SystemExit(f"redis-server did not start; see {directory / 'redis.log'}") from None
    return server
