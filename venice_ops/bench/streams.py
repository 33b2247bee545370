"""Concurrent SSE streams for the gateway benchmark:
`python -m venice_ops.bench.streams BASE --streams 200 --model M [--header "Name: value"]`.

Runs in its own process. Opens ``--streams`` connections at once, each POSTing one streamed
chat completion to BASE, reads every chunk as it arrives and, for each chunk stamped by
`venice_ops.bench.upstream` (``"t"``: `time.monotonic()` when the upstream sent it), how long
it took to arrive. Prints one JSON line: streams, chunks, seconds, the per-chunk delay's
median, p99 and maximum in milliseconds, and bad streams (not a 200, or no ``[DONE]``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from urllib.parse import urlsplit

_STAMP = b'"t":'


def _stamps(events: bytes, now: float, out: list[float]) -> None:
    """Record the delay of each stamped event in ``events`` (whole events only)."""
    start = 0
    while (at := events.find(_STAMP, start)) >= 0:
        end = at + len(_STAMP)
        stop = events.find(b",", end)
        out.append(now - float(events[end:stop]))
        start = stop


class _Stream(asyncio.Protocol):
    """One stream read by a bare protocol (no reader task woken per chunk: the client takes as
    little of the machine as it can, leaving it to the servers measured): stamps the delay of
    each chunk when its bytes arrive."""

    def __init__(self, request: bytes, delays: list[float], done: asyncio.Future[str]) -> None:
        self.request, self.delays, self.done = request, delays, done
        self.head: bytes | None = b""  # the answer's head so far (None once it has ended)
        self.pending = b""  # the body after its last whole event
        self.chunks = 0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        if self.head is not None:
            self.head += data
            cut = self.head.find(b"\r\n\r\n")
            if cut < 0:
                return
            head, data = self.head[:cut].lower(), self.head[cut + 4 :]
            self.head = None
            status = head.split(b"\r\n", 1)[0]
            if b" 200 " not in status or b"chunked" not in head:
                self._end(status.decode())
                return
        # The chunked framing's size lines hold no stamp and no blank line: the events are
        # read through it (a stamp split across reads waits for its event's end).
        self.pending += data
        cut = self.pending.rfind(b"\n\n")
        if cut < 0:
            return
        whole, self.pending = self.pending[: cut + 2], self.pending[cut + 2 :]
        before = len(self.delays)
        _stamps(whole, now, self.delays)
        self.chunks += len(self.delays) - before
        if b"data: [DONE]" in whole:
            self._end("")

    def connection_lost(self, exc: Exception | None) -> None:
        self._end("no [DONE]")

    def _end(self, why: str) -> None:
        if not self.done.done():
            self.done.set_result(why)
        if self.transport is not None:
            self.transport.close()


async def _stream(host: str, port: int, request: bytes, delays: list[float], bad: list[str]) -> int:
    """One stream; the number of chunks it got."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[str] = loop.create_future()
    _, stream = await loop.create_connection(lambda: _Stream(request, delays, done), host, port)
    why = await done
    if why:
        bad.append(why)
    return stream.chunks


async def run(base: str, streams: int, model: str, headers: list[str]) -> dict[str, float]:
    parts = urlsplit(base)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    messages = [{"role": "user", "content": "Tell me a long story."}]
    body = json.dumps({"model": model, "stream": True, "max_tokens": 100_000, "messages": messages})
    extra = "".join(f"{h.strip()}\r\n" for h in headers)
    request = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\n"
        f"Content-Type: application/json\r\n{extra}Content-Length: {len(body)}\r\n\r\n{body}"
    ).encode()
    delays: list[float] = []
    bad: list[str] = []
    began = time.perf_counter()
    counts = await asyncio.gather(
        *(_stream(host, port, request, delays, bad) for _ in range(streams))
    )
    elapsed = time.perf_counter() - began
    cut = statistics.quantiles(delays, n=100) if len(delays) >= 100 else [0.0] * 99
    return {
        "streams": streams,
        "chunks": sum(counts),
        "seconds": elapsed,
        "p50_ms": cut[49] * 1_000,
        "p99_ms": cut[98] * 1_000,
        "max_ms": max(delays, default=0.0) * 1_000,
        "errors": len(bad),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("base")
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--model", required=True)
    parser.add_argument("--header", action="append", default=[], help="'Name: value'")
    args = parser.parse_args()
    try:  # a lighter loop leaves more of the machine to the server measured (as in load.py)
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    print(json.dumps(asyncio.run(run(args.base, args.streams, args.model, args.header))))


if __name__ == "__main__":
    main()
