"""uvicorn's HTTP protocols with one change: a connection must send a whole request's headers
within ``timeout_keep_alive`` seconds of opening, and of its last answer, or it is closed.

uvicorn arms its keep-alive timer only after an answer, and stops it at the first byte
received: a client that connects and sends nothing, or half a header line, holds its connection
(a file descriptor and a protocol object) for ever. A few thousand of those, from anyone, and
the server can accept no one else (`test_hostile_http`, `test_gateway_cli`). Here the timer is
also armed when the connection opens, and bytes that do not finish a request's headers leave it
running (to its first deadline: trickling bytes does not move it). It stops, as in uvicorn, once
a request's headers are in; a request being served has no deadline here.

On httptools, a request's head (its request line and headers) may also be at most `MAX_HEAD`
bytes (a 431, and the connection closed), and so may a chunked body's trailers (what of it is
not body, beyond the body's own size): uvicorn sets no limit there (h11 has its own, 16
KiB), and httptools gathers a header by concatenating its pieces as they arrive. One client
that sent a header of 100 MiB within the deadline grew a worker by 160 MiB and stalled its
event loop for seconds at a time (every copy longer than the last); 30 MiB of ``x: y`` lines,
sent in a second, made 5 million headers and 600 MiB.

`protocol` names the class for uvicorn's ``http`` setting.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["MAX_HEAD", "HeaderDeadlineH11", "HeaderDeadlineHttpTools", "protocol"]

#: Most bytes of a request's head on httptools (more: a 431 and the connection closed).
MAX_HEAD = 64 * 1024

_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8"
    b"\r\ncontent-length: 35\r\nconnection: close\r\n\r\nthe request's headers are too large"
)


class _HeaderDeadline:
    """Mixed into a uvicorn HTTP protocol (whose timer, cycle and loop it uses)."""

    def connection_made(self, transport: Any) -> None:
        me: Any = self
        super().connection_made(transport)  # type: ignore[misc]
        me.timeout_keep_alive_task = me.loop.call_later(
            me.timeout_keep_alive, me.timeout_keep_alive_handler
        )

    def data_received(self, data: bytes) -> None:
        me: Any = self
        pending, cycle = me.timeout_keep_alive_task, me.cycle
        super().data_received(data)  # type: ignore[misc]  # (stops the timer)
        if (
            pending is not None
            and me.cycle is cycle  # no request's headers came in: the deadline stands
            and me.timeout_keep_alive_task is None
            and not me.transport.is_closing()
        ):
            # (uvloop makes a timer due within 0.5 ms a plain Handle, without ``when``: one
            # re-armed that late is due now; reading its ``when`` failed the connection with a
            # "Fatal error on transport" traceback)
            when = getattr(pending, "when", None)
            me.timeout_keep_alive_task = me.loop.call_at(
                when() if when is not None else me.loop.time(), me.timeout_keep_alive_handler
            )


class HeaderDeadlineH11(_HeaderDeadline, H11Protocol):
    """uvicorn's h11 protocol with the header deadline."""


class HeaderDeadlineHttpTools(_HeaderDeadline, HttpToolsProtocol):
    """uvicorn's httptools protocol with the header deadline and `MAX_HEAD`."""

    _heads = 0  # heads ended so far
    _in_body = False  # a request's head has ended, its body not yet
    _body_bytes = 0  # bytes of bodies received on the connection
    _body_start = 0  # ... when the head or body under way began
    _overhead = 0  # bytes of that head or body that were not body (a body's: chunk sizes and
    # trailers, which are headers too, gathered by httptools as a head's are)

    def on_headers_complete(self) -> None:
        self._heads += 1
        self._in_body = True
        self._overhead, self._body_start = 0, self._body_bytes
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        self._body_bytes += len(body)
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._in_body = False
        self._overhead, self._body_start = 0, self._body_bytes
        super().on_message_complete()

    def data_received(self, data: bytes) -> None:
        heads, in_body, body = self._heads, self._in_body, self._body_bytes
        super().data_received(data)
        # Counted only when all of ``data`` is head (or the blank lines before one), or all of
        # it is inside one body: a read that ended a head or a body holds other bytes too (not
        # counted, at most one read's worth: the limit stays a bound).
        if self._heads != heads or in_body != self._in_body or self.transport.is_closing():
            return
        self._overhead += len(data) - (self._body_bytes - body)
        # A head's limit; a body's framing may be as much again as the body (its chunk sizes).
        if self._overhead > MAX_HEAD + self._body_bytes - self._body_start:
            cycle = self.cycle
            if cycle is None or cycle.response_complete or not cycle.response_started:
                self.transport.write(_TOO_LARGE)  # (never into an answer under way)
            self.transport.close()


def protocol(name: str = "auto") -> type[asyncio.Protocol]:
    """The protocol class for ``name`` (``auto`` and ``httptools``: httptools, a dependency
    of the server; ``h11``)."""
    return HeaderDeadlineH11 if name == "h11" else HeaderDeadlineHttpTools
