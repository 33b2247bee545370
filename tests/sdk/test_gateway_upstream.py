"""The gateway's upstream client (`venice_sdk.gateway.upstream`) against raw HTTP servers that
misbehave on purpose: kept-alive connections reused, every way an answer's body can end
(``Content-Length``, chunked, the close), an idle connection the upstream closed (sent again on
a new one), silence (the read timeout), garbage, a refused connection, and a body larger than
the read-ahead (paused, then read whole)."""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import Awaitable, Callable

import pytest

import venice_sdk.gateway.upstream as upstream_module
from venice_ops.bench.redis import free_port
from venice_sdk.gateway.upstream import (
    MAX_HEAD,
    READ_AHEAD,
    RETRY_WINDOW,
    Upstream,
    UpstreamError,
    UpstreamResponse,
)

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[bool]]


async def _request(reader: asyncio.StreamReader) -> bytes | None:
    """One request's body (None: the client closed the connection)."""
    head = await reader.readuntil(b"\r\n\r\n") if not reader.at_eof() else b""
    if not head:
        return None
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    return await reader.readexactly(length)


def _run(handler: Handler, client: Callable[[Upstream], Awaitable[None]], timeout: float = 5.0):
    """Serve ``handler`` (called per request with the connection's number; False: close the
    connection) and run ``client`` against it; returns the connections opened."""
    opened = [0]

    async def main() -> int:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            opened[0] += 1
            number = opened[0]
            try:
                while await _request(reader) is not None:
                    if not await handler(reader, writer, number):
                        break
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        upstream = Upstream(f"http://127.0.0.1:{port}", "k", timeout)
        try:
            await client(upstream)
        finally:
            await upstream.close()
            server.close()
        return opened[0]

    return asyncio.run(main())


def _answer(body: bytes, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body)


def _reads(body: bytes, times: int) -> Callable[[Upstream], Awaitable[None]]:
    """A client that posts ``times`` times, reading ``body`` each time."""

    async def client(upstream: Upstream) -> None:
        for _ in range(times):
            response = await upstream.post("/v1/x", b"{}")
            assert await response.read() == body
            response.close()

    return client


def _sends(answer: bytes) -> Handler:
    """A handler that sends ``answer`` to every request (drained: the client reads it)."""

    async def handler(_: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
        writer.write(answer)
        await writer.drain()
        return True

    return handler


async def _json_ok(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> bool:
    writer.write(_answer(b'{"ok": true}'))
    return True


def test_a_read_answer_gives_its_connection_back_for_the_next_request() -> None:
    async def client(upstream: Upstream) -> None:
        for _ in range(3):
            response = await upstream.post("/v1/x", b"{}")
            assert response.status == 200 and await response.read() == b'{"ok": true}'
            response.close()

    assert _run(_json_ok, client) == 1


def test_a_body_ends_by_its_length_by_chunks_or_by_the_close() -> None:
    answers = [
        _answer(b"0123456789"),
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"4\r\n0123\r\n6\r\n456789\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n0123456789",
    ]

    async def handler(_: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
        answer = answers.pop(0)
        writer.write(answer)
        return b"Connection: close" not in answer  # that body ends when the connection does

    async def client(upstream: Upstream) -> None:
        for _ in range(3):
            response = await upstream.post("/v1/x", b"{}")
            assert await response.read() == b"0123456789"
            response.close()

    assert _run(handler, client) == 1  # the first two answers' connection carried the third


def test_an_idle_connection_the_upstream_closed_is_replaced_and_the_request_sent_again() -> None:
    seen: list[int] = []

    async def handler(_: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
        seen.append(n)
        if n == 1 and len(seen) == 2:
            return False  # the second request on the first connection: closed, no answer
        writer.write(_answer(b"{}"))
        return True

    assert _run(handler, _reads(b"{}", 2)) == 2
    assert seen == [1, 1, 2]


def test_a_kept_alive_connection_closed_after_working_on_the_request_is_not_sent_again() -> None:
    """Closed without an answer, but later than `RETRY_WINDOW` after the request went out: the
    upstream may have run it (an inference), so it is not run a second time."""
    seen: list[int] = []

    async def handler(_: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
        seen.append(n)
        if len(seen) == 2:
            await asyncio.sleep(RETRY_WINDOW + 0.25)  # works on it, then fails
            return False
        writer.write(_answer(b"{}"))
        return True

    async def client(upstream: Upstream) -> None:
        first = await upstream.post("/v1/x", b"{}")
        assert await first.read() == b"{}"
        first.close()
        with pytest.raises(UpstreamError, match="closed the connection"):
            await upstream.post("/v1/x", b"{}")

    assert _run(handler, client) == 1
    assert seen == [1, 1]  # the failed request reached the upstream once


def test_a_new_connection_closed_without_an_answer_is_an_upstream_error() -> None:
    async def handler(_: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
        return False

    async def client(upstream: Upstream) -> None:
        with pytest.raises(UpstreamError, match="closed the connection"):
            await upstream.post("/v1/x", b"{}")

    assert _run(handler, client) == 1  # not sent again: it may have run


def test_silence_past_the_timeout_fails_the_read() -> None:
    async def handler(_: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
        await asyncio.sleep(3)
        return False

    async def client(upstream: Upstream) -> None:
        response = await upstream.post("/v1/x", b"{}")
        got = []
        loop = asyncio.get_running_loop()
        began = loop.time()
        with pytest.raises(TimeoutError, match=r"sent nothing for 0\.3s"):
            async for data in response.iter_any():
                got.append(data)
        assert got == [b"abc"] and 0.25 < loop.time() - began < 2
        response.close()

    _run(handler, client, timeout=0.3)


def test_garbage_and_a_refused_connection_are_upstream_errors() -> None:
    async def handler(_: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
        writer.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
        return True

    async def client(upstream: Upstream) -> None:
        with pytest.raises(UpstreamError, match="not HTTP"):
            await upstream.post("/v1/x", b"{}")
        refused = Upstream(f"http://127.0.0.1:{free_port()}", None, 5)
        with pytest.raises(UpstreamError, match="cannot connect"):
            await refused.post("/v1/x", b"{}")

    _run(handler, client)


def test_a_body_larger_than_the_read_ahead_is_paused_then_read_whole() -> None:
    body = bytes(range(256)) * (4 * READ_AHEAD // 256)

    async def client(upstream: Upstream) -> None:
        response = await upstream.post("/v1/x", b"{}")
        await asyncio.sleep(0.2)  # the answer arrives while nobody reads it
        assert response._buffered <= 2 * READ_AHEAD and response._paused
        assert await response.read() == body
        response.close()
        again = await upstream.post("/v1/x", b"{}")  # and the connection is reused
        assert await again.read() == body
        again.close()

    assert _run(_sends(_answer(body)), client) == 1


def test_an_answer_over_the_limit_fails_and_closes_its_connection() -> None:
    """A body read whole stops at ``limit`` bytes: an upstream sending without end fails the
    request (its connection closed) instead of filling the gateway's memory."""
    body = b"x" * (3 * READ_AHEAD)

    async def client(upstream: Upstream) -> None:
        response = await upstream.post("/v1/x", b"{}")
        with pytest.raises(UpstreamError, match="over 262,144 bytes"):
            await response.read(limit=READ_AHEAD)
        assert response._connection.lost
        response.close()
        again = await upstream.post("/v1/x", b"{}")  # a new connection, read whole
        assert await again.read(limit=len(body)) == body
        again.close()

    assert _run(_sends(_answer(body)), client) == 2


# --- found in review -----------------------------------------------------------------------


def test_a_request_waiting_for_a_slot_gets_a_connection_given_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """At the pool's limit, a waiting request takes the connection the one before it gave
    back (it waited for a connection to close, which a kept-alive upstream never does)."""
    monkeypatch.setattr(upstream_module, "MAX_CONNECTIONS", 1)

    async def client(upstream: Upstream) -> None:
        async def one() -> bytes:
            response = await upstream.post("/v1/x", b"{}")
            try:
                return await response.read()
            finally:
                response.close()

        both = asyncio.gather(one(), one())
        assert await asyncio.wait_for(both, 2) == [b'{"ok": true}'] * 2

    assert _run(_json_ok, client) == 1


def test_a_request_waiting_longer_than_the_slot_timeout_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With every connection in use (answers not yet read to their end), a request waits
    `SLOT_TIMEOUT` s for one, then fails as an upstream error (the gateway's 503, its hold
    released), and its slot is not lost. Before, it waited for ever, holding its credit."""
    monkeypatch.setattr(upstream_module, "MAX_CONNECTIONS", 1)
    monkeypatch.setattr(upstream_module, "SLOT_TIMEOUT", 0.2)

    async def client(upstream: Upstream) -> None:
        first = await upstream.post("/v1/x", b"{}")  # its answer unread: its slot in use
        loop = asyncio.get_running_loop()
        began = loop.time()
        with pytest.raises(UpstreamError, match=r"stayed in use for 0\.2s"):
            await upstream.post("/v1/x", b"{}")
        assert 0.15 < loop.time() - began < 2
        assert await first.read() == b'{"ok": true}'
        first.close()
        second = await asyncio.wait_for(upstream.post("/v1/x", b"{}"), 2)
        assert await second.read() == b'{"ok": true}'
        second.close()

    assert _run(_json_ok, client) == 1


def test_a_reader_slower_than_the_timeout_is_no_silence_of_the_upstream() -> None:
    """Paused at the read-ahead, the upstream cannot send: the silence counts from the resume
    (a stream's client that is slow for a while failed on the next read)."""
    body = bytes(4 * READ_AHEAD)

    async def client(upstream: Upstream) -> None:
        response = await upstream.post("/v1/x", b"{}")
        await asyncio.sleep(0.8)  # the gateway's client reads slowly: the upstream is paused
        assert response._paused
        assert await response.read() == body
        response.close()

    _run(_sends(_answer(body)), client, timeout=0.5)


def test_a_second_answer_after_the_end_is_not_part_of_the_body() -> None:
    """Bytes after an answer's end (here a whole second answer in the same packet) are the
    upstream's error: the body stays the first answer's, and the connection is closed."""

    async def handler(_: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
        writer.write(_answer(b"first") + _answer(b"second"))
        return True

    assert _run(handler, _reads(b"first", 2)) == 2


def test_a_switching_protocols_answer_is_an_upstream_error_not_a_fatal_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A 101 makes httptools raise HttpParserUpgrade (no HttpParserError), which escaped
    data_received: the loop logged a "Fatal error" traceback."""

    async def handler(_: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n"
        )
        await asyncio.sleep(0.5)
        return False

    async def client(upstream: Upstream) -> None:
        with pytest.raises(UpstreamError, match="not HTTP"):
            await upstream.post("/v1/x", b"{}")

    _run(handler, client)
    assert "Fatal error" not in caplog.text


def test_requests_cancelled_at_every_step_free_their_slots() -> None:
    """Cancelled while connecting, waiting for the head or reading the body: every slot
    comes back, and no connection stays counted that is not idle in the pool."""

    async def handler(_: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
        await asyncio.sleep(0.05)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        await asyncio.sleep(0.1)
        writer.write(b"defghij")
        return True

    async def client(upstream: Upstream) -> None:
        async def one() -> None:
            response = await upstream.post("/v1/x", b"{}")
            try:
                await response.read()
            finally:
                response.close()

        for delay in (0, 0.0005, 0.002, 0.03, 0.08, 0.2):
            tasks = [asyncio.create_task(one()) for _ in range(4)]
            await asyncio.sleep(delay)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        assert upstream._slots is not None
        assert upstream._slots._value == upstream_module.MAX_CONNECTIONS
        assert upstream._open == len(upstream._idle)

    _run(handler, client)


class _Client:
    """A relay's side towards the client: an asyncio transport's ``write`` and ``is_closing``,
    and uvicorn's flow control (``write_paused``: its socket is full); ``paused_after`` writes
    it is full."""

    def __init__(
        self, paused_after: int | None = None, closing: bool = False, fails_at: int = 0
    ) -> None:
        self.writes: list[bytes] = []
        self.paused_after = paused_after
        self.write_paused = paused_after == 0
        self.closing = closing
        self.fails_at = fails_at  # the write (1, 2, ...) that raises; 0: none

    def write(self, data: bytes) -> None:
        if len(self.writes) + 1 == self.fails_at:
            raise RuntimeError("the transport broke")
        self.writes.append(data)
        if self.paused_after is not None and len(self.writes) >= self.paused_after:
            self.write_paused = True

    def is_closing(self) -> bool:
        return self.closing


def _relay(response: UpstreamResponse, out: _Client) -> list[bytes]:
    """Relay ``response`` to ``out``; what it hands to ``scan`` lands in the list returned."""
    scanned: list[bytes] = []
    response.relay(out, out, scanned.append)
    return scanned


def _unchunked(writes: list[bytes]) -> bytes:
    """The body in a relay's writes (each one chunk of HTTP/1.1's chunked framing)."""
    body = b""
    for write in writes:
        size, rest = write.split(b"\r\n", 1)
        assert int(size, 16) == len(rest) - 2 and rest.endswith(b"\r\n")
        body += rest[:-2]
    return body


def test_an_answer_held_at_its_end_gives_back_a_connection_that_reads() -> None:
    """A relayed answer whose last part came while the client's socket was full (the relay
    holds the upstream in the read that also ends the answer): its connection goes back to
    the pool reading again (it went back paused: the next request on it waited for the
    timeout, then failed)."""
    answer = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"4\r\n0123\r\n6\r\n456789\r\n0\r\n\r\n"
    )

    async def client(upstream: Upstream) -> None:
        response = await upstream.post("/v1/x", b"{}")
        out = _Client(paused_after=0)  # the client's socket is full at every part
        scanned = _relay(response, out)
        await response.ended()
        assert response.complete and response._paused
        # One read held both parts: written as one chunk.
        assert _unchunked(out.writes) == b"0123456789" and len(out.writes) == 1
        response.scan()
        assert scanned == [b"0123456789"]
        response.close()
        again = await upstream.post("/v1/x", b"{}")  # the same connection, from the pool
        assert await again.read() == b"0123456789"
        again.close()

    assert _run(_sends(answer), client, timeout=1.0) == 1


def test_a_hold_on_the_parts_read_before_the_relay_wakes_its_waiter() -> None:
    """The parts read ahead before `relay` are written at once; if the client's socket is
    full then (the relay holds and pokes before anyone waits), `ended` returns at once for
    the task to drain it and release the hold (the poke was lost: `ended` waited for news
    from an upstream it held, and the stream failed at the timeout)."""

    async def handler(_: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n0123\r\n")
        await writer.drain()
        await asyncio.sleep(0.2)
        writer.write(b"6\r\n456789\r\n0\r\n\r\n")
        return True

    async def client(upstream: Upstream) -> None:
        response = await upstream.post("/v1/x", b"{}")
        await asyncio.sleep(0.05)  # the first part is read ahead meanwhile
        out = _Client(paused_after=1)  # the client's socket is full after the first part
        scanned = _relay(response, out)
        await response.ended()  # woken by the poke
        assert not response.complete and _unchunked(out.writes) == b"0123"
        out.write_paused = False  # drained
        response.release_hold()
        await response.ended()
        assert response.complete and _unchunked(out.writes) == b"0123456789"
        response.scan()
        assert b"".join(scanned) == b"0123456789"
        response.close()

    _run(handler, client, timeout=1.0)


def test_a_relay_scans_what_it_wrote_in_batches_and_the_rest_when_asked() -> None:
    """The bytes relayed go to ``scan`` in order, in batches of at least `SCAN_BATCH` bytes
    (one call for many chunks) and what is left by `scan()`; nothing is scanned twice."""
    part = b"e" * (upstream_module.SCAN_BATCH // 2 + 1)
    parts = [part, part, b"tail"]

    async def handler(_: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for body in parts:
            await asyncio.sleep(0.02)  # one read each
            writer.write(b"%x\r\n%s\r\n" % (len(body), body))
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        return True

    async def client(upstream: Upstream) -> None:
        response = await upstream.post("/v1/x", b"{}")
        out = _Client()
        scanned = _relay(response, out)
        await response.ended()
        assert scanned == [part + part]  # the batch reached after the second part
        response.scan()
        response.scan()
        assert scanned == [part + part, b"tail"]
        assert _unchunked(out.writes) == b"".join(parts)
        response.close()

    _run(handler, client, timeout=2.0)


def test_a_relay_to_a_client_gone_writes_nothing_more_and_wakes_the_task() -> None:
    """Once the client's transport is closing, parts are not written (nor scanned: not
    sent) and `ended` returns for the task to end the stream."""

    async def handler(_: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n0123\r\n")
        await writer.drain()
        await asyncio.sleep(0.2)
        writer.write(b"6\r\n456789\r\n")
        await writer.drain()
        await asyncio.sleep(5)
        return False

    async def client(upstream: Upstream) -> None:
        response = await upstream.post("/v1/x", b"{}")
        out = _Client()
        scanned = _relay(response, out)
        await asyncio.sleep(0.05)
        out.closing = True  # the client went away after the first part
        await response.ended()
        assert not response.complete and response._paused
        response.scan()
        assert _unchunked(out.writes) == b"0123" and scanned == [b"0123"]
        response.close()

    _run(handler, client, timeout=2.0)


def test_a_relay_whose_write_fails_in_the_last_read_fails_the_answer() -> None:
    """A write to the client that raises, in the read that also ends the answer: the answer
    fails (an upstream error for the stream, as when a part was handed to the parser's
    callback) instead of ending as complete without its last parts, and its connection is
    closed, not pooled."""

    async def handler(_: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n0123\r\n")
        await writer.drain()
        await asyncio.sleep(0.1)
        writer.write(b"6\r\n456789\r\n0\r\n\r\n")  # the last part and the end, one read
        await writer.drain()
        return True

    async def client(upstream: Upstream) -> None:
        response = await upstream.post("/v1/x", b"{}")
        out = _Client(fails_at=2)
        scanned = _relay(response, out)
        with pytest.raises(UpstreamError, match="relaying the upstream's answer failed"):
            await asyncio.wait_for(response.ended(), 1.0)
        assert not response.complete and _unchunked(out.writes) == b"0123"
        response.scan()
        assert scanned == [b"0123"]
        response.close()
        assert upstream._idle == []  # not given back to the pool

    _run(handler, client, timeout=2.0)


@pytest.mark.parametrize(
    "start, piece",
    [
        (b"HTTP/1.1 200 OK\r\nX-Endless: ", b"a" * 65_536),  # a header without end
        (b"", b"HTTP/1.1 100 Continue\r\n\r\n" * 2_000),  # interim answers without end
    ],
    ids=["header", "interim"],
)
def test_a_head_without_end_fails_in_bounded_memory_and_time(start: bytes, piece: bytes) -> None:
    """An upstream sending a header without end grew the gateway by twice what it sent (64
    MiB: 125 MiB, and 10 s of the event loop spent copying it); one sending interim answers
    without end kept the request (its hold, its slot) waiting for as long as it sent them."""
    closed = asyncio.Event()

    async def handler(_: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> bool:
        writer.write(start)
        try:
            for _ in range(1_000):  # ~64 MiB
                writer.write(piece)
                await writer.drain()
        except ConnectionError:
            closed.set()
        return False

    async def client(upstream: Upstream) -> None:
        loop = asyncio.get_running_loop()
        began = loop.time()
        tracemalloc.start()
        try:
            with pytest.raises(UpstreamError, match="no head within"):
                await upstream.post("/v1/x", b"{}")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 8 * MAX_HEAD and loop.time() - began < 2
        await asyncio.wait_for(closed.wait(), 5)  # its connection was closed

    _run(handler, client)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", 200),
        (b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", 404),
        (b"HTTP/1.0 503 Service Unavailable\r\n\r\n", 503),
        (b"SSH-2.0-OpenSSH_9.6\r\n", "not HTTP"),
        (b"", "not HTTP"),  # closed at once
        (None, "did not answer within 0.3s"),  # silent
        (b"x" * 70_000, "ran over 64 KiB: not HTTP"),  # (readline's ValueError: /readyz a 500)
    ],
    ids=["ok", "404", "503", "garbage", "closed", "silent", "endless-line"],
)
def test_probe_is_the_status_of_a_get_of_the_models_or_a_clear_error(
    answer: bytes | None, expected: int | str
) -> None:
    """`Upstream.probe` (the gateway's /readyz): one GET of /v1/models, with the upstream's
    key, on a connection of its own, within its time; its status, or `UpstreamError`."""
    seen: list[bytes] = []

    async def main() -> int | str:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            seen.append(await reader.readuntil(b"\r\n\r\n"))
            if answer is not None:
                writer.write(answer)
                await writer.drain()
                writer.close()
            else:
                await asyncio.sleep(1)

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        upstream = Upstream(f"http://127.0.0.1:{port}/base", "k", 5.0)
        try:
            return await upstream.probe(0.3)
        except UpstreamError as exc:
            return str(exc)
        finally:
            server.close()

    got = asyncio.run(main())
    if isinstance(expected, int):
        assert got == expected
    else:
        assert isinstance(got, str) and expected in got, got
    assert seen[0].startswith(b"GET /base/v1/models HTTP/1.1\r\n")
    assert b"Authorization: Bearer k\r\n" in seen[0] and b"Connection: close" in seen[0]


def test_probe_of_an_upstream_not_listening_is_a_clear_error() -> None:
    async def main() -> str:
        upstream = Upstream(f"http://127.0.0.1:{free_port()}", None, 5.0)
        with pytest.raises(UpstreamError) as down:
            await upstream.probe(1.0)
        return str(down.value)

    assert "cannot be reached" in asyncio.run(main())
