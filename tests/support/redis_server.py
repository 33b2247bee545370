"""A proxy that loses Redis replies, for the restart tests. The throwaway redis-server itself is
`venice_ops.bench.redis.RedisServer`, the project's one launcher."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from typing import Protocol

__all__ = ["LosingProxy", "kill_twice_while"]


class _Restartable(Protocol):
    def kill(self) -> None: ...

    def start(self) -> None: ...


def kill_twice_while(server: _Restartable, step: Callable[[int], int]) -> list[int]:
    """Call ``step(1)``, ``step(2)``, ... non-stop in a thread while ``server`` is SIGKILLed and
    restarted twice; return what each acknowledged step returned. Fails if a step raised or
    none went through after a restart."""
    acked: list[int] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def run() -> None:
        i = 0
        while not stop.is_set():
            i += 1
            try:
                acked.append(step(i))
            except BaseException as exc:
                errors.append(exc)
                return

    thread = threading.Thread(target=run)
    thread.start()
    try:
        for _ in range(2):
            time.sleep(0.5)
            before = len(acked)
            server.kill()
            time.sleep(0.3)
            server.start()
            time.sleep(0.5)
            assert len(acked) > before, "nothing went through after the restart"
    finally:
        stop.set()
        thread.join(30)
    assert not errors, errors
    return acked


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
