"""What the SDK's tests share besides fixtures: a settable clock, a fixed instant, the skip
reason when redis-server is missing, a GET on a raw keep-alive connection, the wait for a
server to close one."""

from __future__ import annotations

import contextlib
import re
import socket
import time

NO_REDIS = "redis-server is not installed (run scripts/ensure_redis.sh)"


class FakeClock:
    """A settable clock: ``clock.now = ...`` moves time for the ledger."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


#: 2025-06-01 12:00:00 UTC
NOON = 20_240 * 86_400 + 43_200


def get_on(sock: socket.socket, path: str) -> bytes:
    """One HTTP/1.1 GET of ``path`` on the open connection ``sock`` (kept alive for the next):
    the whole answer, or b"" if the server had closed the connection."""
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: test\r\n\r\n".encode())
    return read_answer(sock)


def read_answer(sock: socket.socket) -> bytes:
    """The next whole answer (with a Content-Length) on ``sock``, or b"" if the server closed
    the connection first."""
    answer = b""
    while b"\r\n\r\n" not in answer:
        if not (part := sock.recv(65536)):
            return answer
        answer += part
    head, _, body = answer.partition(b"\r\n\r\n")
    length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
    assert length, head
    while len(body) < int(length[1]):
        part = sock.recv(65536)
        assert part, "the connection closed inside the answer"
        body += part
    return head + b"\r\n\r\n" + body


def until_closed(
    sock: socket.socket, trickle: bytes = b"", every: float = 0.2, limit: float = 10
) -> tuple[bytes, float]:
    """What the server sends on ``sock`` until it closes it, and the seconds that took (from
    now); meanwhile ``trickle`` is sent a byte every ``every`` s. Fails after ``limit`` s."""
    started = time.monotonic()
    sock.settimeout(every)
    answer = b""
    sent = 0
    while time.monotonic() - started < limit:
        try:
            if not (part := sock.recv(65_536)):
                return answer, time.monotonic() - started
            answer += part
        except TimeoutError:
            if sent < len(trickle):
                with contextlib.suppress(OSError):
                    sock.sendall(trickle[sent : sent + 1])
                sent += 1
        except ConnectionResetError:
            return answer, time.monotonic() - started
    raise AssertionError("the connection was never closed")
