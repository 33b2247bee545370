"""`venice_sdk.server.http`: a connection has ``timeout_keep_alive`` seconds, from its opening
and from its last answer, to send a whole request's headers (uvicorn alone let a connection
that sent nothing, or a byte now and then, stay open for ever: anyone could use up the server's
file descriptors). Over real sockets, on both of uvicorn's protocols."""

from __future__ import annotations

import asyncio
import socket
import time
import tracemalloc
from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tests.support.fake_upstream import serving
from tests.support.sdk import get_on, read_answer, until_closed
from venice_sdk.server.http import MAX_HEAD, HeaderDeadlineHttpTools, protocol

DEADLINE = 1.0


async def hello(request: object) -> PlainTextResponse:
    return PlainTextResponse("hello")


@pytest.fixture(params=["httptools", "h11"])
def port(request: pytest.FixtureRequest) -> Iterator[int]:
    app = Starlette(routes=[Route("/", hello)])
    with serving(app, protocol(request.param), timeout_keep_alive=DEADLINE) as url:
        yield int(url.rsplit(":", 1)[1])


def _closed_after(sock: socket.socket, trickle: bytes = b"") -> float:
    """Seconds until the server closes ``sock`` (sending ``trickle`` a byte every 0.2 s)."""
    return until_closed(sock, trickle)[1]


def test_a_connection_that_sends_nothing_is_closed_at_the_deadline(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        assert DEADLINE - 0.1 < _closed_after(sock) < DEADLINE + 1.5


def test_headers_sent_a_byte_at_a_time_do_not_move_the_deadline(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        waited = _closed_after(sock, b"GET / HTTP/1.1\r\nX-Slow: " + b"a" * 100)
        assert DEADLINE - 0.1 < waited < DEADLINE + 1.5


def test_requests_in_time_are_served_and_the_deadline_runs_from_each_answer(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        for _ in range(3):  # each within the deadline of the answer before: all served
            time.sleep(DEADLINE * 0.6)
            assert get_on(sock, "/").endswith(b"hello")
        # Headers in two parts, the second within the deadline: served.
        time.sleep(DEADLINE * 0.3)
        sock.sendall(b"GET / HTTP/1.1\r\n")
        time.sleep(DEADLINE * 0.4)
        sock.sendall(b"Host: t\r\n\r\n")
        assert read_answer(sock).endswith(b"hello")
        assert DEADLINE - 0.1 < _closed_after(sock) < DEADLINE + 1.5


def _flood(port: int, head: bytes, piece: bytes, total: int) -> tuple[int, bytes]:
    """Send ``head`` then ``piece`` until ``total`` bytes or the server closes: (bytes sent,
    what the server answered)."""
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        try:
            sock.sendall(head)
            while sent < total:
                sock.sendall(piece)
                sent += len(piece)
        except OSError:  # closed by the server: the rest is never sent
            pass
        try:
            answer, _ = until_closed(sock)
        except OSError:  # (reset: what it had not read was discarded)
            answer = b""
    return sent, answer


@pytest.mark.parametrize(
    "head, piece",
    [
        (b"GET / HTTP/1.1\r\nX-Big: ", b"a" * 65_536),  # one header without end
        (b"GET / HTTP/1.1\r\n", b"x: y\r\n" * 10_000),  # headers without end
        (b"GET /?", b"a" * 65_536),  # a URL without end
        # a chunked body's trailers: headers too, which httptools gathers the same way
        (
            b"GET / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-Big: ",
            b"a" * 65_536,
        ),
        (
            b"GET / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n",
            b"x: y\r\n" * 10_000,
        ),
    ],
    ids=["one-header", "many-headers", "url", "one-trailer", "many-trailers"],
)
def test_a_head_without_end_is_refused_in_bounded_memory(
    port: int, head: bytes, piece: bytes
) -> None:
    """uvicorn's httptools protocol kept every byte of an unfinished head until the deadline
    (100 MiB of one header: 160 MiB and seconds of the event loop spent copying it; 30 MiB of
    short headers, 600 MiB); the server is in this process, so its memory is measured here."""
    tracemalloc.start()
    try:
        sent, _ = _flood(port, head, piece, 32 << 20)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert sent < 8 << 20, "the server read a head of 8 MiB"
    assert peak < 16 << 20, peak


def test_a_head_over_the_limit_is_a_431_and_one_under_it_is_served(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n" + b"x-pad: " + b"a" * 30_000 + b"\r\n\r\n")
        assert read_answer(sock).endswith(b"hello")
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * (MAX_HEAD + 1_000))
        answer, _ = until_closed(sock)
    assert answer.startswith((b"HTTP/1.1 431 ", b"HTTP/1.1 400 ")), answer[:100]


def test_a_chunked_body_in_small_chunks_with_a_trailer_is_served(port: int) -> None:
    """A body's chunk sizes and its trailers are counted against `MAX_HEAD` (trailers are
    headers: sent without end they grew a worker as a head did), beyond the body's own size:
    an honest chunked body, however finely chunked, is served."""
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in [b"0123456789"] * 8_000)
    request = (
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
        + chunks
        + b"0\r\nX-Checksum: abc\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        assert read_answer(sock).startswith(b"HTTP/1.1 405 ")  # (the app's route takes GET)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")  # the connection still serves
        assert read_answer(sock).endswith(b"hello")


def test_a_deadline_re_armed_when_already_due_survives_the_next_read_on_uvloop() -> None:
    """uvloop makes a timer due within 0.5 ms a plain ``Handle`` (no ``when``): a read that
    re-armed the deadline just as it came due, followed by another read before the timer ran
    (a client sending its head in pieces right at its deadline), failed the connection with
    an AttributeError logged as "Fatal error on transport". The connection is now closed at
    the deadline, quietly."""
    uvloop = pytest.importorskip("uvloop")
    from unittest import mock

    from uvicorn.config import Config
    from uvicorn.server import ServerState

    loop = uvloop.new_event_loop()
    try:
        http = HeaderDeadlineHttpTools(
            Config(app=hello, timeout_keep_alive=5), ServerState(), {}, _loop=loop
        )
        transport = mock.MagicMock()
        transport.is_closing.return_value = False
        transport.get_extra_info.return_value = None
        http.connection_made(transport)
        http.timeout_keep_alive_task.cancel()
        http.timeout_keep_alive_task = loop.call_at(
            loop.time() - 1, http.timeout_keep_alive_handler
        )
        http.data_received(b"GET / HTTP/1.1\r\n")
        http.data_received(b"X-Slow: a\r\n")  # raised AttributeError
        loop.run_until_complete(asyncio.sleep(0.01))
        transport.close.assert_called()  # the deadline, due, closed the connection
    finally:
        loop.close()
