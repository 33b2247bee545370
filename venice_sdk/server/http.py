"""uvicorn's HTTP protocols with one change: a connection must send a whole request's headers
within ``timeout_keep_alive`` seconds of opening, and of its last answer, or it is closed.

uvicorn arms its keep-alive timer only after an answer, and stops it at the first byte
received: a client that connects and sends nothing, or half a header line, holds its connection
(a file descriptor and a protocol object) for ever. A few thousand of those, from anyone, and
the server can accept no one else (`test_hostile_http`, `test_gateway_cli`). Here the timer is
also armed when the connection opens, and bytes that do not finish a request's headers leave it
running (to its first deadline: trickling bytes does not move it). It stops, as in uvicorn, once
a request's headers are in; a request being served has no deadline here.

`protocol` names the class for uvicorn's ``http`` setting.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["HeaderDeadlineH11", "HeaderDeadlineHttpTools", "protocol"]


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
            me.timeout_keep_alive_task = me.loop.call_at(
                pending.when(), me.timeout_keep_alive_handler
            )


class HeaderDeadlineH11(_HeaderDeadline, H11Protocol):
    """uvicorn's h11 protocol with the header deadline."""


class HeaderDeadlineHttpTools(_HeaderDeadline, HttpToolsProtocol):
    """uvicorn's httptools protocol with the header deadline."""


def protocol(name: str = "auto") -> type[asyncio.Protocol]:
    """The protocol class for ``name`` (``auto`` and ``httptools``: httptools, a dependency
    of the server; ``h11``)."""
    return HeaderDeadlineH11 if name == "h11" else HeaderDeadlineHttpTools
