"""Benchmark of the sidecar: `ape run bench_sidecar [--seconds 5] [--connections 16]`.

Deploys the suite on a local Anvil, starts `venice-sdk serve` against it (one uvicorn worker,
SQLite ledger), warms its cache with 200 wallets, then loads `GET /v1/entitlements/{address}`
from a separate process (`scripts/_lib/load.py`, keep-alive connections) and prints requests per
second and latency percentiles: median of 3 rounds. Target: >= 1,500 requests/s at p99 <= 20 ms
for cached entitlements on loopback.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import click
from ape import accounts, chain
from ape.cli import ConnectedProviderCommand
from ape.logging import logger
from eth_utils import to_checksum_address
from rich.console import Console
from rich.table import Table

from scripts._lib.config import PROJECT_ROOT, load_config
from scripts._lib.deploy import deploy_suite, write_manifest
from scripts.bench_ledger import free_port

console = Console(width=110)


@click.command(cls=ConnectedProviderCommand)
@click.option("--seconds", default=5.0, show_default=True, help="Seconds per round.")
@click.option("--connections", default=16, show_default=True, help="Keep-alive connections.")
def cli(seconds: float, connections: int) -> None:
    """Requests per second and p99 of the sidecar's cached entitlement reads."""
    logger.set_level("WARNING")
    config = load_config()
    suite = deploy_suite(accounts.test_accounts[0], config, {"treasury": "test:1"})
    work = Path(tempfile.mkdtemp(prefix="venice-sidecar-"))
    manifest = write_manifest(suite, config, work)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    rpc = str(chain.provider.http_uri)  # type: ignore[attr-defined]
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "venice_sdk.cli", "serve", "--manifest", str(manifest)),
            *("--rpc", rpc, "--port", str(port), "--data-dir", str(work), "--ttl", "3600"),
        ],
        cwd=PROJECT_ROOT,
    )
    try:
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                if time.time() > deadline or server.poll() is not None:
                    raise click.ClickException("the sidecar did not start") from None
                time.sleep(0.2)
        wallets = [to_checksum_address((0xA000 + i).to_bytes(20, "big")) for i in range(200)]
        paths = work / "paths.txt"
        paths.write_text("".join(f"/v1/entitlements/{w}\n" for w in wallets))
        for wallet in wallets:  # warm the cache
            urllib.request.urlopen(f"{base}/v1/entitlements/{wallet}", timeout=10).read()
        rounds = []
        for _ in range(3):
            out = subprocess.run(
                [
                    *(sys.executable, "-m", "scripts._lib.load", base, str(paths)),
                    *("--connections", str(connections), "--seconds", str(seconds)),
                ],
                cwd=PROJECT_ROOT,
                capture_output=True,
                text=True,
                check=True,
            )
            rounds.append(json.loads(out.stdout))
    finally:
        server.terminate()
        server.wait(timeout=10)

    rps = statistics.median(r["rps"] for r in rounds)
    p50 = statistics.median(r["p50_ms"] for r in rounds)
    p99 = statistics.median(r["p99_ms"] for r in rounds)
    errors = sum(r["errors"] for r in rounds)
    table = Table(title=f"Sidecar, cached GET /v1/entitlements ({connections} connections)")
    for column in ("measure", "value", "target", "ok"):
        table.add_column(column, justify="left" if column == "measure" else "right")
    rows = [
        ("requests/s (median of 3 rounds)", f"{rps:,.0f}", ">= 1,500", rps >= 1_500),
        ("p50 latency, ms", f"{p50:.2f}", "", True),
        ("p99 latency, ms", f"{p99:.2f}", "<= 20", p99 <= 20),
        ("non-200 answers", str(errors), "0", errors == 0),
    ]
    for measure, value, target, ok in rows:
        table.add_row(measure, value, target, "yes" if ok else "[red]NO[/red]")
    console.print(table)
    console.print(
        "rounds: " + "; ".join(f"{r['rps']:,.0f}/s p99 {r['p99_ms']:.1f} ms" for r in rounds)
    )
