"""A small HTTP/1.1 load generator: `python -m scripts._lib.load URL_PATHS_FILE ...`.

Runs in its own process (so the load does not share an interpreter with the server), opens
`--connections` keep-alive connections, each sending GETs one after another for `--seconds`,
cycling through the paths in the file, and prints one JSON line: requests, seconds, requests
per second, latency percentiles in milliseconds and non-200 answers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from urllib.parse import urlsplit


async def _worker(
    host: str,
    port: int,
    paths: list[str],
    start: int,
    until: float,
    out: list[float],
    bad: list[int],
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    i = start
    try:
        while time.perf_counter() < until:
            path = paths[i % len(paths)]
            i += 1
            began = time.perf_counter()
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
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
            await reader.readexactly(length)
            out.append(time.perf_counter() - began)
            if b" 200 " not in status_line:
                bad.append(1)
    finally:
        writer.close()


async def run(base: str, paths: list[str], connections: int, seconds: float) -> dict[str, float]:
    parts = urlsplit(base)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    latencies: list[float] = []
    bad: list[int] = []
    began = time.perf_counter()
    until = began + seconds
    await asyncio.gather(
        *(_worker(host, port, paths, k * 7, until, latencies, bad) for k in range(connections))
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
    args = parser.parse_args()
    with open(args.paths_file) as f:
        paths = [line.strip() for line in f if line.strip()]
    print(json.dumps(asyncio.run(run(args.base, paths, args.connections, args.seconds))))


if __name__ == "__main__":
    main()
