"""A small HTTP/1.1 load generator: `python -m venice_ops.bench.load URL_PATHS_FILE ...`.

Runs in its own process (so the load does not share an interpreter with the server), opens
`--connections` keep-alive connections, each sending requests one after another for
`--seconds`, cycling through the lines of the file, and prints one JSON line: requests,
seconds, requests per second, latency percentiles in milliseconds and non-200 answers. Each
line is a path to GET, or with `--post PATH` a JSON body to POST to PATH. With `--expect TEXT`,
a 200 whose body lacks TEXT counts as a bad answer too (e.g. an authorize that was refused).
`--header "Name: value"` (repeatable) adds a header to every request (e.g. an API key).
`--rate R` sends R requests a second in all (open loop, spread over the connections) instead
of each connection's next request as soon as the last is answered, and counts each latency from
when its request was due (so a stall is not hidden by the requests it kept from being sent).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from urllib.parse import urlsplit


def requests(
    host: str, lines: list[str], post: str | None, headers: list[str] | None = None
) -> list[bytes]:
    """The raw HTTP/1.1 requests: a GET of each path, or a POST of each JSON body."""
    extra = "".join(f"{h.strip()}\r\n" for h in headers or [])
    if post is None:
        return [f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n".encode() for path in lines]
    return [
        (
            f"POST {post} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"{extra}Content-Length: {len(body.encode())}\r\n\r\n{body}"
        ).encode()
        for body in lines
    ]


async def _worker(
    host: str,
    port: int,
    raw: list[bytes],
    start: int,
    until: float,
    out: list[float],
    bad: list[int],
    expect: bytes | None,
    every: float | None = None,
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    i = start
    # Open loop (``every`` seconds between sends): each request's latency counts from when it
    # was due, so a server that falls behind is charged for the wait it caused.
    due = time.perf_counter() + (every or 0.0) * (start % 97) / 97
    try:
        while time.perf_counter() < until:
            request = raw[i % len(raw)]
            i += 1
            began = time.perf_counter()
            if every is not None:
                if due > began:
                    await asyncio.sleep(due - began)
                began, due = due, due + every
            writer.write(request)
            await writer.drain()
            status_line = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            body = await reader.readexactly(length)
            out.append(time.perf_counter() - began)
            if b" 200 " not in status_line or (expect is not None and expect not in body):
                bad.append(1)
    finally:
        writer.close()


async def run(
    base: str,
    lines: list[str],
    connections: int,
    seconds: float,
    post: str | None = None,
    expect: str | None = None,
    headers: list[str] | None = None,
    rate: float | None = None,
) -> dict[str, float]:
    parts = urlsplit(base)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    raw = requests(host, lines, post, headers)
    expected = expect.encode() if expect is not None else None
    latencies: list[float] = []
    bad: list[int] = []
    every = connections / rate if rate else None
    began = time.perf_counter()
    until = began + seconds
    await asyncio.gather(
        *(
            _worker(host, port, raw, k * 7, until, latencies, bad, expected, every)
            for k in range(connections)
        )
    )
    elapsed = time.perf_counter() - began
    ordered = sorted(latencies)
    cut = statistics.quantiles(ordered, n=100) if len(ordered) >= 100 else [0.0] * 99
    return {
        "requests": len(latencies),
        "seconds": elapsed,
        "rps": len(latencies) / elapsed,
        "p50_ms": cut[49] * 1_000,
        "p99_ms": cut[98] * 1_000,
        "errors": len(bad),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("base")
    parser.add_argument("paths_file")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--post", help="POST each line (a JSON body) to this path")
    parser.add_argument("--expect", help="text every 200 answer's body must contain")
    parser.add_argument("--header", action="append", help="'Name: value' on every request")
    parser.add_argument("--rate", type=float, help="requests per second in all (open loop)")
    args = parser.parse_args()
    with open(args.paths_file) as f:
        lines = [line.strip() for line in f if line.strip()]
    try:  # a lighter loop leaves more of the machine to the server measured
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    result = asyncio.run(
        run(args.base, lines, args.connections, args.seconds, args.post, args.expect, args.header,
            args.rate)
    )  # fmt: skip
    print(json.dumps(result))


if __name__ == "__main__":
    main()
