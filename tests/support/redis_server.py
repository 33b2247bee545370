"""A throwaway redis-server for tests (its own port and directory, append-only, fsync always),
and a proxy that loses replies."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import redis


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """``redis-server`` as a subprocess; `start` waits until it answers PING."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            raise FileNotFoundError("redis-server is not on PATH (scripts/ensure_redis.sh)")
        self.directory = directory
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

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
            port=self.port, socket_connect_timeout=0.2, socket_timeout=0.5, retry=None
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
        client = redis.Redis(port=self.port, socket_timeout=5, retry=None)
        try:
            client.shutdown()
        except redis.ConnectionError:
            pass
        finally:
            client.close()
        self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None


class LosingProxy:
    """A TCP proxy in front of a Redis server that can lose script replies.

    Each ``lose()`` makes the proxy drop the connection of the next script reply (an array,
    answering an EVAL or EVALSHA) instead of passing it on: the server ran the script, the
    client never hears back, exactly as when a connection dies between the two. Error replies
    (NOSCRIPT) pass, so the lost reply is always one of a script that ran.
    """

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.to_lose = 0
        self.lost = 0
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def lose(self, replies: int = 1) -> None:
        with self._lock:
            self.to_lose += replies

    def close(self) -> None:
        self.listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            scripts = threading.Event()  # this connection has sent EVAL / EVALSHA
            for args in ((client, upstream, False), (upstream, client, True)):
                threading.Thread(target=self._pump, args=(*args, scripts), daemon=True).start()

    def _pump(
        self, src: socket.socket, dst: socket.socket, replies: bool, scripts: threading.Event
    ) -> None:
        try:
            while data := src.recv(65536):
                if not replies and b"EVAL" in data:
                    scripts.set()
                if replies and scripts.is_set() and data.startswith(b"*"):
                    with self._lock:
                        drop = self.to_lose > 0
                        if drop:
                            self.to_lose -= 1
                            self.lost += 1
                    if drop:
                        return
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
