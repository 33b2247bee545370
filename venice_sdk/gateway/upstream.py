"""The gateway's client to its upstream: keep-alive HTTP/1.1 connections, one pool per worker.

A small client on asyncio's protocols and httptools' response parser (the C parser uvicorn
uses), because the forwarding path runs once per request and once per streamed chunk: measured
in alternating rounds on this project's 2-core benchmark machine, aiohttp's client spent 79-103
us of CPU per non-streaming request and this one 36-40 us (httpx's pool, before aiohttp, was
slower still). It does what the gateway needs and nothing else: POST a JSON body, then read
the answer whole or as its bytes arrive (``Content-Length``, chunked, or up to the close), over
``http`` or ``https``.

Timeouts: ``timeout`` seconds with nothing read from the upstream while waiting for its answer
(a stream may run longer in all), 10 s to connect, and 10 s to get a connection when every one
the pool may open (`MAX_CONNECTIONS`) is in use. `UPSTREAM_ERRORS` is what a failed or timed
out upstream raises (the gateway answers 503, or ends a stream with an error event). Closing an
answer before its end closes its connection, which cancels the request upstream; a connection
whose answer was read to the end goes back to the pool. A request sent on a kept-alive
connection that the upstream had closed meanwhile (nothing came back) is sent once more on a new
one, if that close came within `RETRY_WINDOW` of sending (later, the upstream may have worked
on it: the request is not run twice).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Callable
from typing import Protocol
from urllib.parse import urlsplit

import httptools

__all__ = [
    "MAX_ANSWER",
    "UPSTREAM_ERRORS",
    "Upstream",
    "UpstreamError",
    "UpstreamResponse",
    "acquire_within",
    "describe",
]

#: Seconds to open a connection to the upstream.
CONNECT_TIMEOUT = 10.0
#: Most connections open to the upstream per worker (more requests wait for one).
MAX_CONNECTIONS = 2_000
#: Seconds a request waits for one of them before it fails (a 503, its hold released): it
#: waited for ever, holding its credit, while long streams kept every connection.
SLOT_TIMEOUT = 10.0
#: Seconds after sending in which a kept-alive connection's close, with nothing answered, is
#: taken for the upstream closing it while idle (the request is sent again on a new one).
RETRY_WINDOW = 0.25
#: Bytes of an answer read ahead of the gateway before the upstream's socket is paused.
READ_AHEAD = 256 * 1024
#: Most bytes the upstream may send before its answer's head has ended (interim ``1xx`` answers
#: included): a head without end was kept whole (each part copied onto the last, on the event
#: loop), and interim answers without end kept a request waiting for ever.
MAX_HEAD = 1024 * 1024
#: Most bytes of an answer read whole (`UpstreamResponse.read`): an upstream sending a body
#: without end fails the request instead of filling the gateway's memory. The largest honest
#: answers are embeddings of 2,048 inputs (~60 MB as JSON) and base64 images.
MAX_ANSWER = 256 * 1024 * 1024


async def acquire_within(gate: asyncio.Semaphore, seconds: float) -> bool:
    """Take one of ``gate``'s places, waiting up to ``seconds`` for one: whether it got one.
    (No timer when one is free: most calls, on a request's path.)"""
    if not gate.locked():
        await gate.acquire()
        return True
    try:
        async with asyncio.timeout(seconds):
            await gate.acquire()
    except TimeoutError:
        return False
    return True


class UpstreamError(Exception):
    """The upstream could not be reached, closed the connection early, or answered something
    that is not HTTP (not an `OSError`: those, in the gateway, are its client's socket)."""


#: What sending to, or reading from, the upstream raises when it fails or times out.
UPSTREAM_ERRORS: tuple[type[BaseException], ...] = (UpstreamError, TimeoutError)


def describe(exc: BaseException) -> str:
    """An upstream error in a few words (a timeout's own message is empty)."""
    return str(exc) or type(exc).__name__


class _Connection(asyncio.Protocol):
    """One connection, answering one request at a time (its `UpstreamResponse`)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.lost = False
        self.used = False  # has answered a request before (a kept-alive connection)
        self.response: UpstreamResponse | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        response = self.response
        if response is None:  # nothing asked: an upstream talking out of turn
            self.close()
            return
        response._last = self.loop.time()
        response._got_any = True
        try:
            response._parser.feed_data(data)  # the body's parts: to response._parts
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            response._fail(UpstreamError(f"the upstream's answer is not HTTP: {exc}"))
            self.close()
        finally:
            if response._parts:  # (what arrived before an error too)
                try:
                    response._deliver()
                except Exception as exc:  # the relay's write or scan: the answer fails
                    response._broken(exc)
                    self.close()
        if not response._head and not self.lost:  # (a read that ended the head: not counted)
            response._head_bytes += len(data)
            if response._head_bytes > MAX_HEAD:
                response._fail(UpstreamError(f"the upstream's answer has no head within "
                                             f"{MAX_HEAD:,} bytes"))  # fmt: skip
                self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        response = self.response
        if response is not None and not response.complete:
            if response._until_close and response.status:
                response._finish()  # an answer delimited by the connection's close
            else:
                why = f": {exc}" if exc else ""
                response._fail(UpstreamError(f"the upstream closed the connection{why}"))

    def close(self) -> None:
        self.lost = True
        if self.transport is not None:
            self.transport.close()


class _Out(Protocol):
    """Where a relayed body is written (an asyncio transport)."""

    def write(self, data: bytes) -> None: ...
    def is_closing(self) -> bool: ...


class _Flow(Protocol):
    """Whether writes to a relay's transport are paused (its socket is full)."""

    write_paused: bool


#: Bytes relayed before they are scanned (`UpstreamResponse.relay`): the scan of a batch runs at
#: C speed, where a call per chunk cost as much as writing it.
SCAN_BATCH = 16 * 1024


class UpstreamResponse:
    """The upstream's answer to one request: ``status`` once its head has arrived; the body by
    `read` (whole) or `iter_any` (as it arrives). `close` when done (always)."""

    def __init__(self, upstream: Upstream, connection: _Connection) -> None:
        self._upstream = upstream
        self._connection = connection
        # The parser hands each part of the body to a list (a C call, no Python frame per
        # part); `_deliver` takes them once the read is parsed.
        self._parts: list[bytes] = []
        self.on_body = self._parts.append
        self._parser = httptools.HttpResponseParser(self)
        self.status = 0
        self.complete = False
        self._head = False
        self._head_bytes = 0  # received before the head ended (reads that did not end it)
        self._until_close = True  # no Content-Length, not chunked: the body ends at the close
        self._chunks: list[bytes] = []
        self._buffered = 0
        self._paused = False
        self._error: BaseException | None = None
        self._waiter: asyncio.Future[bool] | None = None
        self._last = connection.loop.time()
        self._got_any = False
        self._closed = False
        self._keep = False  # the connection may carry another request after this answer
        self._out: _Out | None = None  # `relay`'s: the transport the body is written to
        self._flow: _Flow  # set by `relay` with _out
        self._scan: Callable[[bytes], None] | None = None
        self._unscanned = bytearray()
        self._poked = False

    # --- httptools' callbacks ---------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self.complete:  # more after the answer's end: the connection can carry no other
            raise UpstreamError("the upstream sent more than its answer")

    def on_header(self, name: bytes, _value: bytes) -> None:
        if name.lower() in (b"content-length", b"transfer-encoding"):
            self._until_close = False

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if 100 <= status < 200:  # an interim answer (100 Continue): the real one follows
            return
        self.status, self._head = status, True
        self._wake()

    def _deliver(self) -> None:
        """The body's parts parsed from one read, as one: written to the relay's transport
        (`relay`), else kept for `read` / `iter_any`. One Python call per read of a stream (the
        parser hands its parts to a list): calls are most of what a relayed chunk costs."""
        parts = self._parts
        body = parts[0] if len(parts) == 1 else b"".join(parts)
        parts.clear()
        out = self._out
        if out is None:
            self._chunks.append(body)
            self._buffered += len(body)
            if self._buffered > READ_AHEAD:
                self.hold()
            self._wake()
        elif out.is_closing():  # the client is gone: the task ends the stream
            self._stop_relay()
        else:
            out.write(b"%x\r\n%s\r\n" % (len(body), body))
            unscanned = self._unscanned
            unscanned += body
            if len(unscanned) >= SCAN_BATCH:
                self.scan()
            if self._flow.write_paused:  # the client reads slower than the upstream sends
                self._stop_relay()

    def on_message_complete(self) -> None:
        if self._head:
            self._keep = self._parser.should_keep_alive()  # (reads False once past the end)
            self._finish()

    # --- state ----------------------------------------------------------------------------

    def _finish(self) -> None:
        self.complete = True
        self._wake()

    def _broken(self, exc: Exception) -> None:
        """Delivering a read failed: the answer fails even if its end was in that read (its
        last parts were not delivered), and its connection is not used again."""
        self.complete = False
        self._error = UpstreamError(f"relaying the upstream's answer failed: {describe(exc)}")
        self._wake()

    def _fail(self, exc: BaseException) -> None:
        if self._error is None and not self.complete:
            self._error = exc
        self._wake()

    def _wake(self, news: bool = True) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(news)

    async def _wait(self) -> None:
        """Until something arrives (raises `TimeoutError` after ``timeout`` s of nothing)."""
        loop = self._connection.loop
        timeout = self._upstream.timeout
        while True:
            idle = loop.time() - self._last
            if idle >= timeout:
                self._connection.close()
                raise TimeoutError(f"the upstream sent nothing for {timeout:g}s")
            self._waiter = waiter = loop.create_future()
            timer = loop.call_later(timeout - idle, self._wake, False)
            try:
                if await waiter:
                    return
            finally:
                timer.cancel()
                self._waiter = None

    def _take(self) -> bytes:
        data = self._chunks[0] if len(self._chunks) == 1 else b"".join(self._chunks)
        self._chunks.clear()
        self._buffered = 0
        if self._paused:  # silent while paused (it could not send): the timeout starts over
            self.release_hold()
        return data

    # --- the caller's side ----------------------------------------------------------------

    async def _read_head(self) -> None:
        while not self._head:
            if self._error is not None:
                raise self._error
            await self._wait()

    async def read(self, limit: int = MAX_ANSWER) -> bytes:
        """The whole body. Raises `UPSTREAM_ERRORS` if the upstream fails before its end, or
        sends more than ``limit`` bytes (its connection is then closed)."""
        parts: list[bytes] = []
        size = 0
        async for data in self.iter_any():
            size += len(data)
            if size > limit:
                self._connection.close()
                raise UpstreamError(f"the upstream's answer is over {limit:,} bytes")
            parts.append(data)
        return b"".join(parts)

    async def iter_any(self) -> AsyncIterator[bytes]:
        """The body's bytes as they arrive (whatever has arrived at each step)."""
        while True:
            if self._chunks:
                yield self._take()
            elif self.complete:
                return
            elif self._error is not None:
                raise self._error
            else:
                await self._wait()

    def relay(self, out: _Out, flow: _Flow, scan: Callable[[bytes], None]) -> None:
        """Write each part of the body to ``out`` as it arrives, in HTTP/1.1's chunked
        framing, from the connection's own callback (what arrived before, at once): no task
        wakes up per part, which is most of what relaying a streamed chunk costs in Python.
        ``scan`` is given the bytes written, in order, in batches of `SCAN_BATCH` bytes (the
        rest by `scan`). When ``out`` is closing (the client is gone) or ``flow.write_paused``
        (its socket is full), the upstream is held (not read) and `ended` woken; the caller
        then ends the stream or waits for ``out`` to drain and calls `release_hold`."""
        self._out, self._flow, self._scan = out, flow, scan
        if self._chunks:
            self._parts.append(self._take())
            self._deliver()

    def scan(self) -> None:
        """Hand the bytes relayed and not yet scanned to the relay's ``scan``."""
        if self._unscanned and self._scan is not None:
            data = bytes(self._unscanned)
            self._unscanned.clear()
            self._scan(data)

    def _stop_relay(self) -> None:
        self.hold()
        self.poke()

    def hold(self) -> None:
        """Stop reading the upstream (its sends wait in the socket's buffers)."""
        transport = self._connection.transport
        if not self._paused and transport is not None and not self._connection.lost:
            self._paused = True
            transport.pause_reading()

    def release_hold(self) -> None:
        """Read the upstream again after `hold` (the silence timeout starts over)."""
        transport = self._connection.transport
        if self._paused and transport is not None and not self._connection.lost:
            self._paused = False
            transport.resume_reading()
        self._last = self._connection.loop.time()

    async def ended(self) -> None:
        """Until the body has ended (raises `UPSTREAM_ERRORS` if the upstream fails first,
        `TimeoutError` after ``timeout`` s of silence); woken early by `poke`."""
        while not self.complete:
            if self._poked:  # (poked before this wait too: by `relay`, at once)
                self._poked = False
                return
            if self._error is not None:
                raise self._error
            await self._wait()

    def poke(self) -> None:
        """Wake `ended` (which returns, the body not ended): the relay needs the task."""
        self._poked = True
        self._wake()

    def close(self) -> None:
        """Done with the answer: its connection goes back to the pool if the answer was read
        to its end and may be kept, else it is closed (cancelling the request upstream)."""
        if self._closed:
            return
        self._closed = True
        connection = self._connection
        connection.response = None
        keep = self.complete and not self._chunks and self._keep
        if keep and not connection.lost:
            self.release_hold()  # a hold in the read that ended the answer: read the next one
            self._upstream._put_back(connection)
        else:
            connection.close()
            self._upstream._gone()
        self._upstream._done()


class Upstream:
    """POSTs to ``base`` (``http(s)://host:port``, no trailing slash) over kept-alive
    connections; ``key``: the bearer token the upstream wants, if any; ``timeout``: seconds of
    silence from the upstream before a read fails. Its pool lives in the event loop of its first
    request (a gateway worker's) and is closed by `close`."""

    def __init__(self, base: str, key: str | None, timeout: float) -> None:
        self.base = base.rstrip("/")
        parts = urlsplit(self.base)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"upstream must be an http(s) URL, not {base!r}")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.ssl = ssl.create_default_context() if parts.scheme == "https" else None
        self.prefix = parts.path.rstrip("/")
        authority = parts.netloc.rsplit("@", 1)[-1]
        auth = f"Authorization: Bearer {key}\r\n" if key else ""
        self._head = (
            f"Host: {authority}\r\nContent-Type: application/json\r\nAccept: */*\r\n{auth}"
        ).encode("latin-1")
        self.timeout = timeout
        self._idle: list[_Connection] = []
        self._open = 0
        self._slots: asyncio.Semaphore | None = None

    async def post(self, path: str, body: bytes) -> UpstreamResponse:
        """Send ``body`` (JSON) to ``path`` and return once the answer's head has arrived (its
        body is read, or streamed, by the caller, who closes it). Raises `UPSTREAM_ERRORS`."""
        request = b"POST %s HTTP/1.1\r\n%sContent-Length: %d\r\n\r\n%s" % (
            (self.prefix + path).encode("latin-1"), self._head, len(body), body
        )  # fmt: skip
        for attempt in (1, 2):
            connection = await self._connection()
            response = UpstreamResponse(self, connection)
            connection.response = response
            reused, connection.used = connection.used, True
            assert connection.transport is not None
            sent = connection.loop.time()
            connection.transport.write(request)
            try:
                await response._read_head()
                return response
            except UpstreamError:
                response.close()
                # A kept-alive connection the upstream closed while it was idle (the close
                # crossed the request): nothing came back at once, so the request is sent once
                # more on a new connection. A close later than that may have ended a request
                # the upstream worked on: not sent again (it would run twice).
                quick = connection.loop.time() - sent <= RETRY_WINDOW
                if attempt == 1 and reused and quick and not response._got_any:
                    continue
                raise
            except BaseException:
                response.close()
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def probe(self, seconds: float = 2.0) -> int:
        """Readiness: the HTTP status of a ``GET /v1/models`` on a connection of its own (not
        the pool's), within ``seconds``. Raises `UpstreamError` if none came."""
        head = self._head.replace(b"Content-Type: application/json\r\n", b"")
        request = b"GET %s/v1/models HTTP/1.1\r\n%sConnection: close\r\n\r\n" % (
            self.prefix.encode("latin-1"), head
        )  # fmt: skip
        writer: asyncio.StreamWriter | None = None
        try:
            async with asyncio.timeout(seconds):
                reader, writer = await asyncio.open_connection(self.host, self.port, ssl=self.ssl)
                writer.write(request)
                line = await reader.readline()
            parts = line.split(None, 2)
            if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
                raise UpstreamError(f"the upstream answered {line[:60]!r}, not HTTP")
            return int(parts[1])
        except TimeoutError:
            raise UpstreamError(f"the upstream did not answer within {seconds:g}s") from None
        except OSError as exc:
            raise UpstreamError(f"the upstream cannot be reached: {describe(exc)}") from None
        except ValueError:  # (readline's: 64 KiB with no line end)
            raise UpstreamError("the upstream's first line ran over 64 KiB: not HTTP") from None
        finally:
            if writer is not None:
                writer.close()

    async def _connection(self) -> _Connection:
        # A slot per connection in use (not per connection open): a request waiting for one
        # takes the connection the request before it gives back. Open connections stay at most
        # MAX_CONNECTIONS: a new one is made only when none is idle.
        if self._slots is None:
            self._slots = asyncio.Semaphore(MAX_CONNECTIONS)
        if not await acquire_within(self._slots, SLOT_TIMEOUT):
            raise UpstreamError(
                f"every connection to the upstream stayed in use for {SLOT_TIMEOUT:g}s"
            )
        while self._idle:
            connection = self._idle.pop()
            if not connection.lost:
                return connection
            self._gone()
        loop = asyncio.get_running_loop()
        try:
            _, protocol = await asyncio.wait_for(
                loop.create_connection(
                    lambda: _Connection(loop), self.host, self.port, ssl=self.ssl
                ),
                CONNECT_TIMEOUT,
            )
        except BaseException as exc:
            self._slots.release()
            if isinstance(exc, TimeoutError):
                raise TimeoutError(f"no connection within {CONNECT_TIMEOUT:g}s") from None
            if isinstance(exc, OSError):  # refused, unreachable, TLS: the upstream's fault
                raise UpstreamError(f"cannot connect to {self.base}: {describe(exc)}") from exc
            raise
        self._open += 1
        return protocol

    def _put_back(self, connection: _Connection) -> None:
        self._idle.append(connection)

    def _gone(self) -> None:
        """A connection closed."""
        self._open = max(0, self._open - 1)

    def _done(self) -> None:
        """A request is done with its connection (given back or closed): its slot is free."""
        if self._slots is not None:
            self._slots.release()

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()
            self._gone()
