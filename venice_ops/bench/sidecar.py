"""Benchmark of the sidecar: `ape run bench_sidecar [--seconds 5] [--connections 16]`.

Deploys the suite on a local Anvil and starts `venice-sdk serve` against it (one uvicorn
worker). Loads it from a separate process (`venice_ops/bench/load.py`, keep-alive connections) and
prints requests per second and latency percentiles, median of 3 rounds each:

* `GET /v1/entitlements/{address}` for 200 wallets, cache warm (SQLite ledger). Target:
  >= 1,500 requests/s at p99 <= 20 ms for cached entitlements on loopback.
* `POST /v1/authorize` for 64 wallets with staked DIEM, cache warm, on a Redis ledger
  (appendfsync everysec): with `--authorize-batch 1` (each request decided on its own) and
  with the default batching (concurrent requests decided together), and their ratio. Every
  answer must be an allowed decision. `--no-authorize` skips these.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from ape import accounts, chain
from ape.api import AccountAPI
from ape.cli import ConnectedProviderCommand
from ape.logging import logger
from eth_utils import to_checksum_address
from rich.console import Console
from rich.table import Table

from venice_ops.bench.redis import free_port, start_redis
from venice_ops.bench.setup import credit_wallets, machine_load
from venice_ops.deploy.config import load_config
from venice_ops.deploy.suite import Suite, deploy_suite, write_manifest
from venice_ops.paths import PROJECT_ROOT

console = Console(width=110)


@contextmanager
def server_process(
    what: str, cmd: Sequence[str], ready_url: str
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``cmd`` (a server) until the block ends, once ``ready_url`` answers (any HTTP
    status: the server is up); yields its process."""
    server = subprocess.Popen(list(cmd), cwd=PROJECT_ROOT)
    try:
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(ready_url, timeout=1):
                    break
            except urllib.error.HTTPError:
                break
            except OSError:
                if time.time() > deadline or server.poll() is not None:
                    raise click.ClickException(f"the {what} did not start") from None
                time.sleep(0.2)
        yield server
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


@contextmanager
def sidecar(manifest: Path, rpc: str, work: Path, *options: str) -> Iterator[str]:
    """`venice-sdk serve` on a free port until the block ends; yields its base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cmd = [
        *(sys.executable, "-m", "venice_sdk.cli", "serve", "--manifest", str(manifest)),
        *("--rpc", rpc, "--port", str(port), "--data-dir", str(work), "--ttl", "3600"),
        *options,
    ]
    with server_process("sidecar", cmd, f"{base}/healthz"):
        yield base


def load(base: str, lines: Path, connections: int, seconds: float, *options: str) -> dict[str, Any]:
    """Three rounds of load from a separate process; the median of each measure."""
    rounds = []
    for _ in range(3):
        out = subprocess.run(
            [
                *(sys.executable, "-m", "venice_ops.bench.load", base, str(lines)),
                *("--connections", str(connections), "--seconds", str(seconds), *options),
            ],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        rounds.append(json.loads(out.stdout))
    figures = {key: statistics.median(r[key] for r in rounds) for key in ("rps", "p50_ms")}
    figures["p99_ms"] = statistics.median(r["p99_ms"] for r in rounds)
    figures["errors"] = sum(r["errors"] for r in rounds)
    figures["requests"] = sum(r["requests"] for r in rounds)
    figures["rounds"] = "; ".join(f"{r['rps']:,.0f}/s p99 {r['p99_ms']:.1f} ms" for r in rounds)
    return figures


def warm(base: str, wallets: Sequence[str]) -> None:
    for wallet in wallets:
        urllib.request.urlopen(f"{base}/v1/entitlements/{wallet}", timeout=10).read()


@click.command(cls=ConnectedProviderCommand)
@click.option("--seconds", default=5.0, show_default=True, help="Seconds per round.")
@click.option("--connections", default=16, show_default=True, help="Keep-alive connections.")
@click.option(
    "--authorize/--no-authorize",
    default=True,
    show_default=True,
    help="Also measure POST /v1/authorize on Redis, one by one and batched.",
)
def cli(seconds: float, connections: int, authorize: bool) -> None:
    """Requests per second and p99 of the sidecar: cached entitlement reads and authorize."""
    suite, deployer, work, manifest = deployed("venice-sidecar-")
    rpc = str(chain.provider.http_uri)
    load_before = os.getloadavg()

    wallets = [str(to_checksum_address((0xA000 + i).to_bytes(20, "big"))) for i in range(200)]
    paths = work / "paths.txt"
    paths.write_text("".join(f"/v1/entitlements/{w}\n" for w in wallets))
    with sidecar(manifest, rpc, work / "get") as base:
        warm(base, wallets)
        figures = {"GET /v1/entitlements": load(base, paths, connections, seconds)}

    if authorize:
        stakers = credit_wallets(suite, deployer)
        bodies = work / "authorize.txt"
        request = {"model": "qwen3-4b", "input_tokens": 900, "output_tokens": 300}
        bodies.write_text("".join(json.dumps({"who": w, **request}) + "\n" for w in stakers))
        redis_server = start_redis(work)
        redis_url = redis_server.url
        try:
            import redis

            client = redis.Redis.from_url(redis_url)
            client.config_set("appendfsync", "everysec")
            client.close()
            for label, batch in (("one by one", "1"), ("batched", "64")):
                options: tuple[str, ...] = ("--redis-url", redis_url, "--authorize-batch", batch)
                options += ("--allow-wallet-authorize",)  # the load sends wallet addresses
                with sidecar(manifest, rpc, work / f"authorize-{batch}", *options) as base:
                    warm(base, stakers)
                    figures[f"POST /v1/authorize, {label}"] = load(
                        base, bodies, connections, seconds, "--post", "/v1/authorize",
                        "--expect", '"allowed":true',
                    )  # fmt: skip
        finally:
            redis_server.stop()
    load_after = os.getloadavg()

    table = Table(title=f"Sidecar, median of 3 rounds of {seconds:g} s ({connections} connections)")
    for column in ("requests", "per second", "p50 ms", "p99 ms", "bad answers", "target", "ok"):
        table.add_column(column, justify="left" if column == "requests" else "right")
    for name, f in figures.items():
        if name.startswith("GET"):
            ok = f["rps"] >= 1_500 and f["p99_ms"] <= 20 and f["errors"] == 0
            target = ">= 1,500/s, p99 <= 20"
        else:
            ok, target = f["errors"] == 0, "all allowed"
        table.add_row(
            name,
            f"{f['rps']:,.0f}",
            f"{f['p50_ms']:.2f}",
            f"{f['p99_ms']:.2f}",
            str(f["errors"]),
            target,
            "yes" if ok else "[red]NO[/red]",
        )
    console.print(table)
    for name, f in figures.items():
        console.print(f"{name}: {f['rounds']}")
    if authorize:
        one = figures["POST /v1/authorize, one by one"]["rps"]
        batched = figures["POST /v1/authorize, batched"]["rps"]
        console.print(f"authorize batched / one by one: {batched / one:.2f}x")
    console.print(machine_load(load_before, load_after))


def deployed(prefix: str) -> tuple[Suite, AccountAPI, Path, Path]:
    """The suite deployed on the connected chain by the first test account, and a new work
    directory (named ``prefix...``) holding its manifest."""
    logger.set_level("WARNING")
    config = load_config()
    deployer = accounts.test_accounts[0]
    suite = deploy_suite(deployer, config, {"treasury": "test:1"})
    work = Path(tempfile.mkdtemp(prefix=prefix))
    return suite, deployer, work, Path(write_manifest(suite, config, work))


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) used so far by process ``pid`` and its descendants alive
    now (Linux's /proc; 0.0 where it cannot be read)."""
    total = 0.0
    pending = [pid]
    tick = os.sysconf("SC_CLK_TCK")
    while pending:
        p = pending.pop()
        try:
            stat = Path(f"/proc/{p}/stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{p}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError, IndexError):
            continue
    return total
