"""Benchmark of the sidecar under hostile sign-ins (issue 13): `ape run bench_hostile
[--seconds 5] [--connections 16] [--samples 50]`.

Deploys the suite on a local Anvil and starts `venice-sdk serve` against it (one uvicorn
worker, SQLite ledger, internal routes open on loopback). Prints:

* how long a 1 MiB garbage `POST /v1/auth/siwe` takes to be refused (413, unread), and a
  2 KB garbage message (400 `malformed_message`, through JSON parsing and the SIWE check),
  over HTTP, median of `--samples`; and `parse_message` on 1 MiB of garbage in process.
  Target: < 5 ms for the 1 MiB body.
* cached `GET /v1/entitlements/{address}` for 200 wallets (`venice_ops/bench/load.py` from its own
  process, median of 3 rounds), alone and while 4 other processes post 2 KB garbage sign-ins
  as fast as they are answered, side by side. Target: >= 1,500 requests/s at p99 <= 20 ms.
"""

from __future__ import annotations

import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import click
from ape import accounts, chain
from ape.cli import ConnectedProviderCommand
from ape.logging import logger
from eth_utils import to_checksum_address
from rich.console import Console
from rich.table import Table

from venice_ops.bench.setup import machine_load
from venice_ops.bench.sidecar import load, sidecar, warm
from venice_ops.deploy.config import load_config
from venice_ops.deploy.suite import deploy_suite, write_manifest
from venice_ops.paths import PROJECT_ROOT

console = Console(width=110)

# One garbage client: posts 2 KB garbage sign-ins on one keep-alive connection until killed,
# and counts the answers by status in a file when it stops.
GARBAGE_CLIENT = """
import http.client, json, signal, sys
host, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
body = json.dumps({"message": "a" * 2000, "signature": "0x00"})
counts = {}
def stop(*_):
    open(out, "w").write(json.dumps(counts))
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
conn = http.client.HTTPConnection(host, port, timeout=10)
while True:
    conn.request("POST", "/v1/auth/siwe", body, {"Content-Type": "application/json"})
    response = conn.getresponse()
    response.read()
    counts[response.status] = counts.get(response.status, 0) + 1
"""


def refusal_ms(base: str, body: bytes, samples: int) -> tuple[float, int]:
    """Median milliseconds from sending a POST /v1/auth/siwe to its answer, and its status: the
    headers and the first 64 KiB of ``body`` are sent (all of a small one); a server that
    refuses a large body by its Content-Length answers without waiting for the rest."""
    parts = urlsplit(base)
    times, status = [], 0
    head = (
        f"POST /v1/auth/siwe HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    for _ in range(samples):
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80)) as sock:
            start = time.perf_counter()
            sock.sendall(head + body[: 64 * 1024])  # the rest is sent only if asked for
            answer = b""
            while b"\r\n\r\n" not in answer:
                try:
                    chunk = sock.recv(65_536)
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                answer += chunk
            times.append((time.perf_counter() - start) * 1_000)
            status = int(answer.split(b" ", 2)[1]) if answer else 0
    return statistics.median(times), status


@click.command(cls=ConnectedProviderCommand)
@click.option("--seconds", default=5.0, show_default=True, help="Seconds per round.")
@click.option("--connections", default=16, show_default=True, help="Keep-alive connections.")
@click.option("--samples", default=50, show_default=True, help="Garbage posts timed.")
def cli(seconds: float, connections: int, samples: int) -> None:
    """The sidecar's refusal of garbage sign-ins, and its entitlement reads under them."""
    from venice_sdk.auth import AuthError
    from venice_sdk.auth.siwe import parse_message

    logger.set_level("WARNING")
    config = load_config()
    suite = deploy_suite(accounts.test_accounts[0], config, {"treasury": "test:1"})
    work = Path(tempfile.mkdtemp(prefix="venice-hostile-"))
    manifest = write_manifest(suite, config, work)
    rpc = str(chain.provider.http_uri)
    load_before = os.getloadavg()

    garbage = "a" * (1 << 20)
    start = time.perf_counter()
    for _ in range(1_000):
        with contextlib.suppress(AuthError):
            parse_message(garbage, "localhost")
    in_process_us = (time.perf_counter() - start) * 1_000

    wallets = [to_checksum_address((0xA000 + i).to_bytes(20, "big")) for i in range(200)]
    paths = work / "paths.txt"
    paths.write_text("".join(f"/v1/entitlements/{w}\n" for w in wallets))
    big = b'{"message": "' + b"a" * (1 << 20) + b'", "signature": "0x00"}'
    small = b'{"message": "' + b"a" * 2_000 + b'", "signature": "0x00"}'
    with sidecar(manifest, rpc, work / "serve") as base:
        warm(base, wallets)
        big_ms, big_status = refusal_ms(base, big, samples)
        small_ms, small_status = refusal_ms(base, small, samples)
        clean = load(base, paths, connections, seconds)
        parts = urlsplit(base)
        clients = [
            subprocess.Popen(
                [
                    *(sys.executable, "-c", GARBAGE_CLIENT),
                    *(parts.hostname or "127.0.0.1", str(parts.port), str(work / f"g{i}.json")),
                ],
                cwd=PROJECT_ROOT,
            )
            for i in range(4)
        ]
        try:
            time.sleep(0.5)
            attacked = load(base, paths, connections, seconds)
        finally:
            for client in clients:
                client.terminate()
            for client in clients:
                try:
                    client.wait(timeout=10)
                except subprocess.TimeoutExpired:  # stuck in a request: its count is lost
                    client.kill()
                    client.wait()
        answered = [
            path.read_text() if path.exists() else "{}"
            for path in (work / f"g{i}.json" for i in range(4))
        ]
    load_after = os.getloadavg()

    table = Table(title="Garbage sign-ins refused (median)")
    for column in ("request", "answer", "ms", "target", "ok"):
        table.add_column(column, justify="left" if column == "request" else "right")
    table.add_row(
        "1 MiB garbage, over HTTP",
        str(big_status),
        f"{big_ms:.2f}",
        "< 5 ms",
        "yes" if big_ms < 5 and big_status == 413 else "[red]NO[/red]",
    )
    table.add_row("2 KB garbage, over HTTP", str(small_status), f"{small_ms:.2f}", "", "")
    table.add_row("1 MiB garbage, parse_message", "refused", f"{in_process_us / 1_000:.4f}", "", "")
    console.print(table)

    table = Table(
        title=f"GET /v1/entitlements (cached), median of 3 rounds of {seconds:g} s, "
        f"{connections} connections"
    )
    for column in ("", "clean", "4 garbage clients", "target", "ok"):
        table.add_column(column, justify="left" if not column else "right")
    ok = [f["rps"] >= 1_500 and f["p99_ms"] <= 20 and f["errors"] == 0 for f in (clean, attacked)]
    table.add_row("requests/s", f"{clean['rps']:,.0f}", f"{attacked['rps']:,.0f}", ">= 1,500", "")
    table.add_row("p50 ms", f"{clean['p50_ms']:.2f}", f"{attacked['p50_ms']:.2f}", "", "")
    table.add_row("p99 ms", f"{clean['p99_ms']:.2f}", f"{attacked['p99_ms']:.2f}", "<= 20", "")
    table.add_row("bad answers", str(clean["errors"]), str(attacked["errors"]), "0", "")
    table.add_row("meets target", *("yes" if x else "[red]NO[/red]" for x in ok), "", "")
    console.print(table)
    console.print(f"clean rounds: {clean['rounds']}")
    console.print(f"attacked rounds: {attacked['rounds']}")
    console.print(f"garbage clients' answers by status: {'; '.join(answered)}")
    console.print(machine_load(load_before, load_after))
