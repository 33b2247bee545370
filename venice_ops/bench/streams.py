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


async def _stream(host: str, port: int, request: bytes, delays: list[float], bad: list[str]) -> int:
    """One stream; the number of chunks it got."""
    reader, writer = await asyncio.open_connection(host, port)
    chunks = 0
    try:
        writer.write(request)
        await writer.drain()
        status = await reader.readline()
        chunked = False
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "transfer-encoding" and "chunked" in value:
                chunked = True
        if b" 200 " not in status or not chunked:
            bad.append(status.decode().strip())
            return 0
        pending = b""
        while True:
            size = int((await reader.readline()).strip(), 16)
            if size == 0:
                await reader.readline()
                break
            data = await reader.readexactly(size + 2)
            now = time.monotonic()
            pending += data[:-2]
            cut = pending.rfind(b"\n\n")
            if cut < 0:
                continue
            whole, pending = pending[: cut + 2], pending[cut + 2 :]
            before = len(delays)
            _stamps(whole, now, delays)
            chunks += len(delays) - before
            if b"data: [DONE]" in whole:
                return chunks
        bad.append("no [DONE]")
        return chunks
    finally:
        writer.close()


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
